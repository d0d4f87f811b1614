package rules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// Tests of 不予受理: what a refusal must carry, who may write one, and what
// its fold makes of it.

func refuseCmd(matter, name, id, reason string) *pb.Command {
	return &pb.Command{Op: &pb.Command_Refuse{Refuse: &pb.RefuseApplicationRequest{MatterCode: matter,
		Applicant: &pb.Applicant{Name: name, IdNumber: id}, Reason: reason}}}
}

// TestRefusalFieldsAreChecked: each field a window fills in is checked and
// named; a valid refusal is numbered per unit and day, with the identity
// number in its normal form, the operator and the time.
func TestRefusalFieldsAreChecked(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)
	seedCatalog(t, c, clock)
	const reason = "申请人户籍不在本县，不属于本县受理范围"
	for name, tc := range map[string]struct {
		cmd   *pb.Command
		field string
	}{
		"no matter":             {refuseCmd("", "王秀英", idWang, reason), "matter_code"},
		"a matter not listed":   {refuseCmd("XX-999", "王秀英", idWang, reason), "matter_code"},
		"no applicant name":     {refuseCmd("MZ-001", " ", idWang, reason), "applicant.name"},
		"a bad identity number": {refuseCmd("MZ-001", "王秀英", "330324195803121220", reason), "applicant.id_number"},
		"no reason":             {refuseCmd("MZ-001", "王秀英", idWang, "  "), "reason"},
		"a reason too long":     {refuseCmd("MZ-001", "王秀英", idWang, strings.Repeat("不", 501)), "reason"},
		"a bad phone": {&pb.Command{Op: &pb.Command_Refuse{Refuse: &pb.RefuseApplicationRequest{MatterCode: "MZ-001",
			Applicant: &pb.Applicant{Name: "王秀英", IdNumber: idWang, Phone: "12345"}, Reason: reason}}}, "applicant.phone"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := apply(c, clock, tc.cmd)
			require.Error(t, err)
			require.Equal(t, tc.field, fieldOf(err), "%v", err)
		})
	}

	lower := MakeIDNumber("33032419490817242")
	require.True(t, strings.HasSuffix(lower, "X"))
	out, err := apply(c, clock, refuseCmd("MZ-001", "赵桂兰", strings.ToLower(lower), " "+reason+" "))
	require.NoError(t, err)
	r := out.(*pb.Refusal)
	require.Equal(t, "330324-20261123-000001", r.GetId())
	require.Equal(t, "MZ-001", r.GetMatterCode())
	require.NotEmpty(t, r.GetMatterName())
	require.Equal(t, "MZ", r.GetDepartment())
	require.Equal(t, lower, r.GetApplicant().GetIdNumber(), "stored in its normal form")
	require.Equal(t, reason, r.GetReason())
	require.Equal(t, county, r.GetUnit())
	require.Equal(t, "县管理员", r.GetActor())
	require.Equal(t, "root", r.GetActorLogin())
	require.Equal(t, clock.t.UnixMilli(), r.GetRefusedAt().AsTime().UnixMilli())

	out, err = apply(c, clock, refuseCmd("MZ-005", "王秀英", idWang, "年龄未满 60 周岁"))
	require.NoError(t, err)
	require.Equal(t, "330324-20261123-000002", out.(*pb.Refusal).GetId())
	clock.t = at("2026-11-24", 9)
	out, err = apply(c, clock, refuseCmd("MZ-005", "王秀英", idWang, "年龄未满 60 周岁"))
	require.NoError(t, err)
	require.Equal(t, "330324-20261124-000001", out.(*pb.Refusal).GetId(), "numbered per day")

	all, total, err := c.Refusals(RefusalFilter{})
	require.NoError(t, err)
	require.Equal(t, 3, total)
	require.Equal(t, "330324-20261124-000001", all[0].GetId(), "newest first")
	one, _, err := c.Refusals(RefusalFilter{ID: "330324-20261123-000001"})
	require.NoError(t, err)
	require.Len(t, one, 1)
	_, _, err = c.Refusals(RefusalFilter{ID: "330324-20261123-000009"})
	require.Equal(t, "id", fieldOf(err))
	some, total, err := c.Refusals(RefusalFilter{MatterCode: "MZ-005", From: "2026-11-24"})
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Len(t, some, 1)
	_, _, err = c.Refusals(RefusalFilter{From: "2026-13-01"})
	require.Equal(t, "from", fieldOf(err))

	// The figures count them, and not among the accepted.
	st, err := c.Stats(&pb.GetStatsRequest{})
	require.NoError(t, err)
	require.EqualValues(t, 3, st.GetRefused())
	require.EqualValues(t, 0, st.GetAccepted())
	st, err = c.Stats(&pb.GetStatsRequest{To: "2026-11-23"})
	require.NoError(t, err)
	require.EqualValues(t, 2, st.GetRefused())
	st, err = c.Stats(&pb.GetStatsRequest{Department: "GA"})
	require.NoError(t, err)
	require.EqualValues(t, 0, st.GetRefused())
	st, err = c.Stats(&pb.GetStatsRequest{Unit: township})
	require.NoError(t, err)
	require.EqualValues(t, 0, st.GetRefused(), "refused at the county, not in the township's subtree")
}

// refusalAt is a refusal as unit's window would write it.
func refusalAt(unit, id string) *pb.Refusal {
	return &pb.Refusal{Id: id, MatterCode: "MZ-005", MatterName: "老年人优待证办理", Department: "MZ",
		Applicant: &pb.Applicant{Name: "王秀英", IdNumber: idWang}, Reason: "年龄未满 60 周岁", Unit: unit}
}

