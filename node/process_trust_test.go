package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/sync"
)

// TestProcessesOverTLS: the county's CA and certificates made by the
// binary's own ca commands; a county and a township as processes over
// mutual TLS. The catalog reaches the township; a call of the sync
// service without a node certificate is refused; the data directories and
// what is in them are their owner's only.
func TestProcessesOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin, err := buildBinary()
	require.NoError(t, err)
	root := t.TempDir()
	creds := filepath.Join(root, "credentials")
	jiujinIn := func(stdin string, args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "JIUJIN_CREDENTIALS="+creds)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
		return string(out)
	}
	jiujin := func(args ...string) string { return jiujinIn("", args...) }
	caDir := filepath.Join(root, "ca")
	jiujin("ca", "init", "--dir", caDir, "--county", county)
	for _, u := range []string{county, "330324101"} {
		jiujin("ca", "issue", "--dir", caDir, "--unit", u, "--host", "127.0.0.1", "--out", filepath.Join(root, "tls-"+u))
	}
	require.Contains(t, jiujin("ca", "list", "--dir", caDir), "330324101")

	countyData, townData := filepath.Join(root, "data-county"), filepath.Join(root, "data-town")
	_, countyURL := startProcessArgs(t, bin, "node", "start", "--unit", county, "--listen", "127.0.0.1:0",
		"--data", countyData, "--tls-dir", filepath.Join(root, "tls-"+county))
	_, townURL := startProcessArgs(t, bin, "node", "start", "--unit", "330324101", "--listen", "127.0.0.1:0",
		"--data", townData, "--tls-dir", filepath.Join(root, "tls-330324101"), "--parent", countyURL)
	require.Regexp(t, `^https://`, countyURL)

	caPEM, err := os.ReadFile(filepath.Join(caDir, auth.CACertFile))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	hc := &http.Client{Transport: sync.Transport(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}), Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	ctx := context.Background()

	// The first administrator, at the county's own machine; a second
	// bootstrap is refused.
	caFlag := []string{"--ca", filepath.Join(caDir, auth.CACertFile)}
	county1 := append([]string{"--node", countyURL}, caFlag...)
	town1 := append([]string{"--node", townURL}, caFlag...)
	out := jiujinIn("Admin-pass-1\n", append(county1, "user", "bootstrap", "--login", "admin", "--name", "王建国", "--password-stdin")...)
	m := regexp.MustCompile(`otpauth://totp/\S*secret=([A-Z2-7]+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	secretFile := filepath.Join(root, "admin.otp")
	require.NoError(t, os.WriteFile(secretFile, []byte(m[1]), 0o600))
	bad := exec.Command(bin, append(county1, "user", "bootstrap", "--login", "admin2", "--name", "x", "--password-stdin")...)
	bad.Stdin = strings.NewReader("Admin-pass-2\n")
	b, err := bad.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(b), "已有账户")

	jiujinIn("Admin-pass-1\n", append(county1, "login", "--user", "admin", "--otp-secret-file", secretFile, "--password-stdin")...)
	jiujin(append(county1, "catalog", "import", "--seed", "--yes")...)
	jiujinIn("Town-pass-1\n", append(county1, "user", "add", "--login", "sunwei", "--name", "孙伟", "--unit", "330324101",
		"--role", "worker", "--role", "clerk", "--password-stdin")...)
	require.Contains(t, jiujin(append(county1, "user", "list")...), "待改口令")

	// The township's clerk logs in there, changing the password an
	// administrator set.
	require.Eventually(t, func() bool {
		cmd := exec.Command(bin, append(town1, "login", "--user", "sunwei", "--password-stdin")...)
		cmd.Env = append(os.Environ(), "JIUJIN_CREDENTIALS="+creds)
		cmd.Stdin = strings.NewReader("Town-pass-1\nTown-pass-2\n")
		return cmd.Run() == nil
	}, 15*time.Second, 100*time.Millisecond, "the account reaches the township")
	require.Contains(t, jiujin(append(town1, "catalog", "list")...), "MZ-005")

	_, err = jiujinv1connect.NewSyncServiceClient(hc, countyURL).Pull(ctx, connect.NewRequest(&pb.PullRequest{Child: &pb.Peer{Unit: "330324101", NodeId: "x", Epoch: 1}}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)

	out = jiujin(append(town1, "status")...)
	require.Contains(t, out, "jiujin://330324/unit/330324101/role/node")

	// The township's certificate is revoked: the CA signs, the county's
	// administrator publishes, and the county serves the township no more.
	var listed struct {
		Certificates []auth.Issued `json:"certificates"`
	}
	require.NoError(t, json.Unmarshal([]byte(jiujin("ca", "list", "--dir", caDir, "-o", "json")), &listed))
	var serial string
	for _, c := range listed.Certificates {
		if c.Unit == "330324101" {
			serial = c.Serial
		}
	}
	out = jiujin(append(county1, "ca", "revoke", "--dir", caDir, "--serial", serial, "--reason", "设备丢失")...)
	require.Contains(t, out, "已吊销证书 "+serial)
	require.Contains(t, jiujin("ca", "list", "--dir", caDir), "已吊销")
	require.Eventually(t, func() bool {
		return strings.Contains(jiujin(append(town1, "status")...), "证书已被吊销")
	}, 15*time.Second, 200*time.Millisecond, "the township's link is refused, and it says why")

	for _, dir := range []string{countyData, townData} {
		require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			fi, err := d.Info()
			require.NoError(t, err)
			if d.IsDir() {
				require.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), p)
			} else {
				require.Zero(t, fi.Mode().Perm()&0o077, "%s is %v", p, fi.Mode().Perm())
			}
			return nil
		}))
	}
}
