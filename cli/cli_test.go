package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/internal/freeport"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rules"
)

// run executes the command line in-process and returns exit code, stdout
// and stderr.
func run(t *testing.T, nodeURL string, args ...string) (int, string, string) {
	t.Helper()
	return runIn(t, "", nodeURL, args...)
}

// runIn is run with stdin as standard input.
func runIn(t *testing.T, stdin, nodeURL string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := NewFactory(&out, &errOut)
	f.In = strings.NewReader(stdin)
	if nodeURL != "" {
		args = append([]string{"--node", nodeURL}, args...)
	}
	code := Execute(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// TestFlagsAreCheckedBeforeAnyCall: wrong flags fail with the flag named,
// without a node to talk to.
func TestFlagsAreCheckedBeforeAnyCall(t *testing.T) {
	const noNode = "http://127.0.0.1:1"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad output", []string{"-o", "yaml", "status"}, "--output"},
		{"login needs a user", []string{"login", "--password-stdin"}, "--user"},
		{"login, one second factor", []string{"login", "--user", "a", "--otp", "1", "--otp-secret-file", "f"}, "--otp-secret-file"},
		{"login, no password given", []string{"login", "--user", "a", "--password-stdin"}, "标准输入中没有口令"},
		{"login not at a terminal", []string{"login", "--user", "a"}, "--password-stdin"},
		{"user add needs a role", []string{"user", "add", "--login", "a", "--name", "b", "--unit", "330324"}, "--role"},
		{"user roles needs a role", []string{"user", "roles", "a"}, "--role"},
		{"user disable needs a login", []string{"user", "disable"}, "应给出 1 个参数"},
		{"revoke needs the CA", []string{"ca", "revoke", "--serial", "1", "--reason", "r"}, "--dir"},
		{"revoke needs a reason", []string{"ca", "revoke", "--dir", "x", "--serial", "1"}, "--reason"},
		{"decide needs a verdict", []string{"app", "decide", "X"}, "--approve / --reject"},
		{"decide needs one verdict", []string{"app", "decide", "X", "--approve", "--reject"}, "--approve / --reject"},
		{"rate range", []string{"app", "rate", "X", "--score", "9"}, "--score"},
		{"rate required", []string{"app", "rate", "X"}, "score"},
		{"supplement needs material", []string{"app", "supplement", "X", "--request", "--reason", "r"}, "--material"},
		{"request needs reason", []string{"app", "supplement", "X", "--request", "--material", "m"}, "--reason"},
		{"reason only with request", []string{"app", "supplement", "X", "--material", "m", "--reason", "r"}, "--reason"},
		{"reveal needs reason", []string{"app", "show", "X", "--reveal"}, "--reason"},
		{"accept needs matter", []string{"app", "accept", "--applicant-name", "a", "--applicant-id", "b"}, "matter"},
		{"withdraw needs reason", []string{"app", "withdraw", "X"}, "reason"},
		{"import needs file or seed", []string{"catalog", "import"}, "--seed"},
		{"import not both", []string{"catalog", "import", "a.yaml", "--seed"}, "--seed"},
		{"show needs code", []string{"catalog", "show"}, "应给出 1 个参数，实为 0 个"},
		{"negative max visits", []string{"catalog", "list", "--max-visits", "-1"}, "--max-visits"},
		{"start needs a unit", []string{"node", "start", "--data", "/tmp/x"}, "--unit"},
		{"start needs a good unit", []string{"node", "start", "--unit", "3303241", "--data", "/tmp/x"}, "长度"},
		{"start needs data", []string{"node", "start", "--unit", "330324"}, "--data"},
		{"raft: not both", []string{"node", "start", "--unit", "330324", "--data", "/tmp/x", "--raft-listen", "127.0.0.1:0", "--bootstrap", "--join", "http://a"}, "--bootstrap / --join"},
		{"join needs raft", []string{"node", "start", "--unit", "330324", "--data", "/tmp/x", "--join", "http://a"}, "--raft-listen"},
		{"start needs a certificate", []string{"node", "start", "--unit", "330324", "--data", "/tmp/x"}, "--tls-dir: 请指定本节点的证书目录"},
		{"certificate or insecure, not both", []string{"node", "start", "--unit", "330324", "--data", "/tmp/x", "--tls-dir", "/tmp/x", "--insecure"}, "--insecure: 已指定 --tls-dir"},
		{"the certificate directory must hold one", []string{"node", "start", "--unit", "330324", "--data", "/tmp/x", "--tls-dir", "/nonexistent/tls"}, "--tls-dir: open /nonexistent/tls/ca.crt"},
		{"insecure on loopback only", []string{"node", "start", "--insecure", "--unit", "330324", "--data", "/tmp/x", "--listen", "0.0.0.0:8080"}, "--insecure 只能监听本机回环地址"},
		{"cluster status of a lone node", []string{"cluster", "remove"}, "应给出 1 个参数，实为 0 个"},
		{"a mistyped verb", []string{"app", "withdrw", "X"}, `未知的子命令 "withdrw"（见 jiujin app --help）；你是不是要用：withdraw`},
		{"a mistyped command", []string{"stauts"}, `未知的子命令 "stauts"`},
		{"no node there", []string{"status"}, "连不上节点"},
		{"a mistyped verb, two levels down", []string{"delegation", "revok", "D-000001"}, "你是不是要用：revoke"},
		{"required flags named", []string{"app", "accept", "--matter", "MZ-005"}, "缺少必填参数：--applicant-id、--applicant-name"},
		{"unknown flag", []string{"status", "--bogus"}, "未知的参数 --bogus"},
		{"bad number", []string{"app", "list", "--limit", "x"}, "参数 --limit 的值"},
		{"classes: --name needs --set", []string{"delegation", "classes", "--name", "山区型"}, "--name: 只能与 --set"},
		{"order needs a matter", []string{"delegation", "order", "--matters", ""}, "--matters: 至少列出一项"},
		{"import file must be there", []string{"catalog", "import", "/nonexistent/catalog.yaml"}, "无法读取事项清单文件"},
		{"profile where it can be written", []string{"node", "start", "--insecure", "--unit", "330324", "--data", "/tmp/x", "--cpuprofile", "/nonexistent/dir/cpu.prof"}, "cpu profile"},
		{"bench members are URLs", []string{"bench", "county", "--members", "http://127.0.0.1:1,10.0.0.2:8080"}, "--members"},
		{"bench kills no outside member", []string{"bench", "county", "--members", "http://127.0.0.1:1", "--kills", "3"}, "--kills"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, noNode, tt.args...)
			require.Equal(t, 1, code)
			require.Contains(t, stderr, tt.want)
			require.True(t, strings.HasPrefix(stderr, "错误"), stderr)
		})
	}
}

