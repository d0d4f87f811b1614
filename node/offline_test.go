package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// The honest offline state (issue 18, item 4): an application says
// whether it has left the village, a parent lists its children, a link's
// error reads in Chinese, and a child cut off long still probes its parent
// every few seconds.

func faultLink(seed uint64) *sync.FaultTransport {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return sync.NewFaultTransport(&http.Transport{Protocols: protocols}, seed)
}

func upstreamOn(t *testing.T, n *testNode, id string) *pb.Upstream {
	t.Helper()
	res, err := n.apps.GetApplication(context.Background(), req(&pb.GetApplicationRequest{Id: id}))
	require.NoError(t, err)
	return res.Msg.GetApplication().GetUpstream()
}

// TestAnApplicationSaysWhetherItLeftTheVillage: accepted while the village
// is cut off, an application says 未送达上级 (not 已转报 as if it had gone);
// once the township stores it, 已送达乡镇 with the time; once the county
// does, 已送达县级 with the time the township saw the county's
// acknowledgement.
func TestAnApplicationSaysWhetherItLeftTheVillage(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	townLink, villLink := faultLink(11), faultLink(12)
	townClock := &testClock{t: at("2026-11-23", 10)}
	town := startChild(t, "330324101", []string{county.URL()}, townLink, townClock, "")
	vill := startChild(t, "330324101201", []string{town.URL()}, villLink, nil, "")
	eventually(t, func() bool { _, err := vill.Rules.GetMatter("MZ-005"); return err == nil }, "catalog reaches the village")

	villLink.Set(sync.Faults{Cut: true})
	townLink.Set(sync.Faults{Cut: true})
	a := vill.accept(t, acceptReq())
	require.Equal(t, rules.StateForwarded, a.GetState(), "forwarded on paper")
	require.Equal(t, rules.UpstreamNotSent, a.GetUpstream().GetState(), "but nothing has left the village")
	up := upstreamOn(t, vill, a.GetId())
	require.Equal(t, rules.UpstreamNotSent, up.GetState())
	require.Nil(t, up.GetTownshipAt())
	list, err := vill.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetApplications(), 1)
	require.Equal(t, rules.UpstreamNotSent, list.Msg.GetApplications()[0].GetUpstream().GetState())

	// The village's link returns; the township's to the county does not.
	villLink.Heal()
	eventually(t, func() bool { return upstreamOn(t, vill, a.GetId()).GetState() == rules.UpstreamAtTownship }, "the township acknowledges")
	up = upstreamOn(t, vill, a.GetId())
	require.True(t, up.GetTownshipAt().AsTime().Equal(vill.clock.Now()), "acknowledged at %v", up.GetTownshipAt().AsTime())
	require.Nil(t, up.GetCountyAt())
	require.Equal(t, rules.UpstreamNotSent, upstreamOn(t, town, a.GetId()).GetState(), "at the township: not yet at the county")
	require.Nil(t, appOn(county, a.GetId()))

	// The township's link returns two minutes later by its clock.
	townClock.Set(at("2026-11-23", 10).Add(2 * time.Minute))
	townLink.Heal()
	eventually(t, func() bool { return upstreamOn(t, vill, a.GetId()).GetState() == rules.UpstreamAtCounty }, "the county acknowledges")
	up = upstreamOn(t, vill, a.GetId())
	require.True(t, up.GetCountyAt().AsTime().Equal(townClock.Now()), "the county's acknowledgement as the township saw it: %v", up.GetCountyAt().AsTime())
	require.True(t, up.GetTownshipAt().AsTime().Equal(vill.clock.Now()))
	require.NotNil(t, appOn(county, a.GetId()))
	atTown := upstreamOn(t, town, a.GetId())
	require.Equal(t, rules.UpstreamAtCounty, atTown.GetState(), "a township's parent is the county")
	require.Nil(t, atTown.GetTownshipAt())
	require.Nil(t, upstreamOn(t, county, a.GetId()), "the county is the top")

	// The decision comes back; the result handed over while the village is
	// cut off again is the village's latest change, and has not left it.
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true, Reason: "符合条件"}))
	require.NoError(t, err)
	eventually(t, func() bool { return appOn(vill, a.GetId()).GetState() == rules.StateApproved }, "the decision comes down")
	require.Equal(t, rules.UpstreamAtCounty, upstreamOn(t, vill, a.GetId()).GetState(), "the county's events change nothing of the village's")
	villLink.Set(sync.Faults{Cut: true})
	_, err = vill.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: a.GetId(), Method: "window"}))
	require.NoError(t, err)
	require.Equal(t, rules.UpstreamNotSent, upstreamOn(t, vill, a.GetId()).GetState())
}

