package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// TestRefusalAtAVillageIsCountedAtTheCounty: a village worker refuses at
// the window (不予受理) over the API, by the matter's common name; the
// answer masks the identity number; the refusal goes up through the
// township, and the county's figures count it in the village's subtree,
// not among the accepted. An approver may list refusals but not refuse.
func TestRefusalAtAVillageIsCountedAtTheCounty(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	town := startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	village := startTLSNode(t, "330324101201", issueBundle(t, ca, "330324101201", auth.RoleNode), []string{town.URL()}, nil)
	county.importSeed(t)
	county.importUnits(t)
	ctx := context.Background()
	village.signIn(t, county, "wangfang", rules.RoleWorker)
	require.Eventually(t, func() bool {
		_, err := village.Rules.GetMatter("MZ-005")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the catalog reaches the village")

	const reason = "申请人未满 60 周岁，不符合老年人优待证办理条件"
	refuse := func(c *testNode, matter, id, reason string) (*pb.Refusal, error) {
		res, err := c.apps.RefuseApplication(ctx, connect.NewRequest(&pb.RefuseApplicationRequest{MatterCode: matter,
			Applicant: &pb.Applicant{Name: "李建国", IdNumber: id, Phone: "13857701234"}, Reason: reason}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetRefusal(), nil
	}
	_, err := refuse(village, "老年证", idLi, " ")
	requireCode(t, err, connect.CodeInvalidArgument, "reason")
	_, err = refuse(village, "老年证", idLi[:17]+"0", reason)
	requireCode(t, err, connect.CodeInvalidArgument, "applicant.id_number")
	_, err = refuse(village, "没有这个事项", idLi, reason)
	requireCode(t, err, connect.CodeNotFound, "matter_code")

	r, err := refuse(village, "老年证", idLi, reason)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(r.GetId(), "330324101201-20261123-"), r.GetId())
	require.Equal(t, "MZ-005", r.GetMatterCode(), "the common name resolved")
	require.Equal(t, rules.MaskIDNumber(idLi), r.GetApplicant().GetIdNumber(), "masked in the answer")
	require.Equal(t, rules.MaskPhone("13857701234"), r.GetApplicant().GetPhone())
	require.Equal(t, reason, r.GetReason())
	require.Equal(t, "测试wangfang", r.GetActor())
	require.NotEmpty(t, r.GetUnitName(), "the village's name")
	require.NotEmpty(t, r.GetDepartmentName())

	list, err := village.apps.ListRefusals(ctx, connect.NewRequest(&pb.ListRefusalsRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetRefusals(), 1)
	require.Equal(t, rules.MaskIDNumber(idLi), list.Msg.GetRefusals()[0].GetApplicant().GetIdNumber())
	_, err = village.apps.ListRefusals(ctx, connect.NewRequest(&pb.ListRefusalsRequest{Id: "330324101201-20261123-000099"}))
	requireCode(t, err, connect.CodeNotFound, "id")

	// Up to the county: its figures count it, in the village's subtree.
	require.Eventually(t, func() bool {
		st, err := county.status.GetStats(ctx, connect.NewRequest(&pb.GetStatsRequest{Unit: "城关镇"}))
		require.NoError(t, err)
		return st.Msg.GetRefused() == 1
	}, 15*time.Second, 50*time.Millisecond, "the refusal counted at the county")
	st, err := county.status.GetStats(ctx, connect.NewRequest(&pb.GetStatsRequest{}))
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Msg.GetRefused())
	require.EqualValues(t, 0, st.Msg.GetAccepted(), "a refusal is not an acceptance")
	for _, other := range []*pb.GetStatsRequest{{Unit: "330324102"}, {Department: "GA"}, {From: "2026-11-24"}} {
		st, err := county.status.GetStats(ctx, connect.NewRequest(other))
		require.NoError(t, err)
		require.EqualValues(t, 0, st.Msg.GetRefused(), "%v", other)
	}
	seen, err := county.apps.ListRefusals(ctx, connect.NewRequest(&pb.ListRefusalsRequest{Unit: "330324101", MatterCode: "老年证"}))
	require.NoError(t, err)
	require.Len(t, seen.Msg.GetRefusals(), 1)
	require.Equal(t, r.GetId(), seen.Msg.GetRefusals()[0].GetId())
	require.Equal(t, rules.MaskIDNumber(idLi), seen.Msg.GetRefusals()[0].GetApplicant().GetIdNumber(), "masked at the county too")

	// An approver reads refusals but does not refuse.
	approver := callAs(county, tokenOf(t, county, "mz.zhouhong", "MZ", rules.RoleApprover))
	_, err = approver.apps.RefuseApplication(ctx, connect.NewRequest(&pb.RefuseApplicationRequest{MatterCode: "MZ-005",
		Applicant: &pb.Applicant{Name: "李建国", IdNumber: idLi}, Reason: reason}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "%v", err)
	_, err = approver.apps.ListRefusals(ctx, connect.NewRequest(&pb.ListRefusalsRequest{}))
	require.NoError(t, err)
}
