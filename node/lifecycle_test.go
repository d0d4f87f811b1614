package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

func req[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }

func TestLifecycleFromWindowToRating(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil) // Monday 2026-11-23 10:00
	n.importSeed(t)

	// 容缺受理: the food-safety rules may follow within 10 working days.
	res, err := n.apps.AcceptApplication(ctx, req(&pb.AcceptApplicationRequest{
		MatterCode: "SJ-001",
		Applicant:  &pb.Applicant{Name: "陈小梅", IdNumber: idWang},
		Materials:  []string{"食品经营许可申请书", "营业执照", "法定代表人（负责人）居民身份证", "经营场所平面布局图及设备布局、操作流程文件"},
		Missing:    []string{"食品安全管理制度文本"},
	}))
	require.NoError(t, err)
	a := res.Msg.GetApplication()
	rc := res.Msg.GetReceipt()
	id := a.GetId()
	require.Equal(t, "330324-20261123-000001", id)
	require.Equal(t, rules.StateAccepted, a.GetState())
	require.Equal(t, "330324", a.GetHolder())
	require.Equal(t, auth.AnonymousName, a.GetAcceptedBy())
	require.Equal(t, []string{"食品安全管理制度文本"}, rc.GetMaterialsMissing())
	require.Equal(t, "2026-11-30", rc.GetPromisedDue())   // 5 working days
	require.Equal(t, "2026-12-21", rc.GetStatutoryDue())  // 20 working days
	require.Equal(t, "2026-12-07", rc.GetSupplementDue()) // 10 working days
	require.Equal(t, "330324********1225", rc.GetApplicantIdNumber())

	// Approval waits for the missing material.
	_, err = n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "materials_missing")
	_, err = n.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: id, Materials: []string{"营业执照副本"}}))
	requireCode(t, err, connect.CodeInvalidArgument, "materials")
	sup, err := n.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: id, Materials: []string{"食品安全管理制度文本"}}))
	require.NoError(t, err)
	require.Empty(t, sup.Msg.GetApplication().GetMaterialsMissing())
	require.Equal(t, rules.StateAccepted, sup.Msg.GetApplication().GetState())

	// 补正 on Tuesday, answered on Thursday: two working days paused.
	n.clock.Set(at("2026-11-24", 10))
	rs, err := n.apps.RequestSupplement(ctx, req(&pb.RequestSupplementRequest{Id: id, Materials: []string{"营业执照"}, Reason: "营业执照已过期"}))
	require.NoError(t, err)
	require.Equal(t, rules.StateSupplementRequested, rs.Msg.GetApplication().GetState())
	require.True(t, rs.Msg.GetApplication().GetDeadline().GetPaused())
	_, err = n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Approve: true}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")

	n.clock.Set(at("2026-11-26", 10))
	_, err = n.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: id, Materials: []string{"营业执照副本"}}))
	requireCode(t, err, connect.CodeFailedPrecondition, "materials")
	sd, err := n.apps.SupplyMaterials(ctx, req(&pb.SupplyMaterialsRequest{Id: id, Materials: []string{"营业执照"}}))
	require.NoError(t, err)
	a = sd.Msg.GetApplication()
	require.Equal(t, rules.StateSupplemented, a.GetState())
	require.False(t, a.GetDeadline().GetPaused())
	require.Equal(t, "2026-12-02", a.GetDeadline().GetPromisedDue(), "promised due moves back by the 2 paused working days")
	require.Equal(t, "2026-12-23", a.GetDeadline().GetStatutoryDue())
	require.Equal(t, int32(1), a.GetDeadline().GetWorkingDaysUsed())

	// Decide, hand back by post, rate.
	dec, err := n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: id, Approve: true, Reason: "符合条件"}))
	require.NoError(t, err)
	require.Equal(t, rules.StateApproved, dec.Msg.GetApplication().GetState())
	require.Equal(t, "330324", dec.Msg.GetApplication().GetDecision().GetUnit())

	_, err = n.apps.RateApplication(ctx, req(&pb.RateApplicationRequest{Id: id, Score: 5}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")
	_, err = n.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: id, Method: "post"}))
	requireCode(t, err, connect.CodeInvalidArgument, "tracking")
	_, err = n.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: id, Method: "drone"}))
	requireCode(t, err, connect.CodeInvalidArgument, "method")
	del, err := n.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: id, Method: "post", Tracking: "SF1403928475621"}))
	require.NoError(t, err)
	require.Equal(t, rules.StateDelivered, del.Msg.GetApplication().GetState())

	for _, bad := range []struct {
		score   uint32
		comment string
		field   string
	}{{0, "", "score"}, {6, "", "score"}, {2, "", "comment"}, {1, "  ", "comment"}, {5, strings.Repeat("长", 501), "comment"}} {
		_, err = n.apps.RateApplication(ctx, req(&pb.RateApplicationRequest{Id: id, Score: bad.score, Comment: bad.comment}))
		requireCode(t, err, connect.CodeInvalidArgument, bad.field)
	}
	rt, err := n.apps.RateApplication(ctx, req(&pb.RateApplicationRequest{Id: id, Score: 2, Comment: "补正通知不够清楚"}))
	require.NoError(t, err)
	require.Equal(t, rules.StateRated, rt.Msg.GetApplication().GetState())
	_, err = n.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: id, Reason: "不要了"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")

	show, err := n.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: id}))
	require.NoError(t, err)
	var kinds []string
	for _, h := range show.Msg.GetHistory() {
		kinds = append(kinds, h.GetKind())
	}
	require.Equal(t, []string{rules.KindAppAccepted, rules.KindAppMaterialsSupplied, rules.KindAppSupplementRequest, rules.KindAppSupplemented,
		rules.KindAppDecided, rules.KindAppDelivered, rules.KindAppRated, rules.KindFollowUpOpened}, kinds, "a rating of 2 opens a follow-up")
	require.Equal(t, uint64(7), show.Msg.GetApplication().GetVersion())

	rep, err := n.Store.Verify()
	require.NoError(t, err)
	require.Equal(t, n.Store.FeedHead(), rep.Events)
}

