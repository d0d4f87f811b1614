package node

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

func birthRequest(id17 string) *pb.AcceptApplicationRequest {
	return &pb.AcceptApplicationRequest{MatterCode: "YJS-002", // 出生一件事
		Applicant: &pb.Applicant{Name: "陈小梅", IdNumber: MakeIDNumber(id17)},
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
	eventually(t, func() bool { ds, _ := v11.Store.Delegations(false, "GA-001", ""); return len(ds) == 1 }, "delegation reaches the village")

	a := v11.accept(t, birthRequest("33032419900721402"))
	require.Equal(t, "330324", a.GetProcessingUnit())
	id := a.GetId()
	eventually(t, func() bool {
		x, _, err := county.Store.GetApplication(id)
		return err == nil && x.GetState() == StateReceived && len(x.GetTasks()) == 4
	}, "county receives the application and its four parts")
	x, _, err := county.Store.GetApplication(id)
	require.NoError(t, err)
	where := map[string]string{}
	for _, tk := range x.GetTasks() {
		where[tk.GetPartCode()] = tk.GetProcessingUnit()
		require.Equal(t, TaskOpen, tk.GetState())
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
		as, _, err := t1.Store.ListApplications(AppFilter{HeldOnly: true})
		return err == nil && len(as) == 1 && as[0].GetId() == id
	}, "the township's part is on its list")

	// Departments decide in parallel; the application waits for all.
	for _, part := range []string{"WJ-003", "YB-001", "RS-003"} {
		res, err := county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: part, Approve: true, Reason: "符合条件"}))
		require.NoError(t, err)
		require.Equal(t, StateReceived, res.Msg.GetApplication().GetState())
	}
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: "RS-003", Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")
	eventually(t, func() bool {
		x, _, err := t1.Store.GetApplication(id)
		return err == nil && len(x.GetTasks()) == 4
	}, "the township sees the parts")
	_, err = t1.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Part: "GA-001", Approve: true, Reason: "已落户"}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(county, id); return x != nil && x.GetState() == StateApproved }, "the county joins the parts")
	eventually(t, func() bool { x := appOn(v11, id); return x != nil && x.GetState() == StateApproved }, "one result back at the window")
	require.Equal(t, "330324101201", appOn(v11, id).GetHolder())
	_, err = v11.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: id, Method: "window"}))
	require.NoError(t, err)

	// One part refused: the whole is refused, with the reason.
	b := v11.accept(t, birthRequest("33032419880101402"))
	eventually(t, func() bool {
		x, _, err := county.Store.GetApplication(b.GetId())
		return err == nil && x.GetState() == StateReceived && len(x.GetTasks()) == 4
	}, "second one arrives")
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: b.GetId(), Part: "YB-001", Approve: false, Reason: "已在外地参保"}))
	require.NoError(t, err)
	for _, part := range []string{"WJ-003", "RS-003"} {
		_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: b.GetId(), Part: part, Approve: true}))
		require.NoError(t, err)
	}
	eventually(t, func() bool { x, _, _ := t1.Store.GetApplication(b.GetId()); return x != nil && len(x.GetTasks()) == 4 }, "township sees the parts")
	_, err = t1.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: b.GetId(), Part: "GA-001", Approve: true}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(v11, b.GetId()); return x != nil && x.GetState() == StateRejected }, "refusal reaches the window")
	require.Contains(t, appOn(v11, b.GetId()).GetDecision().GetReason(), "已在外地参保")

	for _, n := range []*testNode{county, t1, v11} {
		q, held := n.Store.SyncCounts()
		require.Zero(t, q, "%s", n.Store.Unit())
		require.Zero(t, held)
		_, err := n.Store.Verify()
		require.NoError(t, err)
	}
}
