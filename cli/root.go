// Package cli is the jiujin command line: cobra commands, one file per verb
// group. It is the only package that parses flags; everything else gets a
// validated Config.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/jiujin/jiujin/cli/client"
)

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	f := NewFactory(os.Stdout, os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, f, args)
}

// Execute runs the command line with a factory (tests give their own).
func Execute(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetOut(f.Out)
	root.SetErr(f.Err)
	if err := root.ExecuteContext(ctx); err != nil {
		printError(f.Err, err)
		return 1
	}
	return 0
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "jiujin",
		Short: "就近办：县乡村三级政务服务网络节点与客户端",
		Long: `jiujin（就近办）运行县、乡镇、村（社区）三级政务服务网络的节点，并驱动它们：
申请人在最近的窗口递交一次材料，由有权办理的单位办结，结果回到同一窗口领取或快递送达。`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.NodeURL, "node", envOr("JIUJIN_NODE", "http://127.0.0.1:8080"), "要连接的节点地址；县级集群写出各成员：URL1,URL2,URL3（环境变量 JIUJIN_NODE）")
	pf.StringVar(&f.CAFile, "ca", os.Getenv("JIUJIN_CA"), "所信任的本县 CA 证书 ca.crt，用于 https 节点地址（环境变量 JIUJIN_CA）")
	pf.StringVarP(&f.Output, "output", "o", "text", "输出格式：text（文字）或 json")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if f.Output != "text" && f.Output != "json" {
			return fmt.Errorf("--output: %q 应为 text 或 json", f.Output)
		}
		_, err := client.ParseNodeURLs(f.NodeURL)
		return err
	}
	root.AddCommand(
		newNodeCmd(f),
		newUnitCmd(f),
		newCatalogCmd(f),
		newDelegationCmd(f),
		newAppCmd(f),
		newStatusCmd(f),
		newStatsCmd(f),
		newClusterCmd(f),
		newCACmd(f),
		newUserCmd(f),
		newLoginCmd(f),
		newLogoutCmd(f),
		newAuditCmd(f),
		newDemoCmd(f),
		newBenchCmd(f),
	)
	refuseUnknownSubcommands(root)
	setupHelp(root)
	return root
}

// refuseUnknownSubcommands makes each command that only groups others
// (`app`, `catalog`, …) refuse a word that is none of them. Left alone,
// cobra prints the group's help and exits 0, and a mistyped
// `app withdrw ID` looks done to whoever runs it.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		if sub.HasSubCommands() && sub.Run == nil && sub.RunE == nil {
			sub.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return nil
				}
				s := fmt.Sprintf("未知的子命令 %q（见 %s --help）", args[0], cmd.CommandPath())
				if cmd.SuggestionsMinimumDistance <= 0 {
					cmd.SuggestionsMinimumDistance = 2 // as cobra does at the root
				}
				if sug := cmd.SuggestionsFor(args[0]); len(sug) > 0 {
					s += "；你是不是要用：" + strings.Join(sug, "、")
				}
				return errors.New(s)
			}
			sub.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
		refuseUnknownSubcommands(sub)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

var codeLabels = map[connect.Code]string{
	connect.CodeInvalidArgument:    "输入有误",
	connect.CodeNotFound:           "不存在",
	connect.CodeFailedPrecondition: "当前不允许",
	connect.CodeUnavailable:        "节点不可用",
	connect.CodeDeadlineExceeded:   "超时",
	connect.CodeInternal:           "节点内部错误",
	connect.CodeCanceled:           "已取消",
	connect.CodeResourceExhausted:  "超出限量",
	connect.CodeUnknown:            "未知错误",
	connect.CodeAlreadyExists:      "已存在",
	connect.CodePermissionDenied:   "无权操作",
	connect.CodeUnauthenticated:    "身份未验证",
	connect.CodeAborted:            "已中止",
	connect.CodeOutOfRange:         "超出范围",
	connect.CodeUnimplemented:      "节点不支持（版本较旧？）",
	connect.CodeDataLoss:           "数据损坏",
}