func TestWithdrawDuringSupplementClosesThePause(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	id := n.accept(t, acceptReq()).GetId()
	_, err := n.apps.RequestSupplement(ctx, req(&pb.RequestSupplementRequest{Id: id, Materials: []string{"近期一寸免冠证件照"}, Reason: "照片不合格"}))
	require.NoError(t, err)
	_, err = n.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: id}))
	requireCode(t, err, connect.CodeInvalidArgument, "reason")
	w, err := n.apps.WithdrawApplication(ctx, req(&pb.WithdrawApplicationRequest{Id: id, Reason: "申请人不再需要"}))
	require.NoError(t, err)
	a := w.Msg.GetApplication()
	require.Equal(t, rules.StateWithdrawn, a.GetState())
	require.NotNil(t, a.GetPauses()[0].GetSuppliedAt())
	require.False(t, a.GetDeadline().GetPaused())
	_, err = n.apps.DeliverApplication(ctx, req(&pb.DeliverApplicationRequest{Id: id, Method: "window"}))
	requireCode(t, err, connect.CodeFailedPrecondition, "state")
}

// TestAcceptRefusesBadInput: every malformed acceptance gets the right
// code, names the field, and writes nothing.
func TestAcceptRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	head := n.Store.FeedHead()
	mod := func(f func(r *pb.AcceptApplicationRequest)) *pb.AcceptApplicationRequest {
		r := acceptReq()
		f(r)
		return r
	}
	tests := []struct {
		name  string
		req   *pb.AcceptApplicationRequest
		code  connect.Code
		field string
		text  string
	}{
		{"unknown matter", mod(func(r *pb.AcceptApplicationRequest) { r.MatterCode = "GA-999" }), connect.CodeNotFound, "matter_code", "不在事项清单"},
		{"no matter", mod(func(r *pb.AcceptApplicationRequest) { r.MatterCode = "" }), connect.CodeInvalidArgument, "matter_code", ""},
		{"bad check digit", mod(func(r *pb.AcceptApplicationRequest) { r.Applicant.IdNumber = idWang[:17] + "0" }), connect.CodeInvalidArgument, "applicant.id_number", "校验位"},
		{"short id", mod(func(r *pb.AcceptApplicationRequest) { r.Applicant.IdNumber = "33032419580312" }), connect.CodeInvalidArgument, "applicant.id_number", "18 位"},
		{"bad birth date", mod(func(r *pb.AcceptApplicationRequest) { r.Applicant.IdNumber = rules.MakeIDNumber("33032419581312122") }), connect.CodeInvalidArgument, "applicant.id_number", "出生日期"},
		{"future birth", mod(func(r *pb.AcceptApplicationRequest) { r.Applicant.IdNumber = rules.MakeIDNumber("33032420991212122") }), connect.CodeInvalidArgument, "applicant.id_number", "出生日期"},
		{"no name", mod(func(r *pb.AcceptApplicationRequest) { r.Applicant.Name = " " }), connect.CodeInvalidArgument, "applicant.name", ""},
		{"long name", mod(func(r *pb.AcceptApplicationRequest) { r.Applicant.Name = strings.Repeat("王", 41) }), connect.CodeInvalidArgument, "applicant.name", "超过"},
		{"bad phone", mod(func(r *pb.AcceptApplicationRequest) { r.Applicant.Phone = "12345" }), connect.CodeInvalidArgument, "applicant.phone", ""},
		{"required material missing", mod(func(r *pb.AcceptApplicationRequest) { r.Materials = r.Materials[:1] }), connect.CodeFailedPrecondition, "materials", "近期一寸免冠证件照"},
		{"unknown material", mod(func(r *pb.AcceptApplicationRequest) { r.Materials = append(r.Materials, "介绍信") }), connect.CodeInvalidArgument, "materials[2]", "不在"},
		{"duplicate material", mod(func(r *pb.AcceptApplicationRequest) { r.Materials = append(r.Materials, "居民身份证") }), connect.CodeInvalidArgument, "materials[2]", "重复"},
		{"missing not allowed", mod(func(r *pb.AcceptApplicationRequest) {
			r.Materials = r.Materials[:1]
			r.Missing = []string{"近期一寸免冠证件照"}
		}), connect.CodeFailedPrecondition, "missing[0]", "不允许容缺"},
		{"missing and received", mod(func(r *pb.AcceptApplicationRequest) { r.Missing = []string{"居民身份证"} }), connect.CodeInvalidArgument, "missing[0]", ""},
		{"oversized note", mod(func(r *pb.AcceptApplicationRequest) { r.Note = strings.Repeat("x", 501) }), connect.CodeInvalidArgument, "note", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := n.apps.AcceptApplication(ctx, req(tt.req))
			requireCode(t, err, tt.code, tt.field)
			require.Contains(t, err.Error(), tt.text)
			require.Equal(t, head, n.Store.FeedHead(), "nothing written")
		})
	}
	// Unknown applications and transitions on them.
	_, err := n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: "330324-20261123-000999", Approve: true}))
	requireCode(t, err, connect.CodeNotFound, "id")
	_, err = n.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: ""}))
	requireCode(t, err, connect.CodeInvalidArgument, "id")
	_, err = n.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{State: "lost"}))
	requireCode(t, err, connect.CodeInvalidArgument, "state")
	require.Equal(t, head, n.Store.FeedHead())
	_, err = n.Store.Verify()
	require.NoError(t, err)
}

