package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/tiers"
)

// skipExamples are the commands whose examples TestEveryHelpExampleRuns
// does not run, and why.
var skipExamples = map[string]string{
	"jiujin node start":     "starts a node that runs until it is stopped (node start is tested by TestNodeStart*)",
	"jiujin demo":           "starts the seven demo nodes and runs until Ctrl-C (TestDemoThroughTheCommandLine)",
	"jiujin login":          "asks for a password at a terminal, or reads it from a shell pipe, on a node with accounts (TestDemoThroughTheCommandLine logs in)",
	"jiujin cluster remove": "needs a county raft group (TestClusterStatusListsEachMembersVersion starts one)",
	"jiujin ca revoke":      "records the revocation at a county node with certificates of that CA; the test's nodes are insecure (node's revocation tests cover it)",
}

// skipExampleLines are single example lines not run, and why.
var skipExampleLines = map[string]string{
	"jiujin user add --login liming --name 李明 --unit 330324 --role approver --department GA": "asks for the initial password at a terminal",
}

// An example as written in the help, and the line run.
type example struct {
	cmd  string // command path
	line string // as written, continuations joined
}

// helpExamples collects every example line of every command.
func helpExamples(c *cobra.Command) []example {
	var out []example
	if c.Example != "" {
		text := strings.ReplaceAll(c.Example, "\\\n", " ")
		for _, l := range strings.Split(text, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, example{c.CommandPath(), l})
			}
		}
	}
	for _, sub := range c.Commands() {
		out = append(out, helpExamples(sub)...)
	}
	return out
}

// shellWords splits an example line as a shell would: words, '…' and "…"
// quotes, a # comment after a space.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	quote, word := rune(0), false
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, word = r, true
		case r == '#' && !word:
			return words
		case r == ' ' || r == '\t':
			if word {
				words, word = append(words, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
			word = true
		}
	}
	if word {
		words = append(words, cur.String())
	}
	return words
}

var (
	exampleAppID  = regexp.MustCompile(`^\d{6}(\d{3}){0,2}-\d{8}-\d{6}$`)
	exampleSerial = "5f3a…"
)