func TestNodeStartReadsConfigFileUnderFlags(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "node.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("unit: \"330324101\"\nlisten: 127.0.0.1:9999\ndata: /srv/jiujin\nparent: http://county:8080\n"), 0o644))
	var got *NodeStartOptions
	cmd := newNodeStartCmd(NewFactory(&bytes.Buffer{}, &bytes.Buffer{}), func(_ context.Context, o *NodeStartOptions) error {
		got = o
		return nil
	})
	cmd.SetArgs([]string{"--config", cfgPath, "--listen", "127.0.0.1:0"})
	require.NoError(t, cmd.Execute())
	require.Equal(t, "330324101", got.Unit)
	require.Equal(t, "127.0.0.1:0", got.Listen, "a flag on the command line wins")
	require.Equal(t, "/srv/jiujin", got.Data)
	require.Equal(t, "http://county:8080", got.Parent)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("unit: \"330324\"\nlisen: x\n"), 0o644))
	code, _, stderr := run(t, "", "node", "start", "--config", bad)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "lisen")
}

// TestNodeStartMemoryLimit: a small box's node is bounded by default, a
// county group member is not unless asked, by flag or file.
func TestNodeStartMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "") // it would win over the flag, and silence the warning
	dir := t.TempDir()
	withLimit := filepath.Join(dir, "limit.yaml")
	require.NoError(t, os.WriteFile(withLimit, []byte("memory_limit_mib: 128\nraft_listen: 127.0.0.1:0\n"), 0o644))
	noLimit := filepath.Join(dir, "none.yaml")
	require.NoError(t, os.WriteFile(noLimit, []byte("memory_limit_mib: 0\n"), 0o644))
	noKey := filepath.Join(dir, "nokey.yaml")
	require.NoError(t, os.WriteFile(noKey, []byte("log_format: json\n"), 0o644))
	member := []string{"--unit", "330324", "--data", "/tmp/x", "--raft-listen", "127.0.0.1:0"}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"village", []string{"--unit", "330324101201", "--data", "/tmp/x"}, 96},
		{"lone county", []string{"--unit", "330324", "--data", "/tmp/x"}, 96},
		{"group member", member, 0},
		{"group member asks by flag", append(append([]string{}, member...), "--memory-limit", "200"), 200},
		{"group member asks in its file", []string{"--unit", "330324", "--data", "/tmp/x", "--config", withLimit}, 128},
		{"the flag wins over the file", []string{"--unit", "330324", "--data", "/tmp/x", "--config", withLimit, "--memory-limit", "0"}, 0},
		{"a small box's file says none", []string{"--unit", "330324101201", "--data", "/tmp/x", "--config", noLimit}, 0},
		{"a file without the key keeps the default", []string{"--unit", "330324101201", "--data", "/tmp/x", "--config", noKey}, 96},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *NodeStartOptions
			cmd := newNodeStartCmd(NewFactory(&bytes.Buffer{}, &bytes.Buffer{}), func(_ context.Context, o *NodeStartOptions) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.args)
			require.NoError(t, cmd.Execute())
			require.Equal(t, tt.want, got.MemoryLimit)
			// A member asked for less than its store needs is warned.
			low := got.RaftListen != "" && tt.want > 0 && tt.want < memberMemoryFloor
			require.Equal(t, low, got.memoryWarning() != "", "warning for %d MiB", tt.want)
		})
	}
}