func TestIdentityNumbersAreMaskedAndRevealsAudited(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	a := n.accept(t, acceptReq())
	require.Equal(t, "330324********1225", a.GetApplicant().GetIdNumber())
	list, err := n.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{}))
	require.NoError(t, err)
	require.Equal(t, "330324********1225", list.Msg.GetApplications()[0].GetApplicant().GetIdNumber())
	require.Equal(t, "138****0101", list.Msg.GetApplications()[0].GetApplicant().GetPhone(), "phones are masked like identity numbers")
	show, err := n.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: a.GetId()}))
	require.NoError(t, err)
	require.Equal(t, "330324********1225", show.Msg.GetApplication().GetApplicant().GetIdNumber())
	require.NotContains(t, fmt.Sprint(show.Msg), idWang)
	require.NotContains(t, fmt.Sprint(show.Msg), "13857700101")

	_, err = n.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: a.GetId(), Reveal: true}))
	requireCode(t, err, connect.CodeInvalidArgument, "reveal_reason")
	rev, err := n.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: a.GetId(), Reveal: true, RevealReason: "核对户籍"}))
	require.NoError(t, err)
	require.Equal(t, idWang, rev.Msg.GetApplication().GetApplicant().GetIdNumber())
	require.Equal(t, "13857700101", rev.Msg.GetApplication().GetApplicant().GetPhone())
	last := rev.Msg.GetHistory()[len(rev.Msg.GetHistory())-1]
	require.Equal(t, rules.KindAuditIdentityRevealed, last.GetKind())
	require.Equal(t, auth.AnonymousName, last.GetActor())
	require.Contains(t, last.GetSummary(), "核对户籍")
	// The audit is its own record: the application's chain is untouched.
	require.Equal(t, uint64(1), rev.Msg.GetApplication().GetVersion())
}

