package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	jiujin := func(args ...string) string {
		out, err := exec.Command(bin, args...).CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
		return string(out)
	}
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
	_, err = jiujinv1connect.NewCatalogServiceClient(hc, countyURL).ImportCatalog(ctx, connect.NewRequest(seedCatalog(t)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		res, err := jiujinv1connect.NewCatalogServiceClient(hc, townURL).ListMatters(ctx, connect.NewRequest(&pb.ListMattersRequest{}))
		return err == nil && len(res.Msg.GetMatters()) > 0
	}, 15*time.Second, 100*time.Millisecond)

	_, err = jiujinv1connect.NewSyncServiceClient(hc, countyURL).Pull(ctx, connect.NewRequest(&pb.PullRequest{Child: &pb.Peer{Unit: "330324101", NodeId: "x", Epoch: 1}}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)

	out := jiujin("status", "--node", townURL, "--ca", filepath.Join(caDir, auth.CACertFile))
	require.Contains(t, out, "jiujin://330324/unit/330324101/role/node")

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
