package node

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/internal/testseed"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/tiers"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// at is a time in China on a date of the seed calendar.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testNode is a real node on 127.0.0.1:0 with a real badger directory, and
// connect clients talking to it over HTTP.
type testNode struct {
	*Node
	hc      *http.Client
	clock   *testClock
	dir     string
	apps    jiujinv1connect.ApplicationServiceClient
	catalog jiujinv1connect.CatalogServiceClient
	status  jiujinv1connect.NodeServiceClient
	deleg   jiujinv1connect.DelegationServiceClient
	accts   jiujinv1connect.AccountServiceClient
	// token is the session the clients call with (see signIn), if any.
	token atomic.Pointer[string]
}

func startTestNode(t testing.TB, unit string, dir string, clock *testClock) *testNode {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if clock == nil {
		clock = &testClock{t: at("2026-11-23", 10)} // a Monday
	}
	n, err := Start(Config{Insecure: true, Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: dir,
		Calendar: seedCalendar(t), Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return wrapTestNode(t, n, clock, dir)
}

// wrapTestNode gives a started node its clients and its cleanup.
func wrapTestNode(t testing.TB, n *Node, clock *testClock, dir string) *testNode {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return wrapTestNodeWith(t, n, clock, dir, &http.Client{Transport: &http.Transport{Protocols: protocols}})
}

// wrapTestNodeWith is wrapTestNode with clients over hc.
func wrapTestNodeWith(t testing.TB, n *Node, clock *testClock, dir string, hc *http.Client) *testNode {
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	t.Cleanup(hc.CloseIdleConnections) // runs before Shutdown: no wait for idle h2c conns
	tn := &testNode{Node: n, hc: hc, clock: clock, dir: dir}
	bearer := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if tok := tn.token.Load(); tok != nil && req.Header().Get("Authorization") == "" {
				req.Header().Set("Authorization", "Bearer "+*tok)
			}
			return next(ctx, req)
		}
	}))
	tn.apps = jiujinv1connect.NewApplicationServiceClient(hc, n.URL(), bearer)
	tn.catalog = jiujinv1connect.NewCatalogServiceClient(hc, n.URL(), bearer)
	tn.status = jiujinv1connect.NewNodeServiceClient(hc, n.URL(), bearer)
	tn.deleg = jiujinv1connect.NewDelegationServiceClient(hc, n.URL(), bearer)
	tn.accts = jiujinv1connect.NewAccountServiceClient(hc, n.URL(), bearer)
	return tn
}

func (n *testNode) importSeed(t testing.TB) {
	t.Helper()
	res, err := n.catalog.ImportCatalog(context.Background(), connect.NewRequest(seedCatalog(t)))
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.Msg.GetVersion())
}

// Applicants with valid identity numbers.
var (
	idWang = testseed.IDWang
	idLi   = rules.MakeIDNumber("33032419660405301")
)

// The seed data as every package's tests use it (internal/testseed);
// acceptReq is an acceptance of MZ-005 (老年人优待证) with every material.
var (
	at           = testseed.At
	seedCalendar = testseed.Calendar
	seedCatalog  = testseed.Catalog
	acceptReq    = testseed.AcceptReq
)

func (n *testNode) accept(t testing.TB, req *pb.AcceptApplicationRequest) *pb.Application {
	t.Helper()
	res, err := n.apps.AcceptApplication(context.Background(), connect.NewRequest(req))
	require.NoError(t, err)
	return res.Msg.GetApplication()
}

// requireCode checks an error's connect code and that its message names
// the field.
func requireCode(t testing.TB, err error, code connect.Code, field string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, connect.CodeOf(err), "error: %v", err)
	if field != "" {
		require.Contains(t, err.Error(), field+":", "error should name the field")
	}
}

func tiersUnit(s string) tiers.Unit { return tiers.MustParse(s) }