// TestEveryHelpExampleRuns runs every line of every command's Example
// against real nodes: an insecure county node with the seed catalog, and a
// township (330324102 青山乡) syncing from it. Lines are run in the order
// of the command tree, so an example may use what an earlier one made (ca
// issue uses the CA of ca init; node restore the backup of node backup).
// What the test substitutes, and nothing else:
//   - --node URL: the township node for http://township:8080, the county
//     node for any other (and --node is added to a line without one: the
//     township for app forward, the county for the others);
//   - an application id (330324-20261122-000001): one prepared by the test
//     in the state the command needs (see prepare below), one per command
//     and id;
//   - a path: an absolute path, or one beginning with ./, moves under the
//     test's temporary directory (/var/lib/jiujin is a stopped village
//     node's data directory there); deploy/… is the repository's;
//   - the serial 5f3a… of ca revoke: the serial ca issue gave; a
//     delegation id (D-000001): the newest delegation in force;
//   - printf '%s\n' "$PASSWORD" | jiujin …: the demo password on standard
//     input.
//
// A line that fails is reported with its output; one that depends on
// replication (delegation order at the township) is retried for 10 s.
func TestEveryHelpExampleRuns(t *testing.T) {
	t.Setenv("JIUJIN_CREDENTIALS", filepath.Join(t.TempDir(), "none"))
	t.Setenv("JIUJIN_TOKEN", "")
	t.Setenv("JIUJIN_NODE", "")
	t.Setenv("JIUJIN_CA", "")
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tmp := t.TempDir()
	start := func(unit, dir string, parents ...string) *node.Node {
		n, err := node.Start(node.Config{Insecure: true, Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: dir,
			Calendar: cal, Logger: quiet, Parents: parents})
		require.NoError(t, err)
		return n
	}
	// The offline data directory of node backup's second example.
	village := start("330324101201", filepath.Join(tmp, "var/lib/jiujin"))
	village.Shutdown(context.Background())
	county := start("330324", filepath.Join(tmp, "county"))
	t.Cleanup(func() { county.Shutdown(context.Background()) })
	catalog, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	require.NoError(t, err)
	_, err = county.Apply(context.Background(), &pb.Command{NowMs: time.Now().UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: catalog}})
	require.NoError(t, err)
	township := start("330324102", filepath.Join(tmp, "township"), county.URL())
	t.Cleanup(func() { township.Shutdown(context.Background()) })

	cli := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, county.URL(), args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
		return out
	}
	accept := func(matter string, materials ...string) string {
		t.Helper()
		args := []string{"app", "accept", "--matter", matter, "--applicant-name", "赵桂兰", "--applicant-id", "33032419490817242X", "-o", "json"}
		for _, m := range materials {
			args = append(args, "--material", m)
		}
		var res struct {
			Application struct{ ID string } `json:"application"`
		}
		require.NoError(t, json.Unmarshal([]byte(cli(args...)), &res))
		return res.Application.ID
	}
	elder := func() string { return accept("MZ-005", "居民身份证", "近期一寸免冠证件照") }
	decided := func() string {
		id := elder()
		cli("app", "decide", id, "--approve", "--reason", "符合条件")
		return id
	}
	delivered := func() string {
		id := decided()
		cli("app", "deliver", id, "--by", "window")
		return id
	}
	// prepare makes the application an example's command needs.
	prepare := map[string]func() string{
		"jiujin app show":     elder,
		"jiujin app receipt":  elder,
		"jiujin app withdraw": elder,
		"jiujin app supplement": func() string {
			return accept("MZ-001", "最低生活保障申请书", "家庭成员居民身份证", "家庭成员居民户口簿", "家庭经济状况核对授权书", "家庭收入及财产状况申报表")
		},
		"jiujin app decide": elder,
		"jiujin app decide composite": func() string {
			return accept("YJS-002", "出生一件事联办申请表", "父母双方居民身份证", "居民户口簿", "父母结婚证", "新生儿数码照片")
		},
		"jiujin app deliver": decided,
		"jiujin app rate":    delivered,
		"jiujin app followup": func() string {
			id := delivered()
			cli("app", "rate", id, "--score", "2", "--comment", "等候时间太长")
			return id
		},
	}
	// app forward: MZ-005 devolved to the township, accepted there, the
	// devolution revoked; the township hands the application back to the
	// county (the example runs at the township).
	prepare["jiujin app forward"] = func() string {
		var g struct{ Delegation struct{ ID string } }
		require.NoError(t, json.Unmarshal([]byte(cli("delegation", "grant", "--matter", "MZ-005", "--to", "330324102", "--mode", "devolve", "-o", "json")), &g))
		at := func(want string, args ...string) string {
			var out string
			require.Eventually(t, func() bool {
				var code int
				code, out, _ = run(t, township.URL(), args...)
				return code == 0 && strings.Contains(out, want)
			}, 10*time.Second, 100*time.Millisecond, "%v at the township", args)
			return out
		}
		at(g.Delegation.ID, "delegation", "list")
		var res struct{ Application struct{ ID string } }
		require.NoError(t, json.Unmarshal([]byte(at("", "app", "accept", "--matter", "MZ-005", "--applicant-name", "赵桂兰",
			"--applicant-id", "33032419490817242X", "--material", "居民身份证", "--material", "近期一寸免冠证件照", "-o", "json")), &res))
		cli("delegation", "revoke", g.Delegation.ID, "--reason", "乡镇人员调整")
		require.Eventually(t, func() bool {
			_, out, _ := run(t, township.URL(), "delegation", "list")
			return !strings.Contains(out, g.Delegation.ID)
		}, 10*time.Second, 100*time.Millisecond, "the revocation reaches the township")
		return res.Application.ID
	}
	ids := map[string]string{}
	// The demo county's unit names, where this release has them.
	if _, err := os.Stat("../deploy/seed/units.yaml"); err == nil {
		if code, _, errOut := run(t, county.URL(), "unit", "import", "../deploy/seed/units.yaml", "--yes"); code != 0 {
			t.Logf("unit import: %s", errOut)
		}
	}
	serial := ""

	examples := helpExamples(NewRootCmd(NewFactory(io.Discard, io.Discard)))
	// user bootstrap sets up the first account, so it runs first.
	sort.SliceStable(examples, func(i, j int) bool {
		return examples[i].cmd == "jiujin user bootstrap" && examples[j].cmd != "jiujin user bootstrap"
	})
	require.NotEmpty(t, examples)
	var failed []string
	for _, ex := range examples {
		why, ok := skipExamples[ex.cmd]
		if !ok {
			why, ok = skipExampleLines[ex.line]
		}
		if ok {
			t.Logf("跳过 %s（%s）：%s", ex.line, ex.cmd, why)
			continue
		}
		// printf '%s\n' "$PASSWORD" | jiujin …: the password on standard input.
		stdin, line := "", ex.line
		if pipe, rest, ok := strings.Cut(line, "| jiujin "); ok && strings.Contains(pipe, "$PASSWORD") {
			stdin, line = DemoPassword+"\n", "jiujin "+rest
		}
		words := shellWords(line)
		require.Equal(t, "jiujin", words[0], ex.line)
		args := words[1:]
		nodeURL := county.URL()
		if ex.cmd == "jiujin app forward" {
			nodeURL = township.URL()
		}
		for i, w := range args {
			switch {
			case i > 0 && args[i-1] == "--node":
				if w == "http://township:8080" {
					nodeURL = township.URL()
				}
				args[i] = nodeURL
			case exampleAppID.MatchString(w):
				key := ex.cmd
				if strings.Contains(ex.line, "--part") {
					key += " composite"
				}
				if ids[key+w] == "" || key != "jiujin app supplement" { // its second line supplies what the first asked
					p := prepare[key]
					if p == nil {
						p = elder // any accepted application
					}
					ids[key+w] = p()
				}
				args[i] = ids[key+w]
			case strings.HasPrefix(w, "/") || strings.HasPrefix(w, "./"):
				args[i] = filepath.Join(tmp, w)
				require.NoError(t, os.MkdirAll(filepath.Dir(args[i]), 0o700))
			case strings.HasPrefix(w, "deploy/"):
				args[i] = filepath.Join("..", w)
			case w == exampleSerial:
				args[i] = serial
			case regexp.MustCompile(`^D-\d{6}$`).MatchString(w):
				ds := regexp.MustCompile(`"id":\s*"(D-\d{6})"`).FindAllStringSubmatch(cli("delegation", "list", "-o", "json"), -1)
				require.NotEmpty(t, ds, "a delegation in force for %q", ex.line)
				args[i] = ds[len(ds)-1][1]
			}
		}
		if !strings.Contains(ex.line, "--node") {
			args = append([]string{"--node", nodeURL}, args...)
		}
		code, out, errOut := runIn(t, stdin, "", args...)
		if code != 0 && strings.Contains(ex.line, "delegation order") {
			require.Eventually(t, func() bool { code, out, errOut = runIn(t, stdin, "", args...); return code == 0 }, 10*time.Second, 200*time.Millisecond)
		}
		if code != 0 {
			failed = append(failed, ex.line+"\n    "+strings.TrimSpace(errOut))
			continue
		}
		if ex.cmd == "jiujin ca issue" && serial == "" {
			serial = issuedSerial(t, filepath.Join(tmp, "media/usb/jiujin-ca"))
		}
		_ = out
	}
	require.Empty(t, failed, "help examples that fail:\n  %s", strings.Join(failed, "\n  "))
}

// issuedSerial is the serial of the newest certificate ca list shows.
func issuedSerial(t *testing.T, dir string) string {
	code, out, errOut := run(t, "", "ca", "list", "--dir", dir, "-o", "json")
	require.Equal(t, 0, code, errOut)
	m := regexp.MustCompile(`"serial":\s*"([0-9a-f]+)"`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, m, out)
	return m[len(m)-1][1]
}
