package node

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// TestStatsMatchAHandComputedFixture: five applications whose figures are
// worked out by hand in the comments.
func TestStatsMatchAHandComputedFixture(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	do := func(date string, hour int, op *pb.Command) *pb.Application {
		n.clock.Set(at(date, hour))
		op.NowMs, op.Actor = n.clock.Now().UnixMilli(), "测试"
		out, err := n.Store.Apply(ctx, op)
		require.NoError(t, err)
		a, _ := out.(*pb.Application)
		return a
	}
	accept := func(r *pb.AcceptApplicationRequest) string {
		return do("2026-11-23", 10, &pb.Command{Op: &pb.Command_Accept{Accept: r}}).GetId()
	}
	decide := func(date string, hour int, id string) {
		do(date, hour, &pb.Command{Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: id, Approve: true, Reason: "同意"}}})
	}
	rate := func(date string, hour int, id string, score uint32) {
		do(date, hour, &pb.Command{Op: &pb.Command_Deliver{Deliver: &pb.DeliverApplicationRequest{Id: id, Method: "window"}}})
		do(date, hour, &pb.Command{Op: &pb.Command_Rate{Rate: &pb.RateApplicationRequest{Id: id, Score: score, Comment: "意见"}}})
	}
	mz001 := &pb.AcceptApplicationRequest{MatterCode: "MZ-001", Applicant: &pb.Applicant{Name: "王秀英", IdNumber: idWang},
		Materials: []string{"最低生活保障申请书", "家庭成员居民身份证", "家庭成员居民户口簿", "家庭经济状况核对授权书", "家庭收入及财产状况申报表"}}
	// All accepted Monday 2026-11-23. MZ-005: statutory 10 (due 12-07),
	// promised 0 (due the same day). MZ-001: statutory 30, promised 20.
	a1, a2, a3, a4, _ := accept(acceptReq()), accept(acceptReq()), accept(mz001), accept(acceptReq()), accept(acceptReq())
	// a6 is withdrawn after its due date (12-07): it stays overdue. a7 is
	// accepted with a 容缺 material the sweep withdraws it for.
	a6 := accept(acceptReq())
	lapsing := proto.Clone(mz001).(*pb.AcceptApplicationRequest)
	lapsing.Materials, lapsing.Missing = lapsing.Materials[:2], []string{"家庭成员居民户口簿"}
	lapsing.Materials = append(lapsing.Materials, mz001.Materials[3:]...)
	accept(lapsing)
	decide("2026-11-23", 11, a1) // 0 days used; on time; not before the promised day
	rate("2026-11-23", 12, a1, 5)
	do("2026-11-24", 10, &pb.Command{Op: &pb.Command_Withdraw{Withdraw: &pb.WithdrawApplicationRequest{Id: a4, Reason: "撤回"}}})
	decide("2026-11-25", 10, a3) // 2 days used; early
	decide("2026-12-09", 10, a2) // 12 days used; late
	rate("2026-12-09", 11, a2, 2)
	do("2026-12-08", 10, &pb.Command{Op: &pb.Command_Withdraw{Withdraw: &pb.WithdrawApplicationRequest{Id: a6, Reason: "申请人不再需要"}}})
	n.clock.Set(at("2026-12-09", 11))
	_, err := n.Store.Apply(ctx, &pb.Command{NowMs: n.clock.Now().UnixMilli(), Actor: "系统", Op: &pb.Command_Sweep{Sweep: &pb.Sweep{}}})
	require.NoError(t, err)
	n.clock.Set(at("2026-12-09", 12)) // a5 undecided, past 12-07: overdue

	st, err := n.status.GetStats(ctx, req(&pb.GetStatsRequest{}))
	require.NoError(t, err)
	s := st.Msg
	require.Equal(t, uint32(66), s.GetMatters())
	require.InDelta(t, 61.0/66, s.GetOneTripShare(), 1e-9) // 26 zero-visit + 35 one-visit of 66
	require.InDelta(t, 26.0/66, s.GetZeroVisitShare(), 1e-9)
	require.Equal(t, uint64(7), s.GetAccepted())
	require.Equal(t, uint64(3), s.GetDecided())
	require.Equal(t, uint64(3), s.GetWithdrawn())        // a4, a6, a7
	require.Equal(t, uint64(1), s.GetWithdrawnBySweep()) // a7
	require.Equal(t, uint64(2), s.GetOnTime())
	require.Equal(t, uint64(1), s.GetEarly())
	require.Equal(t, uint64(3), s.GetOverdue()) // a2 late, a5 undecided, a6 withdrawn after its due date
	require.InDelta(t, 2.0/3, s.GetOnTimeRate(), 1e-9)
	require.InDelta(t, 14.0/3, s.GetAverageWorkingDays(), 1e-9) // (0 + 12 + 2) / 3
	require.InDelta(t, 50.0/3, s.GetAverageStatutoryDays(), 1e-9)
	require.InDelta(t, 1-14.0/50, s.GetCompression(), 1e-9)
	require.Equal(t, uint64(2), s.GetRated())
	require.InDelta(t, 3.5, s.GetSatisfaction(), 1e-9)
	require.Equal(t, []uint64{0, 1, 0, 0, 1}, s.GetSatisfactionDistribution())
	require.Zero(t, s.GetNearbyShare(), "all accepted where decided")

	gaOnly, err := n.status.GetStats(ctx, req(&pb.GetStatsRequest{Department: "GA"}))
	require.NoError(t, err)
	require.Zero(t, gaOnly.Msg.GetAccepted())
	later, err := n.status.GetStats(ctx, req(&pb.GetStatsRequest{From: "2026-11-24"}))
	require.NoError(t, err)
	require.Zero(t, later.Msg.GetAccepted())
	_, err = n.status.GetStats(ctx, req(&pb.GetStatsRequest{From: "24/11/2026"}))
	requireCode(t, err, connect.CodeInvalidArgument, "from")
	_, err = n.status.GetStats(ctx, req(&pb.GetStatsRequest{Unit: "33032"}))
	requireCode(t, err, connect.CodeInvalidArgument, "unit")
}
