package node

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/node/auth"
)

// TestEnrollment: a new township box gets its certificate with a
// one-time token, its key never leaving it: it asks through the county
// node, the CA's holder signs what is pending, the box fetches the
// certificate and starts with it. The same token does not work twice.
func TestEnrollment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin, err := buildBinary()
	require.NoError(t, err)
	root := t.TempDir()
	creds := filepath.Join(root, "credentials")
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "JIUJIN_CREDENTIALS="+creds)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	jiujin := func(stdin string, args ...string) string {
		out, err := run(stdin, args...)
		require.NoError(t, err, "%v: %s", args, out)
		return out
	}
	caDir := filepath.Join(root, "ca")
	caFile := filepath.Join(caDir, auth.CACertFile)
	jiujin("", "ca", "init", "--dir", caDir, "--county", "330324")
	jiujin("", "ca", "issue", "--dir", caDir, "--unit", "330324", "--host", "127.0.0.1", "--out", filepath.Join(root, "tls-county"))
	_, countyURL := startProcessArgs(t, bin, "node", "start", "--unit", "330324", "--listen", "127.0.0.1:0",
		"--data", filepath.Join(root, "data-county"), "--tls-dir", filepath.Join(root, "tls-county"))
	county := []string{"--node", countyURL, "--ca", caFile}
	out := jiujin("Admin-pass-1\n", append(county, "user", "bootstrap", "--login", "admin", "--name", "王建国", "--password-stdin")...)
	secret := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(out)
	require.NotNil(t, secret, out)
	secretFile := filepath.Join(root, "admin.otp")
	require.NoError(t, os.WriteFile(secretFile, []byte(secret[1]), 0o600))
	jiujin("Admin-pass-1\n", append(county, "login", "--user", "admin", "--otp-secret-file", secretFile, "--password-stdin")...)
	jiujin("", append(county, "catalog", "import", "--seed", "--yes")...)

	out = jiujin("", "ca", "token", "--dir", caDir, "--unit", "330324101", "--ttl", "1h")
	token := regexp.MustCompile(`(?m)^  ([A-Z2-7=]{32})$`).FindStringSubmatch(out)
	require.NotNil(t, token, out)

	// The box asks and waits; the CA's holder signs what is pending.
	townTLS := filepath.Join(root, "tls-town")
	enroll := func(out string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "node", "enroll", "--parent", countyURL, "--ca", caFile, "--unit", "330324101", "--token", token[1],
			"--out", out, "--host", "127.0.0.1", "--every", "100ms", "--wait", "30s")
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		require.NoError(t, cmd.Start())
		return cmd, &buf
	}
	box, boxOut := enroll(townTLS)
	require.Eventually(t, func() bool {
		return strings.Contains(jiujin("", append(county, "ca", "sign-pending", "--dir", caDir)...), "已签发")
	}, 15*time.Second, 200*time.Millisecond)
	require.NoError(t, box.Wait(), boxOut.String())
	require.Contains(t, boxOut.String(), "已取得证书：jiujin://330324/unit/330324101/role/node")
	fi, err := os.Stat(filepath.Join(townTLS, auth.NodeKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// The same token, another box: refused.
	again, againOut := enroll(filepath.Join(root, "tls-thief"))
	require.Eventually(t, func() bool {
		return strings.Contains(jiujin("", append(county, "ca", "sign-pending", "--dir", caDir)...), "已用过")
	}, 15*time.Second, 200*time.Millisecond)
	require.Error(t, again.Wait())
	require.Contains(t, againOut.String(), "被拒绝：入网令牌已用过")

	// The box starts with its certificate and syncs with the county.
	_, townURL := startProcessArgs(t, bin, "node", "start", "--unit", "330324101", "--listen", "127.0.0.1:0",
		"--data", filepath.Join(root, "data-town"), "--tls-dir", townTLS, "--parent", countyURL)
	town := []string{"--node", townURL, "--ca", caFile}
	jiujin("Town-pass-1\n", append(county, "user", "add", "--login", "sunwei", "--name", "孙伟", "--unit", "330324101",
		"--role", "worker", "--password-stdin")...)
	require.Eventually(t, func() bool {
		_, err := run("Town-pass-1\nTown-pass-2\n", append(town, "login", "--user", "sunwei", "--password-stdin")...)
		return err == nil
	}, 15*time.Second, 200*time.Millisecond, "the account reaches the township over its enrolled certificate")
	require.Contains(t, jiujin("", append(town, "catalog", "list")...), "MZ-005")

	// An online backup of the running county, by its administrator; the
	// file restores. A worker gets none.
	file := filepath.Join(root, "county.bak")
	require.Contains(t, jiujin("", append(county, "node", "backup", "--to", file)...), "已备份")
	fi, err = os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Contains(t, jiujin("", "node", "restore", "--unit", "330324", "--data", filepath.Join(root, "restored"), "--from", file), "恢复")
	out, err = run("", append(town, "node", "backup", "--to", filepath.Join(root, "town.bak"))...)
	require.Error(t, err)
	require.Contains(t, out, "需要管理员角色")
	_, err = os.Stat(filepath.Join(root, "town.bak"))
	require.True(t, os.IsNotExist(err), "no file left behind")
}
