package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/cli/bench"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/tiers"
)

// TestAWriteWhoseAnswerIsLostIsRetriedOnce: the node accepts, the answer is
// lost on the way back (503, as a member in the middle of an election
// answers); the command line asks again with the same idempotency key and
// the node answers with the same application instead of making another.
func TestAWriteWhoseAnswerIsLostIsRetriedOnce(t *testing.T) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	n, err := node.Start(node.Config{Insecure: true, Unit: tiers.MustParse(DemoCounty), Listen: "127.0.0.1:0", DataDir: t.TempDir(), Calendar: cal, NoSync: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	catalog, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	require.NoError(t, err)
	_, err = n.Apply(context.Background(), &pb.Command{NowMs: time.Now().UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: catalog}})
	require.NoError(t, err)

	target, err := url.Parse(n.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = client.NewHTTPClient(nil).Transport
	var mu gosync.Mutex
	var keys []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/AcceptApplication") {
			proxy.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		keys = append(keys, r.Header.Get(rpc.IdempotencyHeader))
		first := len(keys) == 1
		mu.Unlock()
		if first {
			// Through to the node, and the answer thrown away.
			proxy.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "answer lost", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	var out, errOut bytes.Buffer
	f := NewFactory(&out, &errOut)
	f.RetryWait = 10 * time.Millisecond
	code := Execute(context.Background(), f, []string{"--node", srv.URL, "app", "accept", "--matter", "MZ-005", "--applicant-name", "赵桂兰",
		"--applicant-id", rules.MakeIDNumber("33032419490817242"), "--material", "居民身份证", "--material", "近期一寸免冠证件照"})
	require.Equal(t, 0, code, errOut.String())
	require.Len(t, keys, 2, "asked twice")
	require.NotEmpty(t, keys[0])
	require.Equal(t, keys[0], keys[1], "with the same key")
	as, _, err := n.Rules.ListApplications(rules.AppFilter{})
	require.NoError(t, err)
	require.Len(t, as, 1, "one application")
	require.Contains(t, out.String(), as[0].GetId())
}

// TestNodeListsTheGroupsMembers: with --node naming every member of a
// county group, the command line goes on at another member when the one
// it was using is down.
func TestNodeListsTheGroupsMembers(t *testing.T) {
	g := startGroup(t)
	ctx := context.Background()
	leader, err := bench.GroupLeader(ctx, g.URLs(), 30*time.Second)
	require.NoError(t, err)
	catalog, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	require.NoError(t, err)
	for _, m := range g.Members {
		if m.URL() == leader {
			_, err = m.Apply(ctx, &pb.Command{NowMs: time.Now().UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: catalog}})
			require.NoError(t, err)
		}
	}
	// The first member listed is gone.
	down := g.Members[0]
	require.NoError(t, down.Shutdown(ctx))
	g.Members = g.Members[1:]
	nodes := strings.Join([]string{down.URL(), g.Members[0].URL(), g.Members[1].URL()}, ",")

	var out, errOut bytes.Buffer
	f := NewFactory(&out, &errOut)
	f.RetryWait = 10 * time.Millisecond
	code := Execute(ctx, f, []string{"--node", nodes, "-o", "json", "app", "accept", "--matter", "MZ-005", "--applicant-name", "赵桂兰",
		"--applicant-id", rules.MakeIDNumber("33032419490817242"), "--material", "居民身份证", "--material", "近期一寸免冠证件照"})
	require.Equal(t, 0, code, errOut.String())
	for _, m := range g.Members {
		require.Eventually(t, func() bool {
			as, _, err := m.Rules.ListApplications(rules.AppFilter{})
			return err == nil && len(as) == 1
		}, 10*time.Second, 20*time.Millisecond, "one application at %s", m.URL())
	}

	code, _, stderr := run(t, "", "--node", "http://x:1,ftp://y", "status")
	require.NotZero(t, code)
	require.Contains(t, stderr, "--node")
	require.Contains(t, stderr, "ftp://y")
}
