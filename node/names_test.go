package node

import (
	"bytes"
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node/rules"
)

func (n *testNode) units() jiujinv1connect.UnitServiceClient {
	bearer := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if tok := n.token.Load(); tok != nil {
				req.Header().Set("Authorization", "Bearer "+*tok)
			}
			return next(ctx, req)
		}
	}))
	return jiujinv1connect.NewUnitServiceClient(n.hc, n.URL(), bearer)
}

func (n *testNode) importUnits(t testing.TB) {
	t.Helper()
	units, err := delegation.ParseUnitsYAML(bytes.NewReader(seed.Units))
	require.NoError(t, err)
	_, err = n.units().SetUnits(context.Background(), req(units))
	require.NoError(t, err)
}

// TestNamesTravelAndArePrintedBesideCodes: the county names its units;
// the names reach a village, whose receipt, record and history name the
// units (and give the window's phone), and a receipt can be printed again.
func TestNamesTravelAndArePrintedBesideCodes(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	town := startChild(t, "330324101", []string{county.URL()}, nil, county.clock, "")
	village := startChild(t, "330324101201", []string{town.URL()}, nil, county.clock, "")

	_, err := town.units().SetUnits(ctx, req(&pb.SetUnitsRequest{Units: []*pb.Unit{{Code: "330324101", Name: "城关"}}}))
	requireCode(t, err, connect.CodeFailedPrecondition, "unit")
	county.importUnits(t)
	eventually(t, func() bool { return village.Rules.UnitName("330324101201") == "城东社区" }, "names reach the village")
	list, err := village.units().ListUnits(ctx, req(&pb.ListUnitsRequest{Query: "青山"}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetUnits(), 2, "青山乡 and 青山村")

	res, err := village.apps.AcceptApplication(ctx, req(acceptReq()))
	require.NoError(t, err)
	r := res.Msg.GetReceipt()
	require.Equal(t, "城东社区", r.GetAcceptingUnitName())
	require.Equal(t, "示范县", r.GetProcessingUnitName())
	require.Equal(t, "0570-6021201", r.GetAcceptingUnitPhone())
	require.Contains(t, r.GetAcceptingUnitAddress(), "东门路")
	id := res.Msg.GetApplication().GetId()

	eventually(t, func() bool { x := appOn(county, id); return x != nil && x.GetState() == rules.StateReceived }, "the county receives it")
	got, err := county.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: id}))
	require.NoError(t, err)
	a := got.Msg.GetApplication()
	require.Equal(t, "城东社区", a.GetAcceptingUnitName())
	require.Equal(t, "示范县", a.GetHolderName())
	require.Equal(t, "县民政局", a.GetDepartmentName())
	require.Equal(t, "0570-6021201", got.Msg.GetReceipt().GetAcceptingUnitPhone(), "the receipt printed again")
	require.Equal(t, r.GetPromisedDue(), got.Msg.GetReceipt().GetPromisedDue())
	var named bool
	for _, h := range got.Msg.GetHistory() {
		if h.GetKind() == rules.KindAppForwarded {
			require.Equal(t, "城东社区", h.GetUnitName())
			require.Contains(t, h.GetSummary(), "示范县（330324）")
			named = true
		}
	}
	require.True(t, named, "the forwarding is in the history")
}

