package node

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

func birthRequest(id17 string) *pb.AcceptApplicationRequest {
	return &pb.AcceptApplicationRequest{MatterCode: "YJS-002", // 出生一件事
		Applicant: &pb.Applicant{Name: "陈小梅", IdNumber: rules.MakeIDNumber(id17)},
		Materials: []string{"出生一件事联办申请表", "父母双方居民身份证", "居民户口簿"}}
}

// TestCompositeMatterIsDecidedInParallelAndJoined: 出生一件事 accepted at a
// village fans out to four departments' parts, one of them devolved to the
// township; each is decided on its own, and the county joins them.
func TestCompositeMatterIsDecidedInParallelAndJoined(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	t1 := startChild(t, "330324101", []string{county.URL()}, nil, county.clock, "")
	v11 := startChild(t, "330324101201", []string{t1.URL()}, nil, county.clock, "")
	_, err := county.deleg.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "GA-001", Unit: "330324101", Mode: "devolve"}))
	require.NoError(t, err)
	eventually(t, func() bool { ds, _ := v11.Rules.Delegations(false, "GA-001", ""); return len(ds) == 1 }, "delegation reaches the village")

	a := v11.accept(t, birthRequest("33032419900721402"))
	require.Equal(t, "330324", a.GetProcessingUnit())
	id := a.GetId()
	eventually(t, func() bool {
		x, _, err := county.Rules.GetApplication(id)
		return err == nil && x.GetState() == rules.StateReceived && len(x.GetTasks()) == 4
	}, "county receives the application and its four parts")
	x, _, err := county.Rules.GetApplication(id)
	require.NoError(t, err)
	where := map[string]string{}
	for _, tk := range x.GetTasks() {
		where[tk.GetPartCode()] = tk.GetProcessingUnit()
		require.Equal(t, rules.TaskOpen, tk.GetState())
	}
	require.Equal(t, map[string]string{"WJ-003": "330324", "GA-001": "330324101", "YB-001": "330324", "RS-003": "330324"}, where)

	// The application itself is not decided directly.
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "part")
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: "ZZ-001", Approve: true}))
	requireCode(t, err, connect.CodeNotFound, "part")
	_, err = t1.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: "YB-001", Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "holder")

	// The township's to-do list holds its part.
	eventually(t, func() bool {
		as, _, err := t1.Rules.ListApplications(rules.AppFilter{HeldOnly: true})
		return err == nil && len(as) == 1 && as[0].GetId() == id
	}, "the township's part is on its list")

	// Departments decide in parallel; the application waits for all.
	for _, part := range []string{"WJ-003", "YB-001", "RS-003"} {
		res, err := county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: part, Approve: true, Reason: "符合条件"}))
		require.NoError(t, err)
		require.Equal(t, rules.StateReceived, res.Msg.GetApplication().GetState())
	}
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: "RS-003", Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")
	eventually(t, func() bool {
		x, _, err := t1.Rules.GetApplication(id)
		return err == nil && len(x.GetTasks()) == 4
	}, "the township sees the parts")
	_, err = t1.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: "GA-001", Approve: true, Reason: "已落户"}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(county, id); return x != nil && x.GetState() == rules.StateApproved }, "the county joins the parts")
	eventually(t, func() bool { x := appOn(v11, id); return x != nil && x.GetState() == rules.StateApproved }, "one result back at the window")
	require.Equal(t, "330324101201", appOn(v11, id).GetHolder())
	_, err = v11.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: id, Method: "window"}))
	require.NoError(t, err)

	// One part refused: the whole is refused, with the reason.
	b := v11.accept(t, birthRequest("33032419880101402"))
	eventually(t, func() bool {
		x, _, err := county.Rules.GetApplication(b.GetId())
		return err == nil && x.GetState() == rules.StateReceived && len(x.GetTasks()) == 4
	}, "second one arrives")
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: b.GetId(), Part: "YB-001", Approve: false, Reason: "已在外地参保"}))
	require.NoError(t, err)
	for _, part := range []string{"WJ-003", "RS-003"} {
		_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: b.GetId(), Part: part, Approve: true}))
		require.NoError(t, err)
	}
	eventually(t, func() bool { x, _, _ := t1.Rules.GetApplication(b.GetId()); return x != nil && len(x.GetTasks()) == 4 }, "township sees the parts")
	_, err = t1.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: b.GetId(), Part: "GA-001", Approve: true}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(v11, b.GetId()); return x != nil && x.GetState() == rules.StateRejected }, "refusal reaches the window")
	require.Contains(t, appOn(v11, b.GetId()).GetDecision().GetReason(), "已在外地参保")

	for _, n := range []*testNode{county, t1, v11} {
		q, held := n.Store.SyncCounts()
		require.Zero(t, q, "%s", n.Store.Unit())
		require.Zero(t, held)
		_, err := n.Store.Verify()
		require.NoError(t, err)
	}
}