func TestCatalogVersionsAndWithdrawnMatters(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	cat := seedCatalog(t)
	// The same catalog again: no new version.
	res, err := n.catalog.ImportCatalog(ctx, req(cat))
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.Msg.GetVersion())
	require.Equal(t, uint32(len(cat.GetMatters())), res.Msg.GetUnchanged())

	// Version 2: one limit shortened, one matter withdrawn.
	cat2 := proto.Clone(cat).(*pb.ImportCatalogRequest)
	var kept []*pb.Matter
	for _, m := range cat2.GetMatters() {
		switch m.GetCode() {
		case "GA-002":
			m.PromisedDays = 10
		case "GA-005":
			continue
		}
		kept = append(kept, m)
	}
	cat2.Matters = kept
	res, err = n.catalog.ImportCatalog(ctx, req(cat2))
	require.NoError(t, err)
	require.Equal(t, uint64(2), res.Msg.GetVersion())
	require.Equal(t, uint32(1), res.Msg.GetChanged())
	require.Equal(t, uint32(1), res.Msg.GetRemoved())

	m, err := n.catalog.GetMatter(ctx, req(&pb.GetMatterRequest{Code: "GA-002"}))
	require.NoError(t, err)
	require.Equal(t, uint32(10), m.Msg.GetMatter().GetPromisedDays())
	require.Equal(t, uint64(2), m.Msg.GetMatter().GetCatalogVersion())
	_, err = n.catalog.GetMatter(ctx, req(&pb.GetMatterRequest{Code: "GA-005"}))
	requireCode(t, err, connect.CodeNotFound, "code")
	_, err = n.apps.AcceptApplication(ctx, req(&pb.AcceptApplicationRequest{MatterCode: "GA-005",
		Applicant: &pb.Applicant{Name: "李建国", IdNumber: idLi}, Materials: []string{"居民身份证"}}))
	requireCode(t, err, connect.CodeNotFound, "matter_code")

	list, err := n.catalog.ListMatters(ctx, req(&pb.ListMattersRequest{Department: "GA"}))
	require.NoError(t, err)
	require.Equal(t, uint64(2), list.Msg.GetVersion())
	for _, m := range list.Msg.GetMatters() {
		require.Equal(t, "GA", m.GetDepartment())
		require.NotEqual(t, "GA-005", m.GetCode())
	}
	zero, err := n.catalog.ListMatters(ctx, req(&pb.ListMattersRequest{HasMaxVisits: true, MaxVisits: 0}))
	require.NoError(t, err)
	require.NotEmpty(t, zero.Msg.GetMatters())
	for _, m := range zero.Msg.GetMatters() {
		require.Zero(t, m.GetVisits())
		require.True(t, m.GetOnline())
	}
	// A malformed catalog names the field and changes nothing.
	head := n.Store.FeedHead()
	bad := proto.Clone(cat2).(*pb.ImportCatalogRequest)
	bad.Matters[3].PromisedDays = bad.Matters[3].StatutoryDays + 1
	_, err = n.catalog.ImportCatalog(ctx, req(bad))
	requireCode(t, err, connect.CodeInvalidArgument, "")
	require.Contains(t, err.Error(), "matters[3].promised_days")
	require.Equal(t, head, n.Store.FeedHead())
}

func TestOnlyTheCountyPublishesAndOnlyTheProcessingUnitDecides(t *testing.T) {
	ctx := context.Background()
	v := startTestNode(t, "330324101201", "", nil)
	_, err := v.catalog.ImportCatalog(ctx, req(seedCatalog(t)))
	requireCode(t, err, connect.CodeFailedPrecondition, "unit")
	// Without sync the village has no catalog yet: nothing to accept.
	_, err = v.apps.AcceptApplication(ctx, req(acceptReq()))
	requireCode(t, err, connect.CodeNotFound, "matter_code")
}

func TestOverdueApplicationsAreListed(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	late := n.accept(t, acceptReq()) // statutory 10 working days
	n.clock.Set(at("2026-12-04", 10))
	n.accept(t, &pb.AcceptApplicationRequest{MatterCode: "MZ-005", Applicant: &pb.Applicant{Name: "李建国", IdNumber: idLi},
		Materials: []string{"居民身份证", "近期一寸免冠证件照"}})
	// Listed today, the table keeps today's deadlines; a later day's list
	// computes them again.
	list, err := n.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{OverdueOnly: true}))
	require.NoError(t, err)
	require.Zero(t, list.Msg.GetTotal(), "nothing overdue yet")
	n.clock.Set(at("2026-12-09", 10)) // 12 working days after the first
	list, err = n.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{OverdueOnly: true}))
	require.NoError(t, err)
	require.Equal(t, uint32(1), list.Msg.GetTotal())
	d := list.Msg.GetApplications()[0].GetDeadline()
	require.Equal(t, late.GetId(), list.Msg.GetApplications()[0].GetId())
	require.True(t, d.GetOverdue())
	require.Equal(t, "2026-12-07", d.GetStatutoryDue())
	require.Equal(t, int32(-2), d.GetStatutoryDaysLeft())
	st, err := n.status.GetStatus(ctx, req(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	require.Equal(t, uint64(1), st.Msg.GetOverdue())
	require.Equal(t, uint64(2), st.Msg.GetApplications())
	// Decided late: still marked overdue, no longer in the overdue list.
	_, err = n.apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: late.GetId(), Approve: true}))
	require.NoError(t, err)
	list, err = n.apps.ListApplications(ctx, req(&pb.ListApplicationsRequest{OverdueOnly: true}))
	require.NoError(t, err)
	require.Zero(t, list.Msg.GetTotal())
	show, err := n.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: late.GetId()}))
	require.NoError(t, err)
	require.True(t, show.Msg.GetApplication().GetDeadline().GetOverdue())
}

