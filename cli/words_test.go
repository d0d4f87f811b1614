package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/tiers"
)

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestHelpIsChinese: every command's help, cobra's words included, and
// every flag's description are Chinese.
func TestHelpIsChinese(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		code, out, errOut := run(t, "", append(path, "--help")...)
		require.Equal(t, 0, code, "%v: %s", path, errOut)
		require.Contains(t, out, "用法：", path)
		for _, english := range []string{"Usage:", "Flags:", "Global Flags:", "help for", "Available Commands", "Examples:", "(default", "for more information", "Aliases:"} {
			require.NotContains(t, out, english, "%v --help", path)
		}
		check := func(fl *pflag.Flag) {
			r := []rune(fl.Usage)
			require.True(t, hasHan(fl.Usage) && !unicode.IsLower(r[0]), // not an English word first
				"%s --%s: %q", c.CommandPath(), fl.Name, fl.Usage)
		}
		c.LocalFlags().VisitAll(check)
		c.InheritedFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := NewRootCmd(NewFactory(io.Discard, io.Discard))
	root.InitDefaultHelpCmd()
	walk(root)

	code, out, _ := run(t, "", "help", "app", "accept")
	require.Equal(t, 0, code)
	require.Contains(t, out, "示例：")
	require.Contains(t, out, "全局参数：")
	code, out, _ = run(t, "", "completion", "bash")
	require.Equal(t, 0, code)
	require.Contains(t, out, "bash completion", "the script itself is cobra's")
	err := root.FlagErrorFunc()(root, errors.New("unknown flag: --bogus"))
	require.EqualError(t, err, "未知的参数 --bogus")
}

// TestDemoHelpCountsItsNodes: demo --help says how many nodes it starts,
// and which.
func TestDemoHelpCountsItsNodes(t *testing.T) {
	code, out, _ := run(t, "", "demo", "--help")
	require.Equal(t, 0, code)
	require.Len(t, DemoUnits, 7)
	require.Contains(t, out, "七个节点")
	for _, u := range DemoUnits {
		require.Contains(t, out, u.Code+" "+u.Name)
	}
	require.NotContains(t, out, "一个示范县节点")
}

// TestNodeLogsCarryTheZone: a node's log times are Beijing time with the
// offset, as the command line prints, whatever the box's zone (a time in
// UTC is turned to +08:00; time.Local is left alone, which other tests'
// servers read).
func TestNodeLogsCarryTheZone(t *testing.T) {
	a := logOptions.ReplaceAttr(nil, slog.Time(slog.TimeKey, time.Date(2026, 11, 23, 1, 30, 0, 0, time.UTC)))
	require.Equal(t, "2026-11-23T09:30:00+08:00", a.Value.Time().Format(time.RFC3339))
	for _, format := range []string{"text", "json"} {
		var errOut bytes.Buffer
		f := NewFactory(io.Discard, &errOut)
		var cfg node.Config
		cmd := newNodeStartCmd(f, func(_ context.Context, o *NodeStartOptions) (err error) {
			cfg, err = o.config(f)
			return err
		})
		cmd.SetArgs([]string{"--insecure", "--unit", "330324", "--data", t.TempDir(), "--log-format", format})
		require.NoError(t, cmd.Execute())
		cfg.Logger.Info("node started")
		require.Regexp(t, `"?time"?[=:]"?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+08:00`, errOut.String(), format)
	}
}

// TestWordsOfAJoinedRejection: a composite application whose part is
// rejected reads 不予 once; the joining decision is the node's own, named
// 系统（节点 …）; a village's status has no doubled bracket.
func TestWordsOfAJoinedRejection(t *testing.T) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	start := func(unit string) *node.Node {
		n, err := node.Start(node.Config{Insecure: true, Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: t.TempDir(), Calendar: cal, NoSync: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		t.Cleanup(func() { n.Shutdown(context.Background()) })
		return n
	}
	county := start("330324")
	catalog, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	require.NoError(t, err)
	_, err = county.Apply(context.Background(), &pb.Command{NowMs: time.Now().UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: catalog}})
	require.NoError(t, err)
	url := county.URL()
	code, out, errOut := run(t, url, "app", "accept", "--matter", "YJS-002", "--applicant-name", "陈小梅", "--applicant-id", "330324199007214023",
		"--material", "出生一件事联办申请表", "--material", "父母双方居民身份证", "--material", "居民户口簿", "--material", "父母结婚证", "--material", "新生儿数码照片", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var res struct{ Application struct{ ID string } }
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	id := res.Application.ID
	for _, part := range []string{"WJ-003", "GA-001", "YB-001"} {
		code, _, errOut = run(t, url, "app", "decide", id, "--part", part, "--approve")
		require.Equal(t, 0, code, errOut)
	}
	code, _, errOut = run(t, url, "app", "decide", id, "--part", "RS-003", "--reject", "--reason", "未参保")
	require.Equal(t, 0, code, errOut)
	code, out, _ = run(t, url, "app", "show", id)
	require.Equal(t, 0, code)
	require.Contains(t, out, "决定：不予 ")
	require.NotContains(t, out, "不予 不予")
	require.NotContains(t, out, "不予（不予")
	require.Regexp(t, `系统（节点 [^）]+）\s+办结：不予（[^（]+：未参保）`, out, "the joined decision is the node's")
	require.NotRegexp(t, regexp.MustCompile(`\bsync\b|并联办理汇总`), out)

	village := start("330324101201")
	code, out, _ = run(t, village.URL(), "status")
	require.Equal(t, 0, code)
	require.Contains(t, out, "村（社区）")
	require.NotContains(t, out, "））")
}

// TestProvisionalDueDatesAreMarked: a due date counted on a provisional
// calendar year reads 暂定 on the receipt, in lists and in show.
func TestProvisionalDueDatesAreMarked(t *testing.T) {
	var b bytes.Buffer
	printReceipt(&b, &pb.Receipt{PromisedDue: "2026-12-28", StatutoryDue: "2027-01-12", StatutoryDueProvisional: true})
	require.Contains(t, b.String(), "承诺办结：2026-12-28  法定期限：2027-01-12（暂定）")
	a := &pb.Application{State: "accepted", Deadline: &pb.Deadline{PromisedDue: "2027-01-05", PromisedDaysLeft: 20, PromisedProvisional: true}}
	require.Equal(t, "剩 20 日（承诺 2027-01-05，暂定）", timeLeft(a))
	a.Deadline.PromisedProvisional = false
	require.Equal(t, "剩 20 日（承诺 2027-01-05）", timeLeft(a))
}
