package node

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

func sweep(t *testing.T, n *testNode) *pb.ListApplicationsResponse {
	out, err := n.Store.Apply(context.Background(), &pb.Command{NowMs: n.clock.Now().UnixMilli(), Actor: "系统", Op: &pb.Command_Sweep{Sweep: &pb.Sweep{}}})
	require.NoError(t, err)
	return out.(*pb.ListApplicationsResponse)
}

// TestRongqueLapsesIntoAWithdrawalNotice: materials accepted as missing
// and not supplied by the deadline the catalog sets end the application
// with a notice; supplied in time, nothing happens.
func TestRongqueLapsesIntoAWithdrawalNotice(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil) // Monday 2026-11-23
	n.importSeed(t)
	food := func() *pb.AcceptApplicationRequest {
		return &pb.AcceptApplicationRequest{MatterCode: "SJ-001", Applicant: &pb.Applicant{Name: "陈小梅", IdNumber: idWang},
			Materials: []string{"食品经营许可申请书", "营业执照", "法定代表人（负责人）居民身份证", "经营场所平面布局图及设备布局、操作流程文件"},
			Missing:   []string{"食品安全管理制度文本"}}
	}
	late := n.accept(t, food())
	onTime := n.accept(t, food())
	_, err := n.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: onTime.GetId(), Materials: []string{"食品安全管理制度文本"}}))
	require.NoError(t, err)
	require.Equal(t, "2026-12-07", late.GetDeadline().GetSupplementDue()) // 10 working days

	n.clock.Set(at("2026-12-07", 17)) // the last day: not yet
	require.Zero(t, sweep(t, n).GetTotal())
	n.clock.Set(at("2026-12-08", 9))
	swept := sweep(t, n)
	require.Equal(t, uint32(1), swept.GetTotal())
	require.Equal(t, late.GetId(), swept.GetApplications()[0].GetId())
	show, err := n.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: late.GetId()}))
	require.NoError(t, err)
	require.Equal(t, rules.StateWithdrawn, show.Msg.GetApplication().GetState())
	require.Equal(t, rules.LapseReason, show.Msg.GetApplication().GetWithdrawal().GetReason())
	require.Equal(t, rules.StateAccepted, appOn(n, onTime.GetId()).GetState())
	require.Zero(t, sweep(t, n).GetTotal(), "a second sweep finds nothing")
}

// TestLowRatingOpensAFollowUpTheCountySees: a 差评 at the village window
// opens a follow-up held by the deciding unit, with its callback and fix
// deadlines, visible at the county.
func TestLowRatingOpensAFollowUpTheCountySees(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	town := startChild(t, "330324101", []string{county.URL()}, nil, county.clock, "")
	vill := startChild(t, "330324101201", []string{town.URL()}, nil, county.clock, "")
	eventually(t, func() bool { _, err := vill.Rules.GetMatter("MZ-005"); return err == nil }, "catalog reaches the village")
	a := vill.accept(t, acceptReq())
	eventually(t, func() bool { x := appOn(county, a.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "county receives")
	_, err := county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(vill, a.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "decision comes back")
	_, err = vill.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: a.GetId(), Method: "window"}))
	require.NoError(t, err)
	_, err = vill.apps.RateApplication(ctx, req(&pb.RateApplicationRequest{Id: a.GetId(), Score: 1, Comment: "窗口说法前后不一"}))
	require.NoError(t, err)

	var f *pb.FollowUp
	eventually(t, func() bool {
		fs, err := county.Rules.FollowUps(true)
		if err != nil || len(fs) != 1 {
			return false
		}
		f = fs[0]
		return true
	}, "the county sees the follow-up")
	require.Equal(t, "330324", f.GetHolder())
	require.Equal(t, "2026-11-24", f.GetCallbackDue())
	require.Equal(t, "2026-12-14", f.GetFixDue())
	require.Equal(t, uint32(1), f.GetScore())

	// The village cannot answer for the county; order matters.
	_, err = vill.apps.UpdateFollowUp(ctx, req(&pb.UpdateFollowUpRequest{ApplicationId: a.GetId(), Step: "called_back", Note: "已回访"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "holder")
	_, err = county.apps.UpdateFollowUp(ctx, req(&pb.UpdateFollowUpRequest{ApplicationId: a.GetId(), Step: "fixed", Note: "已整改"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "step")
	_, err = county.apps.UpdateFollowUp(ctx, req(&pb.UpdateFollowUpRequest{ApplicationId: a.GetId(), Step: "lost"}))
	requireCode(t, err, connect.CodeInvalidArgument, "step")

	county.clock.Set(at("2026-11-25", 10)) // callback late
	fs, err := county.apps.ListFollowUps(ctx, req(&pb.ListFollowUpsRequest{OpenOnly: true}))
	require.NoError(t, err)
	require.True(t, fs.Msg.GetFollowUps()[0].GetCallbackOverdue())
	require.False(t, fs.Msg.GetFollowUps()[0].GetFixOverdue())
	_, err = county.apps.UpdateFollowUp(ctx, req(&pb.UpdateFollowUpRequest{ApplicationId: a.GetId(), Step: "called_back", Note: "电话回访，已致歉"}))
	require.NoError(t, err)
	up, err := county.apps.UpdateFollowUp(ctx, req(&pb.UpdateFollowUpRequest{ApplicationId: a.GetId(), Step: "fixed", Note: "统一一次告知口径"}))
	require.NoError(t, err)
	require.Equal(t, rules.FollowUpFixed, up.Msg.GetFollowUp().GetState())
	eventually(t, func() bool {
		fs, _ := vill.Rules.FollowUps(false)
		return len(fs) == 1 && fs[0].GetState() == rules.FollowUpFixed
	}, "the window sees it fixed")
	open, err := county.apps.ListFollowUps(ctx, req(&pb.ListFollowUpsRequest{OpenOnly: true}))
	require.NoError(t, err)
	require.Empty(t, open.Msg.GetFollowUps())
}

// TestAMissingMaterialHandedInWithASupplementIsNoLongerMissing: a 容缺
// material handed in together with a supplement counts as handed in: the
// application can be approved, and the sweep does not withdraw it when
// the 容缺 term runs out.
func TestAMissingMaterialHandedInWithASupplementIsNoLongerMissing(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	res, err := n.apps.AcceptApplication(ctx, req(&pb.AcceptApplicationRequest{
		MatterCode: "SJ-001",
		Applicant:  &pb.Applicant{Name: "陈小梅", IdNumber: idWang},
		Materials:  []string{"食品经营许可申请书", "营业执照", "法定代表人（负责人）居民身份证", "经营场所平面布局图及设备布局、操作流程文件"},
		Missing:    []string{"食品安全管理制度文本"},
	}))
	require.NoError(t, err)
	id := res.Msg.GetApplication().GetId()
	_, err = n.apps.RequestSupplement(ctx, req(&pb.RequestSupplementRequest{Id: id, Materials: []string{"营业执照"}, Reason: "营业执照已过期"}))
	require.NoError(t, err)
	sup, err := n.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: id, Materials: []string{"营业执照", "食品安全管理制度文本"}}))
	require.NoError(t, err)
	require.Empty(t, sup.Msg.GetApplication().GetMaterialsMissing())
	require.Contains(t, sup.Msg.GetApplication().GetMaterialsReceived(), "食品安全管理制度文本")

	n.clock.Set(at("2026-12-09", 10)) // past the 容缺 term
	sweep(t, n)
	require.Equal(t, rules.StateSupplemented, appOn(n, id).GetState(), "not withdrawn")
	_, err = n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Approve: true}))
	require.NoError(t, err)
}
