package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The help a window clerk reads is Chinese, cobra's own words included:
// the usage and help templates, the help command and flag, the completion
// command and the errors of flag parsing. The templates are set on the root
// command; every subcommand inherits them.

const usageTemplate = `用法：{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [命令]{{end}}{{if gt (len .Aliases) 0}}

别名：
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

示例：
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

命令：{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

参数：
{{flagUsages .LocalFlags | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

全局参数：
{{flagUsages .InheritedFlags | trimTrailingWhitespaces}}{{end}}{{if .HasHelpSubCommands}}

其他帮助主题：{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

用 "{{.CommandPath}} [命令] --help" 查看某个命令的详细说明。{{end}}
`

const helpTemplate = `{{with (or .Long .Short)}}{{. | trimTrailingWhitespaces}}

{{end}}{{if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}`

// flagTypeNames put pflag's type names into words.
var flagTypeNames = map[string]string{
	"string":      "文本",
	"stringArray": "文本",
	"stringSlice": "列表",
	"int":         "整数",
	"int64":       "整数",
	"uint":        "整数",
	"uint32":      "整数",
	"uint64":      "整数",
	"intSlice":    "整数列表",
	"float64":     "数值",
	"duration":    "时长",
}

// flagUsages lists flags as pflag's FlagUsages does, in Chinese: the kind
// of value, the default, and "可重复" for a flag given more than once.
func flagUsages(fs *pflag.FlagSet) string {
	type row struct{ head, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		head := "      --" + fl.Name
		if fl.Shorthand != "" && fl.ShorthandDeprecated == "" {
			head = "  -" + fl.Shorthand + ", --" + fl.Name
		}
		name, usage := pflag.UnquoteUsage(fl)
		if name == fl.Value.Type() {
			name = flagTypeNames[name]
			if name == "" && fl.Value.Type() != "bool" {
				name = "值"
			}
		}
		if name != "" {
			head += " " + name
		}
		switch fl.Value.Type() {
		case "stringArray", "stringSlice", "intSlice":
			if !strings.Contains(usage, "可重复") {
				usage += "（可重复）"
			}
		}
		switch d := fl.DefValue; {
		case d == "" || d == "false" || d == "0" || d == "[]" || d == "0s" || fl.Value.Type() == "bool" && d != "true":
		case fl.Value.Type() == "string":
			usage += fmt.Sprintf("（默认 %q）", d)
		default:
			usage += fmt.Sprintf("（默认 %s）", d)
		}
		if fl.Deprecated != "" {
			usage += "（已弃用：" + fl.Deprecated + "）"
		}
		width = max(width, len(head))
		rows = append(rows, row{head, usage})
	})
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.head + strings.Repeat(" ", width-len(r.head)+3) + r.usage + "\n")
	}
	return b.String()
}

// setupHelp gives the command tree its Chinese help.
func setupHelp(root *cobra.Command) {
	cobra.AddTemplateFunc("flagUsages", flagUsages)
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate(helpTemplate)
	root.PersistentFlags().BoolP("help", "h", false, "显示本命令的帮助")
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [命令]",
		Short: "显示任一命令的帮助",
		Long:  "显示任一命令的帮助，例如：jiujin help app accept（与 jiujin app accept --help 相同）。",
		Example: `  jiujin help
  jiujin help app accept`,
		Run: func(c *cobra.Command, args []string) {
			cmd, _, err := c.Root().Find(args)
			if cmd == nil || err != nil {
				c.PrintErrf("没有这个命令：%s（见 jiujin --help）\n", strings.Join(args, " "))
				return
			}
			cobra.CheckErr(cmd.Help())
		},
	})
	root.AddCommand(newCompletionCmd())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return errors.New(cobraMessage(err.Error()))
	})
}

// newCompletionCmd writes the shell completion scripts (cobra's own, under
// a Chinese description).
func newCompletionCmd() *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "生成命令行自动补全脚本（bash、zsh、fish、powershell）",
		Long: `生成所用 shell 的自动补全脚本，写到标准输出。装好后按 Tab 键补全命令和参数名。
  bash：   jiujin completion bash > /etc/bash_completion.d/jiujin   （需安装 bash-completion）
  zsh：    jiujin completion zsh > "${fpath[1]}/_jiujin"
  fish：   jiujin completion fish > ~/.config/fish/completions/jiujin.fish
  powershell：jiujin completion powershell | Out-String | Invoke-Expression
装好后新开一个终端生效。`,
		Example:   "  jiujin completion bash",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, !noDesc)
			case "zsh":
				if noDesc {
					return root.GenZshCompletionNoDesc(out)
				}
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, !noDesc)
			case "powershell":
				if noDesc {
					return root.GenPowerShellCompletion(out)
				}
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return fmt.Errorf("不支持的 shell %q：应为 bash、zsh、fish 或 powershell", args[0])
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "补全时不显示各项的说明")
	return cmd
}

// cobraMessage puts a complaint of cobra's or pflag's into Chinese (see
// cobraErrors); one it does not know stays as it is.
func cobraMessage(msg string) string {
	for _, ce := range cobraErrors {
		if m := ce.re.FindStringSubmatch(msg); m != nil {
			return ce.repl(m)
		}
	}
	return msg
}
