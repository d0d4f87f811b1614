package node

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/sync"
)

func requestOn(n *testNode, appID, id string) *pb.Request {
	var r *pb.Request
	_ = n.Store.View(func(rd store.Reader) error {
		rec, err := rd.Record(requestKey(appID, id))
		if err != nil || rec == nil {
			return err
		}
		r, err = decodeRecord(rec, &pb.Request{})
		return err
	})
	return r
}

// TestTheWindowAsksTheHolder: once an application has gone up to the
// county, the applicant can still withdraw it, or hand in what was
// missing, at the village window; the county answers.
func TestTheWindowAsksTheHolder(t *testing.T) {
	ctx := context.Background()
	county := startTestNode(t, "330324", "", nil)
	county.importSeed(t)
	town := startChild(t, "330324101", []string{county.URL()}, nil, county.clock, "")
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	link := sync.NewFaultTransport(&http.Transport{Protocols: protocols}, 3)
	vill := startChild(t, "330324101201", []string{town.URL()}, link, county.clock, "")
	eventually(t, func() bool { _, err := vill.Rules.GetMatter("SJ-001"); return err == nil }, "catalog reaches the village")
	received := func(id string) func() bool {
		return func() bool { x := appOn(county, id); return x != nil && x.GetState() == rules.StateReceived }
	}

	// 容缺 material handed in at the window after forwarding.
	food := vill.accept(t, &pb.AcceptApplicationRequest{MatterCode: "SJ-001", Applicant: &pb.Applicant{Name: "陈小梅", IdNumber: idWang},
		Materials: []string{"食品经营许可申请书", "营业执照", "法定代表人（负责人）居民身份证", "经营场所平面布局图及设备布局、操作流程文件"},
		Missing:   []string{"食品安全管理制度文本"}})
	eventually(t, received(food.GetId()), "county receives")
	_, err := vill.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: food.GetId(), Materials: []string{"营业执照副本"}}))
	requireCode(t, err, connect.CodeInvalidArgument, "materials")
	sup, err := vill.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: food.GetId(), Materials: []string{"食品安全管理制度文本"}}))
	require.NoError(t, err)
	r := sup.Msg.GetRequest()
	require.Equal(t, rules.RequestSupply, r.GetKind())
	require.Equal(t, "330324", r.GetHolder())
	eventually(t, func() bool { x := appOn(county, food.GetId()); return len(x.GetMaterialsMissing()) == 0 }, "the county records the material")
	eventually(t, func() bool { x := requestOn(vill, food.GetId(), r.GetId()); return x.GetState() == rules.RequestDone }, "the window sees it done")
	eventually(t, func() bool { x := appOn(vill, food.GetId()); return len(x.GetMaterialsMissing()) == 0 }, "and the material recorded")

	// Withdrawal at the window.
	w := vill.accept(t, acceptReq())
	eventually(t, received(w.GetId()), "county receives")
	_, err = vill.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: w.GetId()}))
	requireCode(t, err, connect.CodeInvalidArgument, "reason")
	wd, err := vill.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: w.GetId(), Reason: "不再需要"}))
	require.NoError(t, err)
	require.NotNil(t, wd.Msg.GetRequest())
	eventually(t, func() bool { x := appOn(vill, w.GetId()); return x.GetState() == rules.StateWithdrawn }, "withdrawn, back at the window")
	require.True(t, strings.HasPrefix(appOn(county, w.GetId()).GetWithdrawal().GetReason(), "申请人在 330324101201 窗口申请撤回"))

	// Too late: the county decided while the village was cut off.
	late := vill.accept(t, acceptReq())
	eventually(t, received(late.GetId()), "county receives")
	link.Set(sync.Faults{Cut: true})
	lr, err := vill.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: late.GetId(), Reason: "不办了"}))
	require.NoError(t, err)
	_, err = county.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: late.GetId(), Approve: true}))
	require.NoError(t, err)
	link.Heal()
	eventually(t, func() bool {
		x := requestOn(vill, late.GetId(), lr.Msg.GetRequest().GetId())
		return x.GetState() == rules.RequestRefused
	}, "the refusal comes back")
	require.Contains(t, requestOn(vill, late.GetId(), lr.Msg.GetRequest().GetId()).GetAnswer(), "已办结")
	require.Equal(t, rules.StateApproved, appOn(vill, late.GetId()).GetState())
	// Once the window knows it is decided, it says so at once.
	_, err = vill.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: late.GetId(), Reason: "不办了"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")

	for _, n := range []*testNode{county, town, vill} {
		q, held := n.Store.SyncCounts()
		require.Zero(t, q, "%s", n.Store.Unit())
		require.Zero(t, held)
		_, err := n.Store.Verify()
		require.NoError(t, err)
	}
}