// TestDemoThroughTheCommandLine starts the demo county and drives it the
// way the README shows.
func TestDemoThroughTheCommandLine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	var caFile string
	go func() {
		done <- runDemo(ctx, NewFactory(&out, &errOut), &DemoOptions{Listen: "127.0.0.1:" + strconv.Itoa(freePortRun(t, 7)),
			ready: func(u, ca string) { caFile = ca; urls <- u }})
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("demo ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	require.Contains(t, out.String(), url)
	require.Contains(t, out.String(), "zhangli")
	require.True(t, strings.HasPrefix(url, "https://"), "the demo serves TLS")
	t.Setenv("JIUJIN_CA", caFile)
	code, _, stderr := run(t, url, "status", "--ca", "")
	require.NotZero(t, code)
	require.Contains(t, stderr, "--ca", "without the county CA the CLI says what to give")

	// Operators log in, each with a credentials file of their own; admin
	// and auditor with the second factor the demo keeps for them.
	creds, otp := t.TempDir(), filepath.Join(filepath.Dir(filepath.Dir(caFile)), "otp")
	as := func(user string) { t.Setenv("JIUJIN_CREDENTIALS", filepath.Join(creds, user)) }
	login := func(node, user string) {
		t.Helper()
		as(user)
		args := []string{"login", "--user", user, "--password-stdin"}
		if _, err := os.Stat(filepath.Join(otp, user)); err == nil {
			args = append(args, "--otp-secret-file", filepath.Join(otp, user))
		}
		code, stdout, stderr := runIn(t, DemoPassword+"\n", node, args...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "已登录")
		require.Regexp(t, `，(示范县|城关镇|城东社区)（\d+），角色`, stdout, "the unit by name")
	}
	as("nobody")
	code, _, stderr = run(t, url, "status")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "jiujin login", "without a session the CLI says to log in")
	code, _, stderr = runIn(t, "wrong-password-1\n", url, "login", "--user", "liufang", "--password-stdin")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "unauthenticated")
	login(url, "liufang")
	fi, err := os.Stat(filepath.Join(creds, "liufang"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// Status as JSON: every interesting state is seeded.
	code, stdout, stderr := run(t, url, "status", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var st struct {
		Unit    string `json:"unit"`
		ByState []struct {
			State string `json:"state"`
			Count string `json:"count"`
		} `json:"byState"`
		Overdue        string `json:"overdue"`
		CatalogVersion string `json:"catalogVersion"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	require.Equal(t, "330324", st.Unit)
	require.Equal(t, "1", st.CatalogVersion)
	require.NotEqual(t, "0", st.Overdue)
	seen := map[string]bool{}
	for _, s := range st.ByState {
		seen[s.State] = true
	}
	for _, s := range []string{rules.StateAccepted, rules.StateSupplementRequested, rules.StateSupplemented, rules.StateApproved,
		rules.StateDelivered, rules.StateRated, rules.StateWithdrawn} {
		require.True(t, seen[s], "demo has an application %s", s)
	}

	code, stdout, _ = run(t, url, "app", "list", "--overdue")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "已超期")
	require.Contains(t, stdout, "330324********1225", "identity numbers masked in lists")

	code, stdout, _ = run(t, url, "stats", "-o", "json")
	require.Equal(t, 0, code)
	for _, field := range []string{`"onTimeRate"`, `"oneTripShare"`, `"zeroVisitShare"`, `"averageWorkingDays"`, `"satisfaction"`, `"nearbyShare"`} {
		require.Contains(t, stdout, field)
	}
	code, stdout, _ = run(t, url, "stats")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "按时办结率")
	require.Regexp(t, `评价 \d+ 件，平均 [0-9.]+ 分：1分 \d+ 件，2分 \d+ 件，3分 \d+ 件，4分 \d+ 件，5分 \d+ 件`, stdout)
	require.Contains(t, stdout, "其中容缺材料逾期自动撤回")

	code, stdout, _ = run(t, url, "delegation", "list")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "D-000001  MZ-005  城关镇（330324101）")
	code, stdout, _ = run(t, url, "delegation", "route", "--matter", "老年证", "--at", "溪口村")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "办理单位：城关镇（330324101）（下放，D-000001）")
	require.Contains(t, stdout, "溪口村（330324101202） → 城关镇（330324101）")
	code, _, stderr = run(t, url, "delegation", "route", "--matter", "MZ-005", "--at", "青山")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "accepting_unit")
	require.Contains(t, stderr, "青山乡（330324102）、青山村（330324102201）", "an ambiguous name, with the candidates")
	code, stdout, _ = run(t, url, "unit", "list")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "330324101201  城东社区")
	code, stdout, _ = run(t, url, "catalog", "list", "--query", "低保")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "MZ-001")
	code, stdout, _ = run(t, url, "catalog", "show", "YJS-002")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "出生医学证明首次签发（WJ-003）", "parts by name")

	code, stdout, _ = run(t, url, "delegation", "classes")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "mountain 山区农业型")
	code, stdout, _ = run(t, url, "delegation", "menu", "mountain")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "NY-001 农村宅基地申请审批")
	code, stdout, _ = run(t, url, "delegation", "negative")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "ZR-005：村（社区）不予受理")
	code, _, stderr = run(t, url, "delegation", "negative", "--set", "ZR-005")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--set")
	eventuallyOut(t, func() string { _, out, _ := run(t, url, "delegation", "classes"); return out }, "点单 330324102")

	code, stdout, _ = run(t, url, "catalog", "show", "SJ-001")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "可容缺")

	// Accept at the window, then walk it to the end.
	id := rules.MakeIDNumber("33032419490817242")
	code, stdout, stderr = run(t, url, "app", "accept", "--matter", "MZ-005", "--applicant-name", "赵桂兰",
		"--applicant-id", id, "--material", "居民身份证", "--material", "近期一寸免冠证件照", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var acc struct {
		Application struct {
			ID string `json:"id"`
		} `json:"application"`
		Receipt struct {
			ApplicantIDNumber string `json:"applicantIdNumber"`
			PromisedDue       string `json:"promisedDue"`
		} `json:"receipt"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &acc))
	appID := acc.Application.ID
	require.NotEmpty(t, appID)
	require.Equal(t, "330324********242X", acc.Receipt.ApplicantIDNumber)
	require.NotEmpty(t, acc.Receipt.PromisedDue)
	code, stdout, _ = run(t, url, "app", "receipt", appID)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "受理单位：示范县（330324）")
	require.Contains(t, stdout, "咨询电话：0570-6012345")
	require.Regexp(t, `校验码：[0-9A-F]{4}-[0-9A-F]{4}`, stdout)
	code, stdout, _ = run(t, url, "app", "list", "--applicant", id)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, appID, "found by identity number")
	require.NotContains(t, stdout, "王秀英", "only hers")

	code, _, stderr = run(t, url, "app", "decide", appID, "--approve", "--reason", "符合条件")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "permission_denied", "a window worker does not decide")
	login(url, "zhouhong") // 县民政局
	code, _, stderr = run(t, url, "app", "decide", appID, "--approve", "--reason", "符合条件")
	require.Equal(t, 0, code, stderr)
	as("liufang")
	for _, args := range [][]string{
		{"app", "deliver", appID, "--by", "window"},
		{"app", "rate", appID, "--score", "5"},
	} {
		code, _, stderr = run(t, url, args...)
		require.Equal(t, 0, code, "%v: %s", args, stderr)
	}
	code, stdout, _ = run(t, url, "app", "show", appID)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "已评价")
	require.Contains(t, stdout, "刘芳")
	require.Contains(t, stdout, "周红")
	require.NotContains(t, stdout, id)
	code, _, stderr = run(t, url, "app", "show", appID, "--reveal", "--reason", "核对身份")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "permission_denied", "only an auditor reveals")

	login(url, "auditor")
	code, stdout, _ = run(t, url, "app", "show", appID, "--reveal", "--reason", "核对身份")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, id)
	require.Contains(t, stdout, "查看完整身份证号（核对身份）")
	code, stdout, stderr = run(t, url, "audit", "list")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"陈静（auditor）", "登录失败", "查看完整身份证号", "设立账户 zhangli"} {
		require.Contains(t, stdout, want)
	}
	code, _, _ = run(t, url, "logout")
	require.Equal(t, 0, code)
	code, _, stderr = run(t, url, "audit", "list")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "jiujin login")
	as("liufang")

	// Errors: non-zero exit, the connect code and the field on stderr.
	code, _, stderr = run(t, url, "app", "accept", "--matter", "MZ-005", "--applicant-name", "赵桂兰",
		"--applicant-id", id[:17]+"0", "--material", "居民身份证", "--material", "近期一寸免冠证件照")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "invalid_argument")
	require.Contains(t, stderr, "applicant.id_number")
	code, _, stderr = run(t, url, "app", "deliver", appID, "--by", "window")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "failed_precondition")
	code, _, stderr = run(t, url, "catalog", "show", "GA-999")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "not_found")

	// The network: a village window holds its own applications, and its
	// link to the township is up.
	village := strings.Replace(url, portOf(url), strconv.Itoa(mustAtoi(portOf(url))+3), 1)
	login(village, "zhangli")
	code, stdout, _ = run(t, village, "app", "list")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "330324101201-")
	require.Contains(t, stdout, "已评价")
	code, stdout, _ = run(t, village, "status")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "上行（推送）：连通")
	require.Contains(t, stdout, "下行（拉取）：连通")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop")
	}
}