// TestACompositeDecidedDuringASupplementIsJoinedWhenSupplied: the
// departments decide every part while the applicant is asked for a
// supplement; when it is handed in (at the county's own window, or at a
// village's, arriving by sync), the application is decided.
func TestACompositeDecidedDuringASupplementIsJoinedWhenSupplied(t *testing.T) {
	ctx := context.Background()
	decideAll := func(n *testNode, a *pb.Application) {
		for _, p := range a.GetParts() {
			_, err := n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Part: p, Approve: true}))
			require.NoError(t, err, p)
		}
	}
	ask := &pb.RequestSupplementRequest{Materials: []string{"父母结婚证"}, Reason: "需父母结婚证"}

	t.Run("at the county's window", func(t *testing.T) {
		n := startTestNode(t, "330324", "", nil)
		n.importSeed(t)
		a := n.accept(t, birthRequest("33032419900721402"))
		ask.Id = a.GetId()
		_, err := n.apps.RequestSupplement(ctx, req(ask))
		require.NoError(t, err)
		decideAll(n, a)
		require.Equal(t, rules.StateSupplementRequested, appOn(n, a.GetId()).GetState(), "waits for the supplement")
		res, err := n.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: a.GetId(), Materials: []string{"父母结婚证"}}))
		require.NoError(t, err)
		require.Equal(t, rules.StateApproved, res.Msg.GetApplication().GetState(), "the answer says so")
		require.Equal(t, rules.StateApproved, appOn(n, a.GetId()).GetState())
	})

	t.Run("at a village's window", func(t *testing.T) {
		county, _, vill := smallNet(t)
		a := vill.accept(t, birthRequest("33032419900721402"))
		eventually(t, func() bool { x := appOn(county, a.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "the county receives it")
		ask.Id = a.GetId()
		_, err := county.apps.RequestSupplement(ctx, req(ask))
		require.NoError(t, err)
		decideAll(county, a)
		eventually(t, func() bool {
			x := appOn(vill, a.GetId())
			return x != nil && x.GetState() == rules.StateSupplementRequested
		}, "the village is asked")
		_, err = vill.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: a.GetId(), Materials: []string{"父母结婚证"}}))
		require.NoError(t, err)
		eventually(t, func() bool { x := appOn(county, a.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "the county joins the parts")
		eventually(t, func() bool { x := appOn(vill, a.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "the result is back at the window")
	})
}

// TestAPartOfAWithdrawnApplicationIsNotDecided: once the application is
// withdrawn its parts are refused a decision, naming the state, and an
// open part no longer puts it on a department's list.
func TestAPartOfAWithdrawnApplicationIsNotDecided(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	a := n.accept(t, birthRequest("33032419900721402"))
	_, err := n.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: a.GetId(), Reason: "申请人不办了"}))
	require.NoError(t, err)
	head := n.Store.FeedHead()
	_, err = n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Part: a.GetParts()[0], Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")
	require.Equal(t, head, n.Store.FeedHead(), "nothing written")

	// That the open part no longer lists it: rules.TestAWithdrawnApplicationsOpenPartIsNotHeld.
}
