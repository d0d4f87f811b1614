package node

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/sync"
)

func delegationClient(n *testNode) jiujinv1connect.DelegationServiceClient { return n.deleg }

// TestDevolvedMatterIsDecidedAtTheTownship: a matter devolved to a
// township is decided there for its villages and nowhere else; revoking
// the devolution sends new applications to the county, and one in flight
// is re-routed explicitly, never stranded.
func TestDevolvedMatterIsDecidedAtTheTownship(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	t1 := startChild(t, "330324101", []string{county.URL()}, nil, county.clock, "")
	t2 := startChild(t, "330324102", []string{county.URL()}, nil, county.clock, "")
	v11 := startChild(t, "330324101201", []string{t1.URL()}, nil, county.clock, "")
	v21 := startChild(t, "330324102201", []string{t2.URL()}, nil, county.clock, "")
	dc := delegationClient(county)

	// Only the county grants, and only sensible grants.
	_, err := delegationClient(t1).GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: "devolve"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "unit")
	_, err = dc.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101201", Mode: "devolve"}))
	requireCode(t, err, connect.CodeInvalidArgument, "")
	_, err = dc.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "440101001", Mode: "devolve"}))
	requireCode(t, err, connect.CodeInvalidArgument, "unit") // a township of another county
	_, err = dc.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "XX-001", Unit: "330324101", Mode: "devolve"}))
	requireCode(t, err, connect.CodeNotFound, "matter_code")
	g, err := dc.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: "devolve"}))
	require.NoError(t, err)
	del := g.Msg.GetDelegation()
	require.Equal(t, "D-000001", del.GetId())
	require.Equal(t, "2026-11-23", del.GetFrom())
	require.Equal(t, auth.AnonymousName, del.GetGrantedBy())
	_, err = dc.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: "entrust"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "unit")

	// The delegation reaches every unit below.
	for _, n := range []*testNode{t1, t2, v11, v21} {
		eventually(t, func() bool { ds, _ := n.Rules.Delegations(false, "MZ-005", ""); return len(ds) == 1 }, "delegation reaches %s", n.Store.Unit())
	}
	r, err := delegationClient(v11).Route(ctx, req(&pb.RouteRequest{MatterCode: "MZ-005"}))
	require.NoError(t, err)
	require.Equal(t, "330324101", r.Msg.GetProcessingUnit())
	require.Equal(t, []string{"330324101201", "330324101"}, r.Msg.GetPath())

	// Accepted at the village: decided at its township.
	a := v11.accept(t, acceptReq())
	require.Equal(t, "330324101", a.GetProcessingUnit())
	require.Equal(t, "D-000001", a.GetDelegationId())
	eventually(t, func() bool { x := appOn(t1, a.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "township receives")
	eventually(t, func() bool { x := appOn(county, a.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "county sees it")
	mine, err := county.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{HeldOnly: true}))
	require.NoError(t, err)
	for _, x := range mine.Msg.GetApplications() {
		require.NotEqual(t, a.GetId(), x.GetId(), "never actionable in the county's queue")
	}
	for _, n := range []*testNode{county, v11} {
		_, err := n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true}))
		requireCode(t, err, connect.CodeFailedPrecondition, "")
	}
	_, err = t1.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true, Reason: "符合条件"}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(v11, a.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "decision reaches the village")
	eventually(t, func() bool { x := appOn(county, a.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "and the county")
	require.Equal(t, "330324101", appOn(county, a.GetId()).GetDecision().GetUnit())

	// Another township's village: the county decides.
	b := v21.accept(t, acceptReq())
	require.Equal(t, "330324", b.GetProcessingUnit())

	// In flight when the devolution is revoked.
	inFlight := v11.accept(t, acceptReq())
	eventually(t, func() bool { x := appOn(t1, inFlight.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "township receives")
	_, err = dc.RevokeDelegation(ctx, req(&pb.RevokeDelegationRequest{Id: del.GetId()}))
	requireCode(t, err, connect.CodeInvalidArgument, "reason")
	rv, err := dc.RevokeDelegation(ctx, req(&pb.RevokeDelegationRequest{Id: del.GetId(), Reason: "乡镇人员调整"}))
	require.NoError(t, err)
	require.Equal(t, uint64(2), rv.Msg.GetDelegation().GetVersion())
	_, err = dc.RevokeDelegation(ctx, req(&pb.RevokeDelegationRequest{Id: del.GetId(), Reason: "again"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "id")
	eventually(t, func() bool { ds, _ := v11.Rules.Delegations(false, "MZ-005", ""); return len(ds) == 0 }, "revocation reaches the village")
	all, err := dc.ListDelegations(ctx, req(&pb.ListDelegationsRequest{All: true}))
	require.NoError(t, err)
	require.Len(t, all.Msg.GetDelegations(), 1)
	require.NotNil(t, all.Msg.GetDelegations()[0].GetRevokedAt())

	// New applications go to the county; the township cannot decide them.
	c := v11.accept(t, acceptReq())
	require.Equal(t, "330324", c.GetProcessingUnit())
	eventually(t, func() bool { x := appOn(t1, c.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "the township relays it")
	_, err = t1.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: c.GetId(), Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "")

	// The one in flight: the township may not re-route it to a unit without
	// the power, and re-routes it to the county explicitly.
	_, err = t1.apps.ForwardApplication(ctx, req(&pb.ForwardApplicationRequest{Id: inFlight.GetId(), ToUnit: "330324102", Reason: "x"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "to_unit")
	_, err = t1.apps.ForwardApplication(ctx, req(&pb.ForwardApplicationRequest{Id: inFlight.GetId(), ToUnit: "330324"}))
	requireCode(t, err, connect.CodeInvalidArgument, "reason")
	fw, err := t1.apps.ForwardApplication(ctx, req(&pb.ForwardApplicationRequest{Id: inFlight.GetId(), ToUnit: "330324", Reason: "下放已撤销，改由县民政局办理"}))
	require.NoError(t, err)
	require.Equal(t, rules.StateForwarded, fw.Msg.GetApplication().GetState())
	eventually(t, func() bool {
		x := appOn(county, inFlight.GetId())
		return x != nil && x.GetState() == rules.StateReceived && x.GetHolder() == "330324"
	}, "county receives the re-routed one")
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: inFlight.GetId(), Approve: true}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(v11, inFlight.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "and the village sees the decision")
	show, err := county.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: inFlight.GetId()}))
	require.NoError(t, err)
	var summaries []string
	for _, h := range show.Msg.GetHistory() {
		summaries = append(summaries, h.GetSummary())
	}
	require.Contains(t, summaries, "改派至 330324（下放已撤销，改由县民政局办理）")

	for _, n := range []*testNode{county, t1, t2, v11, v21} {
		q, held := n.Store.SyncCounts()
		require.Zero(t, q, "%s", n.Store.Unit())
		require.Zero(t, held)
		_, err := n.Store.Verify()
		require.NoError(t, err)
	}
}

// TestUnentitledRoutingIsQuarantined: an acceptance routed to a township
// that holds no power over the matter, from a child that forged it, is
// quarantined where it arrives.
func TestUnentitledRoutingIsQuarantined(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	sc := syncClient(county)
	peer, ch := fakeChild("f00d")
	key := appKey(fakeTown + "-20261123-000001")
	a := acceptedAt(fakeTown, fakeTown) // the township routes to itself
	acc := ch.event(fakeTown, rules.KindAppAccepted, key, a)
	res, err := push(t, sc, peer, 1, acc)
	require.NoError(t, err)
	require.Equal(t, uint32(1), res.GetQuarantined())
	list, err := county.Store.Quarantine(1)
	require.NoError(t, err)
	require.Contains(t, list[0].GetReason(), "processing_unit")
	require.Nil(t, appOn(county, fakeTown+"-20261123-000001"))

}

// TestRevocationNeverStrandsAnApplication: a village accepts under a
// devolution while its township is cut off from the county, and on a clock
// running fast; the county revokes the devolution before the application
// reaches it. The county still takes the application in, where it was
// routed, and the township finishes it.
func TestRevocationNeverStrandsAnApplication(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	up := sync.NewFaultTransport(&http.Transport{Protocols: protocols}, 5)
	town := startChild(t, "330324101", []string{county.URL()}, up, county.clock, "")
	// Fast, yet within what a receiver accepts (store.MaxClockSkew).
	fast := &testClock{t: county.clock.Now().Add(4 * time.Minute)}
	vill := startChild(t, "330324101201", []string{town.URL()}, nil, fast, "")

	g, err := county.deleg.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: "330324101", Mode: "devolve"}))
	require.NoError(t, err)
	eventually(t, func() bool { ds, _ := vill.Rules.Delegations(false, "MZ-005", ""); return len(ds) == 1 }, "the devolution reaches the village")

	up.Set(sync.Faults{Cut: true})
	a := vill.accept(t, acceptReq())
	require.Equal(t, "330324101", a.GetProcessingUnit())
	eventually(t, func() bool { x := appOn(town, a.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "the township receives it")
	_, err = county.deleg.RevokeDelegation(ctx, req(&pb.RevokeDelegationRequest{Id: g.Msg.GetDelegation().GetId(), Reason: "乡镇人员调整"}))
	require.NoError(t, err)
	up.Heal()

	eventually(t, func() bool { x := appOn(county, a.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "the county takes it in")
	require.Equal(t, "330324101", appOn(county, a.GetId()).GetHolder())
	eventually(t, func() bool { ds, _ := town.Rules.Delegations(false, "MZ-005", ""); return len(ds) == 0 }, "the revocation reaches the township")
	_, err = town.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true, Reason: "符合条件"}))
	require.NoError(t, err, "it finishes where it was routed")
	for _, n := range []*testNode{county, vill} {
		eventually(t, func() bool { x := appOn(n, a.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "the decision reaches %s", n.Store.Unit())
	}
	for _, n := range []*testNode{county, town, vill} {
		q, held := n.Store.SyncCounts()
		require.Zero(t, q, "nothing quarantined at %s", n.Store.Unit())
		require.Zero(t, held, "nothing held back at %s", n.Store.Unit())
	}
}
