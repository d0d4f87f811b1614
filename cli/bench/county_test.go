package bench

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node/rpc"
)

// TestBenchCountySmall runs every part of `bench county` at a small size:
// writers, township pushes of full batches, and leader kills of member
// processes (of a binary built for the test).
func TestBenchCountySmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := testBinary(t)
	rep, err := RunCounty(context.Background(), CountyConfig{Writers: []int{1, 4}, Duration: 300 * time.Millisecond,
		PushTownships: 2, PushBatches: 2, BatchEvents: 50, Kills: 2, Binary: bin})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 2)
	for _, r := range rep.Runs {
		require.Positive(t, r.Committed, "%d writers", r.Writers)
		require.LessOrEqual(t, r.P50Ms, r.P99Ms)
		require.LessOrEqual(t, r.P99Ms, r.MaxMs)
		require.Positive(t, r.Seconds)
		if _, ok := processCPU(); ok {
			require.Positive(t, r.CPUMicrosPerWrite, "the group is in this process: its CPU is counted")
			require.Positive(t, r.Cores)
		}
	}
	require.NotNil(t, rep.Push)
	require.Equal(t, 2, rep.Push.Townships)
	require.GreaterOrEqual(t, rep.Push.Events, int64(2*2*50), "each township pushed at least two full batches")
	require.GreaterOrEqual(t, rep.Push.Batches, 4)
	require.Len(t, rep.FailoverMs, 2)
	for _, ms := range rep.FailoverMs {
		require.Positive(t, ms)
	}
	require.Positive(t, rep.FailoverMedianS)
}

// TestBenchCountyMembers measures a running group given by its members'
// URLs, leaves it running, and refuses it once it holds applications.
func TestBenchCountyMembers(t *testing.T) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	g, err := StartGroup(t.TempDir(), cal)
	require.NoError(t, err)
	defer g.Close()
	cfg := CountyConfig{Writers: []int{2}, Duration: 200 * time.Millisecond, PushTownships: 1, PushBatches: 2, BatchEvents: 20, H2C: true,
		Members: g.URLs()}
	rep, err := RunCounty(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	require.Positive(t, rep.Runs[0].Committed)
	require.Zero(t, rep.Runs[0].CPUMicrosPerWrite, "the writers' CPU alone says nothing of the group's")
	require.NotNil(t, rep.Push)
	require.GreaterOrEqual(t, rep.Push.Events, int64(2*20))
	require.Empty(t, rep.FailoverMs, "outside members are never killed")

	var apps uint64
	for _, m := range g.Members {
		c, err := m.Rules.Counts()
		require.NoError(t, err)
		apps = max(apps, c.Applications)
	}
	require.Positive(t, apps, "the group measured is the one given")
	_, err = RunCounty(context.Background(), cfg)
	require.ErrorContains(t, err, "已有")

	_, err = RunCounty(context.Background(), CountyConfig{Writers: []int{1}, Duration: time.Millisecond, Members: g.URLs()[:2]})
	require.ErrorContains(t, err, "--members", "every member must be listed")
}

// flakyLeader answers the first tries of every write Unavailable, as a
// group whose leader is changing would, and remembers the idempotency keys
// it was asked under.
type flakyLeader struct {
	jiujinv1connect.UnimplementedApplicationServiceHandler
	fail int
	mu   sync.Mutex
	seen map[string]int
}

func (f *flakyLeader) AcceptApplication(_ context.Context, req *connect.Request[pb.AcceptApplicationRequest]) (*connect.Response[pb.AcceptApplicationResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.Header().Get(rpc.IdempotencyHeader)
	f.seen[key]++
	if f.seen[key] <= f.fail {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("leader changed during the write"))
	}
	return connect.NewResponse(&pb.AcceptApplicationResponse{}), nil
}

// TestBenchWritersAskAgainUnderTheSameKey: a bench writer answered
// Unavailable asks again under the same idempotency key, as the command
// line does; the write counts once and the answers are reported.
func TestBenchWritersAskAgainUnderTheSameKey(t *testing.T) {
	h := &flakyLeader{fail: 2, seen: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle(jiujinv1connect.NewApplicationServiceHandler(h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	run, err := runWriters(context.Background(), srv.URL, 2, 300*time.Millisecond, false)
	require.NoError(t, err)
	require.Positive(t, run.Committed)
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.seen, int(run.Committed), "one key per write")
	for key, n := range h.seen {
		require.NotEmpty(t, key)
		require.Equal(t, 3, n, "two Unavailable answers, then the write")
	}
	require.Equal(t, 2*run.Committed, run.Unavailable)
	require.GreaterOrEqual(t, run.P50Ms, float64(2*writerRetryWait.Milliseconds()), "latency from the first try")
}
