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
	"syscall"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
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
		Long: `jiujin (就近) runs the nodes of a county-township-village government service
network and drives them: accept an application at the nearest window, have it
decided where the power lies, hand the result back at the same window.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.NodeURL, "node", envOr("JIUJIN_NODE", "http://127.0.0.1:8080"), "URL of the node to talk to; for a county group, its members: URL1,URL2,URL3 (env JIUJIN_NODE)")
	pf.StringVarP(&f.Output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&f.Actor, "actor", envOr("JIUJIN_ACTOR", envOr("USER", "")), "who is acting, recorded with every change (env JIUJIN_ACTOR)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if f.Output != "text" && f.Output != "json" {
			return fmt.Errorf("--output: %q 应为 text 或 json", f.Output)
		}
		_, err := parseNodeURLs(f.NodeURL)
		return err
	}
	root.AddCommand(
		newNodeCmd(f),
		newCatalogCmd(f),
		newDelegationCmd(f),
		newAppCmd(f),
		newStatusCmd(f),
		newStatsCmd(f),
		newClusterCmd(f),
		newDemoCmd(f),
		newBenchCmd(f),
	)
	return root
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
}

// printError writes an error for a person: the connect code in words and
// the node's message (which names the field).
func printError(w io.Writer, err error) {
	var ce *connect.Error
	if errors.As(err, &ce) {
		label := codeLabels[ce.Code()]
		if label == "" {
			label = ce.Code().String()
		}
		fmt.Fprintf(w, "错误（%s，%s）：%s\n", label, ce.Code(), ce.Message())
		return
	}
	fmt.Fprintf(w, "错误：%v\n", err)
}
