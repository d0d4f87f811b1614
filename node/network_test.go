package node

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// netNode starts a node with a parent, its link going through rt (nil: a
// plain transport).
func startChild(t testing.TB, unit string, parents []string, rt http.RoundTripper, clock *testClock, dir string) *testNode {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if clock == nil {
		clock = &testClock{t: at("2026-11-23", 10)}
	}
	n, err := Start(Config{Insecure: true, Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: dir, Parents: parents,
		Calendar: seedCalendar(t), Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SyncTransport: rt, Sync: sync.Config{BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, PullWait: 2 * time.Second}})
	require.NoError(t, err)
	return wrapTestNode(t, n, clock, dir)
}

// eventually waits for cond, failing with msg after a while.
func eventually(t testing.TB, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, 20*time.Second, 5*time.Millisecond, append([]any{msg}, args...)...)
}

func appOn(n *testNode, id string) *pb.Application {
	a, _, err := n.Rules.GetApplication(id)
	if err != nil {
		return nil
	}
	return a
}

func TestVillageToCountyAndBack(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	town := startChild(t, "330324101", []string{county.URL()}, nil, nil, "")
	vill := startChild(t, "330324101201", []string{town.URL()}, nil, nil, "")
	other := startChild(t, "330324101202", []string{town.URL()}, nil, nil, "")

	// The catalog travels down to every village.
	eventually(t, func() bool { m, err := vill.Rules.GetMatter("MZ-005"); return err == nil && m != nil }, "catalog reaches the village")

	// 就近受理 at the village: forwarded at once, received by the county.
	a := vill.accept(t, acceptReq())
	require.Equal(t, rules.StateForwarded, a.GetState())
	require.Equal(t, "330324", a.GetHolder())
	eventually(t, func() bool { c := appOn(county, a.GetId()); return c != nil && c.GetState() == rules.StateReceived }, "county receives")
	require.NotNil(t, appOn(town, a.GetId()), "the township relays and keeps a copy")

	// The village cannot decide; the county does, and the result comes back.
	_, err := vill.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true}))
	requireCode(t, err, 9 /* failed_precondition */, "")
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true, Reason: "符合条件"}))
	require.NoError(t, err)
	eventually(t, func() bool { v := appOn(vill, a.GetId()); return v != nil && v.GetState() == rules.StateApproved }, "decision reaches the village")
	require.Equal(t, "330324101201", appOn(vill, a.GetId()).GetHolder())

	// 出件 and 好差评 at the same window; the county sees them.
	_, err = vill.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: a.GetId(), Method: "window"}))
	require.NoError(t, err)
	_, err = vill.apps.RateApplication(ctx, req(&pb.RateApplicationRequest{Id: a.GetId(), Score: 5}))
	require.NoError(t, err)
	eventually(t, func() bool { c := appOn(county, a.GetId()); return c != nil && c.GetState() == rules.StateRated }, "rating reaches the county")

	// The other village never sees it.
	time.Sleep(50 * time.Millisecond)
	require.Nil(t, appOn(other, a.GetId()))
	for _, n := range []*testNode{county, town, vill, other} {
		_, err := n.Store.Verify()
		require.NoError(t, err)
		q, held := n.Store.SyncCounts()
		require.Zero(t, q)
		require.Zero(t, held)
	}
	resp, err := vill.hc.Get(vill.URL() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), `jiujin_link_connected{direction="push"} 1`)
	require.Contains(t, string(body), "jiujin_quarantined_events_total 0")
	require.Contains(t, string(body), `jiujin_applications{unit="330324101201",state="rated"} 1`)
	require.NotContains(t, string(body), idWang[6:14], "no identity numbers in metrics")
	fig, err := county.status.GetStats(ctx, req(&pb.GetStatsRequest{}))
	require.NoError(t, err)
	require.Equal(t, 1.0, fig.Msg.GetNearbyShare(), "accepted at the village, decided at the county: 就近办")
	st, err := vill.status.GetStatus(ctx, req(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	require.Len(t, st.Msg.GetLinks(), 2)
	require.True(t, st.Msg.GetLinks()[0].GetConnected())
}

// TestANodeFarFromItsParentsClockWritesNothing: a township whose clock runs
// ten minutes fast says so in its status and refuses to accept until its
// clock is set right; sync goes on meanwhile.
func TestANodeFarFromItsParentsClockWritesNothing(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	fast := &testClock{t: county.clock.Now().Add(10 * time.Minute)}
	vill := startChild(t, "330324101", []string{county.URL()}, nil, fast, "")
	eventually(t, func() bool { c, _ := vill.Rules.Catalog(); return c.GetVersion() > 0 }, "the catalog arrives all the same")
	eventually(t, func() bool { s, ok := vill.Link.ClockSkew(); return ok && s > 9*time.Minute }, "the village sees its clock is fast")

	_, err := vill.apps.AcceptApplication(context.Background(), req(acceptReq()))
	requireCode(t, err, connect.CodeFailedPrecondition, "clock")
	require.Contains(t, err.Error(), "快 10m0s")
	st, err := vill.status.GetStatus(context.Background(), req(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	require.InDelta(t, 600000, st.Msg.GetLinks()[0].GetClockSkewMs(), 5000)

	fast.Set(county.clock.Now())
	eventually(t, func() bool { s, ok := vill.Link.ClockSkew(); return ok && s < time.Minute }, "the link sees the clock set right")
	vill.accept(t, acceptReq())
}