// TestAParentListsItsChildren: the county's status lists the township, the
// township's the village — node id, last contact, cursors, backlog both
// ways, quarantined — and so does /metrics.
func TestAParentListsItsChildren(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	town := startChild(t, "330324101", []string{county.URL()}, nil, nil, "")
	villLink := faultLink(21)
	vill := startChild(t, "330324101201", []string{town.URL()}, villLink, nil, "")
	a := func() *pb.Application {
		eventually(t, func() bool { _, err := vill.Rules.GetMatter("MZ-005"); return err == nil }, "catalog reaches the village")
		return vill.accept(t, acceptReq())
	}()
	eventually(t, func() bool { return appOn(county, a.GetId()) != nil }, "the county has the application")

	child := func(n *testNode, unit string) *pb.ChildStatus {
		st, err := n.status.GetStatus(ctx, req(&pb.GetStatusRequest{}))
		require.NoError(t, err)
		for _, c := range st.Msg.GetChildren() {
			if c.GetUnit() == unit {
				return c
			}
		}
		return nil
	}
	eventually(t, func() bool {
		c := child(county, "330324101")
		return c != nil && c.GetEventsAtChildKnown() && c.GetEventsAtChild() == 0 && c.GetPullKnown() && c.GetEventsToChild() == 0
	}, "the county sees its township caught up both ways")
	c := child(county, "330324101")
	require.Equal(t, town.Store.NodeID(), c.GetNodeId())
	require.Equal(t, town.Store.Epoch(), c.GetEpoch())
	require.True(t, c.GetConnected())
	require.NotNil(t, c.GetLastContact())
	require.Positive(t, c.GetPushPosition(), "the township pushed the application")
	require.Positive(t, c.GetPullPosition())
	require.True(t, c.GetEventsToChildExact())
	require.Zero(t, c.GetQuarantined())
	st, err := vill.status.GetStatus(ctx, req(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	require.Empty(t, st.Msg.GetChildren(), "a village has no children")

	// The village is cut off; the county publishes a new catalog: the
	// township counts what waits for the village.
	villLink.Set(sync.Faults{Cut: true})
	cat := seedCatalog(t)
	cat.Matters[0].Name += "（修订）"
	_, err = county.catalog.ImportCatalog(ctx, req(cat))
	require.NoError(t, err)
	eventually(t, func() bool { c, _ := town.Rules.Catalog(); return c.GetVersion() == 2 }, "the township has the new catalog")
	eventually(t, func() bool { c := child(town, "330324101201"); return c != nil && c.GetEventsToChild() > 0 }, "the township counts the backlog for the village")
	v := child(town, "330324101201")
	require.Equal(t, vill.Store.NodeID(), v.GetNodeId())
	require.True(t, v.GetEventsToChildExact())
	require.Positive(t, v.GetPushPosition())

	resp, err := county.hc.Get(county.URL() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := town.Store.NodeID()
	require.Contains(t, string(body), `jiujin_child_connected{unit="330324101",node="`+id+`"} 1`)
	require.Contains(t, string(body), `jiujin_child_quarantined_events_total{unit="330324101",node="`+id+`"} 0`)
	require.Contains(t, string(body), `jiujin_child_events_to_pull{unit="330324101",node="`+id+`"} 0`)
}

// TestALinkErrorReadsInChinese: a parent that is not there is named so in
// the status, with the technical detail after.
func TestALinkErrorReadsInChinese(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := "http://" + ln.Addr().String()
	ln.Close()
	vill := startChild(t, "330324101201", []string{gone}, nil, nil, "")
	eventually(t, func() bool {
		st, err := vill.status.GetStatus(context.Background(), req(&pb.GetStatusRequest{}))
		return err == nil && st.Msg.GetLinks()[0].GetLastError() != ""
	}, "the link fails")
	st, err := vill.status.GetStatus(context.Background(), req(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	for _, l := range st.Msg.GetLinks() {
		if l.GetLastError() == "" {
			continue
		}
		require.True(t, strings.HasPrefix(l.GetLastError(), "无法连接上级节点（连接被拒绝"), l.GetLastError())
		require.Contains(t, l.GetLastError(), "connection refused", "the detail follows")
	}
}

// probeClock is the link's clock in TestACutOffVillageProbesEveryFewSeconds:
// it notes every wait the link asks for and lets it pass a thousand times
// faster, so a day's worth of failures takes a moment.
type probeClock struct {
	mu    gosync.Mutex
	waits []time.Duration
}

func (c *probeClock) Now() time.Time { return time.Now() }

func (c *probeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return time.After(d / 1000)
}

func (c *probeClock) seen() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// TestACutOffVillageProbesEveryFewSeconds: with the default backoff, a
// village whose link has failed many times in a row still waits no more
// than 5 s (3.5–5 s, jittered) before trying again, and finds its returning
// township at once.
func TestACutOffVillageProbesEveryFewSeconds(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	town := startChild(t, "330324101", []string{county.URL()}, nil, nil, "")
	link := faultLink(31)
	link.Set(sync.Faults{Cut: true})
	clock := &probeClock{}
	dir := t.TempDir()
	n, err := Start(Config{Insecure: true, Unit: tiers.MustParse("330324101201"), Listen: "127.0.0.1:0", DataDir: dir,
		Parents: []string{town.URL()}, Calendar: seedCalendar(t), Clock: &testClock{t: at("2026-11-23", 10)},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SyncTransport: link,
		Sync: sync.Config{Clock: clock, PullWait: time.Second, Seed: 7}})
	require.NoError(t, err)
	vill := wrapTestNode(t, n, nil, dir)

	eventually(t, func() bool { return len(clock.seen()) >= 40 }, "the link keeps failing")
	waits := clock.seen()
	var capped []time.Duration
	for _, w := range waits {
		require.LessOrEqual(t, w, sync.ProbeMax, "no wait longer than 5 s: %v", waits)
		if w >= 3500*time.Millisecond {
			capped = append(capped, w)
		}
	}
	require.Greater(t, len(capped), 20, "most waits are at the cap: %v", waits)
	distinct := map[time.Duration]bool{}
	for _, w := range capped {
		distinct[w] = true
	}
	require.Greater(t, len(distinct), len(capped)/2, "jittered, not in step")

	link.Heal()
	eventually(t, func() bool { _, err := vill.Rules.GetMatter("MZ-005"); return err == nil }, "the catalog arrives once the link is back")
}

// TestTheCountySeesItsVillages: a township tells its county of its
// villages on its pulls, so the county's status (and its console's link
// page) shows the whole tree.
func TestTheCountySeesItsVillages(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	fast := sync.Config{BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, PullWait: 300 * time.Millisecond,
		ChildrenEvery: 100 * time.Millisecond}
	town := startChildWith(t, "330324101", county.URL(), county.clock, fast)
	startChildWith(t, "330324101201", town.URL(), county.clock, fast)
	var villages []*pb.ChildStatus
	eventually(t, func() bool {
		res, err := county.status.GetStatus(context.Background(), connect.NewRequest(&pb.GetStatusRequest{}))
		if err != nil || len(res.Msg.GetChildren()) != 1 {
			return false
		}
		villages = res.Msg.GetChildren()[0].GetChildren()
		return len(villages) == 1 && villages[0].GetConnected()
	}, "the county sees the village through its township")
	require.Equal(t, "330324101201", villages[0].GetUnit())
	require.Empty(t, villages[0].GetChildren(), "one level, no more")
}

func startChildWith(t *testing.T, unit, parent string, clock *testClock, sc sync.Config) *testNode {
	t.Helper()
	n, err := Start(Config{Insecure: true, Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: t.TempDir(), Parents: []string{parent},
		Calendar: seedCalendar(t), Clock: clock, Logger: quietLogger(), Sync: sc})
	require.NoError(t, err)
	return wrapTestNode(t, n, clock, "")
}

// TestAWindowLearnsOfTheCountyDuringItsLongPoll: a village whose long poll
// waits a minute still shows 已送达县级 within seconds of the county
// acknowledging its application (the township ends the poll to tell it),
// not when the poll runs out.
func TestAWindowLearnsOfTheCountyDuringItsLongPoll(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	townLink := faultLink(21)
	town := startChild(t, "330324101", []string{county.URL()}, townLink, nil, "")
	clock := &testClock{t: at("2026-11-23", 10)}
	n, err := Start(Config{Insecure: true, Unit: tiers.MustParse("330324101201"), Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Parents: []string{town.URL()}, Calendar: seedCalendar(t), Clock: clock, Logger: quietLogger(),
		Sync: sync.Config{PullWait: time.Minute, BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond}})
	require.NoError(t, err)
	vill := wrapTestNode(t, n, clock, "")
	eventually(t, func() bool { _, err := vill.Rules.GetMatter("MZ-005"); return err == nil }, "catalog reaches the village")

	townLink.Set(sync.Faults{Cut: true})
	a := vill.accept(t, acceptReq())
	eventually(t, func() bool { return upstreamOn(t, vill, a.GetId()).GetState() == rules.UpstreamAtTownship }, "the township acknowledges")
	townLink.Heal()
	start := time.Now()
	require.Eventually(t, func() bool { return upstreamOn(t, vill, a.GetId()).GetState() == rules.UpstreamAtCounty }, 15*time.Second, 5*time.Millisecond,
		"the village hears of the county's acknowledgement before its minute-long poll ends")
	t.Logf("已送达县级 at the window %s after the township's link healed", time.Since(start).Round(time.Millisecond))
}