// cobraErrors put the command line's own complaints (cobra's and pflag's,
// in English) into words a window clerk reads.
var cobraErrors = []struct {
	re   *regexp.Regexp
	repl func(m []string) string
}{
	{regexp.MustCompile(`(?s)^unknown command "(.*?)" for "(.*?)"(.*)$`), func(m []string) string {
		s := fmt.Sprintf("未知的子命令 %q（见 %s --help）", m[1], m[2])
		if sug := strings.TrimSpace(strings.ReplaceAll(m[3], "Did you mean this?", "")); sug != "" {
			s += "；你是不是要用：" + strings.Join(strings.Fields(sug), "、")
		}
		return s
	}},
	{regexp.MustCompile(`^required flag\(s\) (.+) not set$`), func(m []string) string {
		var names []string
		for _, n := range strings.Split(m[1], ",") {
			names = append(names, "--"+strings.Trim(strings.TrimSpace(n), `"`))
		}
		return "缺少必填参数：" + strings.Join(names, "、")
	}},
	{regexp.MustCompile(`^accepts (\d+) arg\(s\), received (\d+)$`), func(m []string) string {
		return fmt.Sprintf("应给出 %s 个参数，实为 %s 个", m[1], m[2])
	}},
	{regexp.MustCompile(`^requires at least (\d+) arg\(s\), only received (\d+)$`), func(m []string) string {
		return fmt.Sprintf("至少应给出 %s 个参数，实为 %s 个", m[1], m[2])
	}},
	{regexp.MustCompile(`^accepts at most (\d+) arg\(s\), received (\d+)$`), func(m []string) string {
		return fmt.Sprintf("最多给出 %s 个参数，实为 %s 个", m[1], m[2])
	}},
	{regexp.MustCompile(`^accepts between (\d+) and (\d+) arg\(s\), received (\d+)$`), func(m []string) string {
		return fmt.Sprintf("应给出 %s 至 %s 个参数，实为 %s 个", m[1], m[2], m[3])
	}},
	{regexp.MustCompile(`^unknown flag: (.+)$`), func(m []string) string { return "未知的参数 " + m[1] }},
	{regexp.MustCompile(`^unknown shorthand flag: '(.)' in (.+)$`), func(m []string) string {
		return fmt.Sprintf("未知的参数 -%s（在 %s 中）", m[1], m[2])
	}},
	{regexp.MustCompile(`^flag needs an argument: (.+)$`), func(m []string) string { return fmt.Sprintf("参数 %s 需要一个值", m[1]) }},
	{regexp.MustCompile(`^invalid argument "(.*)" for "(.+?)" flag: (.+)$`), func(m []string) string {
		return fmt.Sprintf("参数 %s 的值 %q 无效（%s）", m[2], m[1], m[3])
	}},
}

// unreachable: the node could not be reached at all (not started, a wrong
// --node, no network).
var unreachable = regexp.MustCompile(`dial tcp|connection refused|no such host|network is unreachable|no route to host`)

// printError writes an error for a person: the connect code in words and
// the node's message (which names the field).
func printError(w io.Writer, err error) {
	var ce *connect.Error
	if errors.As(err, &ce) {
		label := codeLabels[ce.Code()]
		if label == "" {
			label = ce.Code().String()
		}
		msg := ce.Message()
		switch {
		case ce.Code() == connect.CodeUnavailable && strings.Contains(msg, "certificate signed by unknown authority"):
			msg = "节点的证书不是所信任的证书颁发机构签发的：请用 --ca（或环境变量 JIUJIN_CA）指定本县的 ca.crt（" + msg + "）"
		case ce.Code() == connect.CodeUnavailable && strings.Contains(msg, "x509: "):
			msg = "节点的证书无效：" + msg
		case ce.Code() == connect.CodeUnavailable && unreachable.MatchString(msg):
			msg = "连不上节点：请确认节点已启动、--node 地址无误，网络通畅（" + msg + "）"
		}
		fmt.Fprintf(w, "错误（%s，%s）：%s\n", label, ce.Code(), msg)
		return
	}
	fmt.Fprintf(w, "错误：%s\n", cobraMessage(err.Error()))
}