// TestFlagsTakeNames: a delegation granted by names (事项常用名、单位名、
// 方式), an ambiguous unit refused with the candidates, a delivery way in
// Chinese.
func TestFlagsTakeNames(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	county.importUnits(t)

	g, err := county.deleg.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "老年证", Unit: "城关镇", Mode: "下放"}))
	require.NoError(t, err)
	require.Equal(t, "MZ-005", g.Msg.GetDelegation().GetMatterCode())
	require.Equal(t, "330324101", g.Msg.GetDelegation().GetUnit())
	require.Equal(t, delegation.ModeDevolve, g.Msg.GetDelegation().GetMode())

	_, err = county.deleg.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-006", Unit: "青山", Mode: "委托"}))
	requireCode(t, err, connect.CodeInvalidArgument, "unit")
	require.Contains(t, err.Error(), "青山乡（330324102）")
	_, err = county.deleg.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "MZ-006", Unit: "330324102", Mode: "delegate"}))
	requireCode(t, err, connect.CodeInvalidArgument, "mode")
	_, err = county.catalog.GetMatter(ctx, req(&pb.GetMatterRequest{Code: "低保"}))
	require.NoError(t, err)
	ms, err := county.catalog.ListMatters(ctx, req(&pb.ListMattersRequest{Department: "民政"}))
	require.NoError(t, err)
	require.NotEmpty(t, ms.Msg.GetMatters())
	for _, m := range ms.Msg.GetMatters() {
		require.Equal(t, "MZ", m.GetDepartment())
	}

	a := county.accept(t, acceptReq())
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: a.GetId(), Approve: true}))
	require.NoError(t, err)
	_, err = county.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: a.GetId(), Method: "柜台"}))
	requireCode(t, err, connect.CodeInvalidArgument, "method")
	d, err := county.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: a.GetId(), Method: "窗口"}))
	require.NoError(t, err)
	require.Equal(t, "window", d.Msg.GetApplication().GetDelivery().GetMethod())
}

// TestToDoListsAreToDoLists: --mine is what waits on the unit (open
// applications and open parts, oldest due first), not what it finished;
// a department or a matter finds the composite applications whose part it
// is; an applicant is found by name or identity number.
func TestToDoListsAreToDoLists(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	list := func(f *pb.ListApplicationsRequest) []string {
		res, err := county.apps.ListApplications(ctx, req(f))
		require.NoError(t, err)
		var ids []string
		for _, a := range res.Msg.GetApplications() {
			ids = append(ids, a.GetId())
		}
		return ids
	}
	// 老年证: promised the same day; 低保 (MZ-001): later.
	long := county.accept(t, &pb.AcceptApplicationRequest{MatterCode: "MZ-001",
		Applicant: &pb.Applicant{Name: "李建国", IdNumber: idLi},
		Materials: []string{"最低生活保障申请书", "家庭成员居民身份证", "家庭成员居民户口簿", "家庭经济状况核对授权书", "家庭收入及财产状况申报表"}})
	county.clock.Set(county.clock.Now().Add(3600e9))
	short := county.accept(t, acceptReq())
	done := county.accept(t, acceptReq())
	birth := county.accept(t, birthRequest("33032419900721402"))
	_, err := county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: done.GetId(), Approve: true}))
	require.NoError(t, err)
	_, err = county.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: done.GetId(), Method: "window"}))
	require.NoError(t, err)

	mine := list(&pb.ListApplicationsRequest{Mine: true})
	require.NotContains(t, mine, done.GetId(), "handed out: nothing waits")
	require.Less(t, indexOf(mine, short.GetId()), indexOf(mine, long.GetId()), "the one due first comes first: %v", mine)
	require.Contains(t, mine, birth.GetId())
	require.Contains(t, list(&pb.ListApplicationsRequest{HeldOnly: true}), done.GetId(), "--mine --all: everything held")

	require.Equal(t, []string{birth.GetId()}, list(&pb.ListApplicationsRequest{MatterCode: "GA-001"}), "a part's matter")
	require.Equal(t, []string{birth.GetId()}, list(&pb.ListApplicationsRequest{Department: "公安"}), "a part's department, by name")
	require.ElementsMatch(t, []string{short.GetId(), done.GetId(), long.GetId()}, list(&pb.ListApplicationsRequest{Department: "MZ"}))

	require.ElementsMatch(t, []string{short.GetId(), done.GetId()}, list(&pb.ListApplicationsRequest{Applicant: "王秀"}))
	require.Equal(t, []string{long.GetId()}, list(&pb.ListApplicationsRequest{Applicant: idLi}))
	require.Equal(t, []string{long.GetId()}, list(&pb.ListApplicationsRequest{ApplicantIdSha256: rules.IDDigest(idLi)}))
	_, err = county.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{ApplicantIdSha256: []byte("short")}))
	requireCode(t, err, connect.CodeInvalidArgument, "applicant_id_sha256")
	_, err = county.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{Department: "不存在的局"}))
	requireCode(t, err, connect.CodeNotFound, "department")
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}