func portOf(url string) string { return url[strings.LastIndex(url, ":")+1:] }

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// freePortRun finds n consecutive free ports and returns the first.
func freePortRun(t *testing.T, n int) int {
	base, err := freeport.Run(n)
	require.NoError(t, err)
	return base
}

// eventuallyOut waits until a command's output contains want.
func eventuallyOut(t *testing.T, out func() string, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(out(), want) }, 10*time.Second, 20*time.Millisecond, "want %q", want)
}

// TestNodeStartValueLogGarbage: a member's limit of value-log garbage, by
// default, flag or file, in bytes for the node; -1 for never; nonsense
// refused, naming the flag.
func TestNodeStartValueLogGarbage(t *testing.T) {
	dir := t.TempDir()
	withLimit := filepath.Join(dir, "garbage.yaml")
	require.NoError(t, os.WriteFile(withLimit, []byte("value_log_garbage_mib: 256\n"), 0o644))
	zeroInFile := filepath.Join(dir, "zero.yaml")
	require.NoError(t, os.WriteFile(zeroInFile, []byte("value_log_garbage_mib: 0\n"), 0o644))
	member := []string{"--insecure", "--unit", "330324", "--data", "/tmp/x", "--raft-listen", "127.0.0.1:8300", "--bootstrap"}
	tests := []struct {
		name string
		args []string
		want int64
		err  string
	}{
		{"default", member, cluster.DefaultValueLogGarbage, ""},
		{"by flag", append(append([]string{}, member...), "--value-log-garbage", "64"), 64 << 20, ""},
		{"in the file", append(append([]string{}, member...), "--config", withLimit), 256 << 20, ""},
		{"the flag wins over the file", append(append([]string{}, member...), "--config", withLimit, "--value-log-garbage", "-1"), -1, ""},
		{"never", append(append([]string{}, member...), "--value-log-garbage", "-1"), -1, ""},
		{"zero", append(append([]string{}, member...), "--value-log-garbage", "0"), 0, "--value-log-garbage"},
		{"negative", append(append([]string{}, member...), "--value-log-garbage", "-5"), 0, "--value-log-garbage"},
		{"zero in the file", append(append([]string{}, member...), "--config", zeroInFile), 0, "--value-log-garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFactory(&bytes.Buffer{}, &bytes.Buffer{})
			var cfg node.Config
			var cerr error
			cmd := newNodeStartCmd(f, func(_ context.Context, o *NodeStartOptions) error {
				cfg, cerr = o.config(f)
				return nil
			})
			cmd.SetArgs(tt.args)
			require.NoError(t, cmd.Execute())
			if tt.err != "" {
				require.ErrorContains(t, cerr, tt.err)
				return
			}
			require.NoError(t, cerr)
			require.Equal(t, tt.want, cfg.Raft.ValueLogGarbage)
		})
	}
}

// TestEncryptionKeyFileIsChecked: the key file must be its owner's only and
// exactly 32 bytes, and the flag is named when it is not.
func TestEncryptionKeyFileIsChecked(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	require.NoError(t, os.WriteFile(open, bytes.Repeat([]byte{1}, 32), 0o644))
	require.NoError(t, os.Chmod(open, 0o644)) // whatever umask an earlier start set
	short := filepath.Join(dir, "short.key")
	require.NoError(t, os.WriteFile(short, []byte("short"), 0o600))
	for file, want := range map[string]string{open: "0600", short: "32 字节", filepath.Join(dir, "none"): "no such file"} {
		for _, args := range [][]string{
			{"node", "start", "--insecure", "--unit", "330324", "--data", filepath.Join(dir, "d"), "--encryption-key-file", file},
			{"node", "verify", "--unit", "330324", "--data", filepath.Join(dir, "d"), "--encryption-key-file", file},
		} {
			code, _, stderr := run(t, "", args...)
			require.NotZero(t, code)
			require.Contains(t, stderr, "--encryption-key-file")
			require.Contains(t, stderr, want)
		}
	}
}