// TestApplyRefusalEvent: a refusal is written once, by the unit whose id
// it bears, with what a window must fill in; the fold takes the operator
// and time from the event, never from the payload.
func TestApplyRefusalEvent(t *testing.T) {
	h := hlcAt(at("2026-11-23", 9))
	ev := func(kind, unit string, r *pb.Refusal) *pb.Event {
		return &pb.Event{Kind: kind, RecordKey: refusalKey(r.GetId()), Payload: mustMarshal(r), Hlc: h, Unit: unit, Actor: "王芳", ActorLogin: "wangf"}
	}
	const id = village + "-20261123-000001"
	good := refusalAt(village, id)
	good.Actor, good.UnitName = "冒名", "别处"
	out, err := fold(nil, ev(KindWindowRefused, village, good))
	require.NoError(t, err)
	r := out.(*pb.Refusal)
	require.Equal(t, "王芳", r.GetActor())
	require.Equal(t, "wangf", r.GetActorLogin())
	require.Empty(t, r.GetUnitName(), "names are not stored")
	require.Equal(t, at("2026-11-23", 9).UnixMilli(), r.GetRefusedAt().AsTime().UnixMilli())

	_, err = fold(stored(t, r), ev(KindWindowRefused, village, good))
	require.Equal(t, "id", fieldOf(err), "written once")

	bad := func(f func(r *pb.Refusal)) *pb.Refusal {
		r := refusalAt(village, id)
		f(r)
		return r
	}
	for name, tc := range map[string]struct {
		ev    *pb.Event
		field string
	}{
		"another kind":                {ev(KindAppAccepted, village, good), "event.kind"},
		"another unit's id":           {ev(KindWindowRefused, "330324101202", refusalAt("330324101202", id)), "unit"},
		"another unit named inside":   {ev(KindWindowRefused, village, bad(func(r *pb.Refusal) { r.Unit = "330324101202" })), "unit"},
		"a malformed id":              {ev(KindWindowRefused, village, refusalAt(village, village+"-1")), "event.payload.id"},
		"no reason":                   {ev(KindWindowRefused, village, bad(func(r *pb.Refusal) { r.Reason = "" })), "reason"},
		"a bad identity number":       {ev(KindWindowRefused, village, bad(func(r *pb.Refusal) { r.Applicant.IdNumber = "33032419580312122x" })), "applicant.id_number"},
		"an identity number not kept": {ev(KindWindowRefused, village, bad(func(r *pb.Refusal) { r.Applicant.IdNumber = strings.ToLower(MakeIDNumber("33032419490817242")) })), "event.payload.applicant.id_number"},
		"no matter":                   {ev(KindWindowRefused, village, bad(func(r *pb.Refusal) { r.MatterCode = "" })), "matter_code"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := fold(nil, tc.ev)
			require.Error(t, err)
			require.Equal(t, tc.field, fieldOf(err), "%v", err)
		})
	}
	e := ev(KindWindowRefused, village, good)
	e.RecordKey = refusalKey(village + "-20261123-000002")
	_, err = fold(nil, e)
	require.Equal(t, "event.payload.id", fieldOf(err), "the key and the id agree")
}

// TestRefusalsTravelUp: a village's refusal pushed to its township is
// applied and counted there; one that names another village, or a second
// event on the same refusal, is quarantined. A restored village numbers
// after the refusals that come back to it.
func TestRefusalsTravelUp(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	town := openUnit(t, township, clock)
	h := hlcAt(clock.t)
	const v = "v1v1v1v1v1v1v1v1"
	ok := forged(t, v, 1, KindWindowRefused, refusalKey(village+"-20261123-000007"), refusalAt(village, village+"-20261123-000007"), h)
	other := forged(t, v, 2, KindWindowRefused, refusalKey("330324101202-20261123-000001"), refusalAt("330324101202", "330324101202-20261123-000001"), h+1)
	again := forged(t, v, 3, KindWindowRefused, refusalKey(village+"-20261123-000007"), refusalAt(village, village+"-20261123-000007"), h+2)
	again.PrevHash = ok.GetHash()
	again.Hash = store.EventHash(again)
	from := &pb.Peer{Unit: village, NodeId: v, Epoch: 1}
	out, err := town.Store().Apply(context.Background(), store.IngestCommand(clock.Now(), from, true, []*pb.Event{ok, other, again}, nil, 3, 3))
	require.NoError(t, err)
	res := out.(*pb.PushResponse)
	require.EqualValues(t, 1, res.GetApplied(), "%v", res)
	require.EqualValues(t, 2, res.GetQuarantined(), "%v", res)
	st, err := town.Stats(&pb.GetStatsRequest{Unit: village})
	require.NoError(t, err)
	require.EqualValues(t, 1, st.GetRefused())

	// The village's own counter: raised by a refusal of its own that
	// arrives (as after a restore, from the parent).
	c := openUnit(t, county, clock)
	seedCatalog(t, c, clock)
	evs, err := c.Store().Events(0, 1000)
	require.NoError(t, err)
	evs = append(evs, ok)
	vil := openUnit(t, village, clock)
	out, err = vil.Store().Apply(context.Background(), store.IngestCommand(clock.Now(), town.Store().Self(), false, evs, nil, uint64(len(evs)), uint64(len(evs))))
	require.NoError(t, err)
	require.EqualValues(t, len(evs), out.(*pb.PushResponse).GetApplied(), "%v", out)
	clock.t = clock.t.Add(time.Minute)
	out, err = apply(vil, clock, refuseCmd("MZ-005", "王秀英", idWang, "年龄未满 60 周岁"))
	require.NoError(t, err)
	require.Equal(t, village+"-20261123-000008", out.(*pb.Refusal).GetId())
}