// TestConcurrentAcceptsShareCommits: many clients at once; every answer is
// durable, ids are unique, the feed has no gap.
func TestConcurrentAcceptsShareCommits(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	base := n.Store.FeedHead()
	const clients, each = 16, 25
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				res, err := n.apps.AcceptApplication(ctx, req(acceptReq()))
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				ids[res.Msg.GetApplication().GetId()] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, ids, clients*each)
	require.Equal(t, base+clients*each, n.Store.FeedHead())
	rep, err := n.Store.Verify()
	require.NoError(t, err)
	require.Equal(t, base+clients*each, rep.Events)
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

func TestRestartKeepsIdentityCountersAndRecords(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{t: at("2026-11-23", 10)}
	n := startTestNode(t, "330324", dir, clock)
	n.importSeed(t)
	first := n.accept(t, acceptReq())
	id, epoch, head := n.Store.NodeID(), n.Store.Epoch(), n.Store.FeedHead()
	n.hc.CloseIdleConnections()
	require.NoError(t, n.Shutdown(context.Background()))

	n2 := startTestNode(t, "330324", dir, clock)
	require.Equal(t, id, n2.Store.NodeID())
	require.Equal(t, epoch, n2.Store.Epoch())
	require.Equal(t, head, n2.Store.FeedHead())
	second := n2.accept(t, acceptReq())
	require.Equal(t, "330324-20261123-000002", second.GetId())
	require.NotEqual(t, first.GetId(), second.GetId())
	_, err := n2.Store.Verify()
	require.NoError(t, err)
	require.NoError(t, n2.Shutdown(context.Background()))

	// The same directory refuses to open as another unit.
	_, err = openSolo(soloConfig{Dir: dir, Unit: "330324101", Calendar: seedCalendar(t)})
	require.ErrorIs(t, err, store.ErrFailedPrecondition)
	require.ErrorContains(t, err, "unit:")
}

// TestTheReceiptKeepsTheVisitsPromised: the receipt's 最多跑几次 is the one
// the matter promised at acceptance, kept with the application; a catalog
// that later withdraws the matter changes neither, nor turns a committed
// acceptance into an error.
func TestTheReceiptKeepsTheVisitsPromised(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	n.importSeed(t)
	m, err := n.Rules.GetMatter("GA-002")
	require.NoError(t, err)
	require.NotZero(t, m.GetVisits())
	res, err := n.apps.AcceptApplication(ctx, req(&pb.AcceptApplicationRequest{
		MatterCode: "GA-002",
		Applicant:  &pb.Applicant{Name: "王秀英", IdNumber: idWang},
		Materials:  []string{"原居民身份证", "居民户口簿"},
	}))
	require.NoError(t, err)
	require.Equal(t, m.GetVisits(), res.Msg.GetReceipt().GetVisits())
	require.NotNil(t, res.Msg.GetApplication().Visits)
	require.Equal(t, m.GetVisits(), res.Msg.GetApplication().GetVisits())

	without := seedCatalog(t)
	for i, mm := range without.Matters {
		if mm.GetCode() == "GA-002" {
			without.Matters = append(without.Matters[:i], without.Matters[i+1:]...)
			break
		}
	}
	_, err = n.catalog.ImportCatalog(ctx, req(without))
	require.NoError(t, err)
	_, err = n.Rules.GetMatter("GA-002")
	require.ErrorIs(t, err, store.ErrNotFound)
	a, _, err := n.Rules.GetApplication(res.Msg.GetApplication().GetId())
	require.NoError(t, err)
	require.Equal(t, m.GetVisits(), a.GetVisits(), "the promise stays with the application")
}
