package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// 不予受理: a window refuses to accept an application (the applicant is not
// eligible, the matter is not this service's) and tells the applicant why
// in a printed notice. The refusal is a record of the refusing unit
// (refusal/UNIT-YYYYMMDD-NNNNNN), written once and never changed; it
// travels up to the county, whose figures count it.

// refusalCounter names the counter of a unit's refusals of a day.
func refusalCounter(unit, day string) string { return "refusal/" + unit + "/" + day }

// refusalIDRE is a refusal's id: the unit, the day, six digits.
var refusalIDRE = regexp.MustCompile(`^(\d{6}|\d{9}|\d{12})-(\d{8})-(\d{6})$`)

// checkRefusal checks what the window fills in for a refusal, wherever it
// comes from (a window's command, or a child's event): the matter, the
// applicant's name, identity number (as of now) and phone, the reason. It
// returns the identity number as stored.
func checkRefusal(r *pb.Refusal, now time.Time) (string, error) {
	if strings.TrimSpace(r.GetMatterCode()) == "" {
		return "", invalid("matter_code", "请指定事项")
	}
	ap := r.GetApplicant()
	if err := checkText("applicant.name", ap.GetName(), maxNameRunes, true); err != nil {
		return "", err
	}
	id, err := ValidateIDNumber(ap.GetIdNumber(), now)
	if err != nil {
		return "", err
	}
	if ap.GetPhone() != "" && !phoneRE.MatchString(ap.GetPhone()) {
		return "", invalid("applicant.phone", "联系电话 %q 格式不正确", ap.GetPhone())
	}
	if err := checkText("reason", r.GetReason(), maxReasonRunes, true); err != nil {
		if strings.TrimSpace(r.GetReason()) == "" {
			return "", invalid("reason", "不予受理须写明理由（将印在告知书上）")
		}
		return "", err
	}
	return id, nil
}

// refuse records a refusal at this unit's window.
func (s *Rules) refuse(w *store.Tx, cmd *pb.Command, req *pb.RefuseApplicationRequest) (proto.Message, error) {
	if w.Restored() {
		return nil, precondition("unit", "本节点数据刚从备份恢复，正在与上级同步，同步完成前暂不登记不予受理（以免编号重复）")
	}
	if strings.TrimSpace(req.GetMatterCode()) == "" {
		return nil, invalid("matter_code", "请指定事项")
	}
	m, err := s.matter(w, req.GetMatterCode())
	if err != nil {
		return nil, err
	}
	now := time.UnixMilli(cmd.GetNowMs())
	ap := req.GetApplicant()
	r := &pb.Refusal{
		MatterCode: m.GetCode(),
		MatterName: m.GetName(),
		Department: m.GetDepartment(),
		Applicant:  &pb.Applicant{Name: strings.TrimSpace(ap.GetName()), IdNumber: strings.TrimSpace(ap.GetIdNumber()), Phone: strings.TrimSpace(ap.GetPhone())},
		Reason:     strings.TrimSpace(req.GetReason()),
		Unit:       string(s.unit),
	}
	id, err := checkRefusal(r, now)
	if err != nil {
		return nil, err
	}
	r.Applicant.IdNumber = id
	day := now.In(delegation.China).Format("20060102")
	n, err := w.NextCounter(refusalCounter(string(s.unit), day))
	if err != nil {
		return nil, err
	}
	if n > 999999 {
		return nil, precondition("id", "本单位今日不予受理已超过 999999 件")
	}
	r.Id = fmt.Sprintf("%s-%s-%06d", s.unit, day, n)
	// Up to the county, through every unit between: their figures count it.
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindWindowRefused, RecordKey: refusalKey(r.GetId()), Payload: mustMarshal(r),
		Scope: appScope(s.unit, s.unit.County())})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.Refusal{})
}

// applyRefusalEvent folds the one event of a refusal: written once, by the
// unit whose id it bears, with what a window must fill in.
func applyRefusalEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindWindowRefused {
		return nil, invalid("event.kind", "不予受理记录不接受 %q", ev.GetKind())
	}
	if prev != nil {
		return nil, precondition("id", "不予受理记录 %s 已存在，不能更改", strings.TrimPrefix(ev.GetRecordKey(), recRefusal))
	}
	r := &pb.Refusal{}
	if err := decodePayload(ev, r); err != nil {
		return nil, err
	}
	parts := refusalIDRE.FindStringSubmatch(r.GetId())
	switch {
	case refusalKey(r.GetId()) != ev.GetRecordKey():
		return nil, invalid("event.payload.id", "与记录键 %s 不符", ev.GetRecordKey())
	case parts == nil:
		return nil, invalid("event.payload.id", "不予受理编号 %q 应为 单位代码-日期-6 位序号", r.GetId())
	case r.GetUnit() != ev.GetUnit() || parts[1] != ev.GetUnit():
		return nil, precondition("unit", "不予受理由 %s 登记，不能由 %s 写入", r.GetUnit(), ev.GetUnit())
	}
	id, err := checkRefusal(r, ts(ev).AsTime())
	if err != nil {
		return nil, fmt.Errorf("event.payload: %w", err)
	}
	if id != r.GetApplicant().GetIdNumber() {
		return nil, invalid("event.payload.applicant.id_number", "身份证号应以规范形式记录")
	}
	r = proto.Clone(r).(*pb.Refusal)
	r.Actor, r.ActorLogin, r.RefusedAt = ev.GetActor(), ev.GetActorLogin(), ts(ev)
	// Names are filled in answers, never stored.
	r.UnitName, r.DepartmentName, r.UnitPhone, r.UnitAddress = "", "", "", ""
	return r, nil
}

// bumpRefusalCounter keeps this unit's refusal counter ahead of every
// refusal of this unit it has seen (after a restore, they come back from
// the parent).
func (s *Rules) bumpRefusalCounter(w *store.Tx, ev *pb.Event) error {
	if ev.GetKind() != KindWindowRefused {
		return nil
	}
	p := refusalIDRE.FindStringSubmatch(strings.TrimPrefix(ev.GetRecordKey(), recRefusal))
	if p == nil || p[1] != string(s.unit) {
		return nil
	}
	n, err := strconv.ParseUint(p[3], 10, 64)
	if err != nil {
		return nil
	}
	return w.RaiseCounter(refusalCounter(p[1], p[2]), n)
}

// RefusalFilter selects refusals; empty fields match any.
type RefusalFilter struct {
	ID         string
	MatterCode string
	Department string
	// A unit and its subtree.
	Unit string
	// Refusal days, YYYY-MM-DD, both included.
	From, To string
	Limit    int
}

func (f RefusalFilter) check() (tiers.Unit, error) {
	var unit tiers.Unit
	if f.Unit != "" {
		u, err := tiers.Parse(f.Unit)
		if err != nil {
			return "", invalid("unit", "%v", err)
		}
		unit = u
	}
	for _, d := range []struct{ field, v string }{{"from", f.From}, {"to", f.To}} {
		if d.v != "" {
			if _, err := delegation.ParseDate(d.v); err != nil {
				return "", invalid(d.field, "%v", err)
			}
		}
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return "", invalid("limit", "一次最多列出 1000 条")
	}
	return unit, nil
}

func (f RefusalFilter) match(unit tiers.Unit, r *pb.Refusal) bool {
	day := delegation.FormatDate(r.GetRefusedAt().AsTime())
	switch {
	case f.ID != "" && r.GetId() != f.ID,
		f.MatterCode != "" && r.GetMatterCode() != f.MatterCode,
		f.Department != "" && r.GetDepartment() != f.Department,
		f.From != "" && day < f.From,
		f.To != "" && day > f.To,
		unit != "" && !unit.Contains(tiers.Unit(r.GetUnit())):
		return false
	}
	return true
}

// scanRefusals calls fn for every refusal this node holds that passes the
// filter.
func (s *Rules) scanRefusals(f RefusalFilter, fn func(r *pb.Refusal)) error {
	unit, err := f.check()
	if err != nil {
		return err
	}
	return s.st.View(func(txn store.Reader) error {
		if f.ID != "" {
			rec, err := txn.Record(refusalKey(f.ID))
			if err != nil || rec == nil {
				return err
			}
			r, err := decodeRecord(rec, &pb.Refusal{})
			if err == nil && f.match(unit, r) {
				fn(r)
			}
			return err
		}
		return txn.Scan(recRefusal, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			r, err := decodeRecord(rec, &pb.Refusal{})
			if err != nil {
				return false, err
			}
			if f.match(unit, r) {
				fn(r)
			}
			return true, nil
		})
	})
}

// Refusals lists the refusals that pass the filter, newest first, and how
// many matched in all. Identity numbers are whole: callers mask them.
func (s *Rules) Refusals(f RefusalFilter) ([]*pb.Refusal, int, error) {
	var out []*pb.Refusal
	if err := s.scanRefusals(f, func(r *pb.Refusal) { out = append(out, r) }); err != nil {
		return nil, 0, err
	}
	if f.ID != "" && len(out) == 0 {
		return nil, 0, notFound("id", "不予受理记录 %q 不存在", f.ID)
	}
	slices.SortStableFunc(out, func(a, b *pb.Refusal) int {
		if c := b.GetRefusedAt().AsTime().Compare(a.GetRefusedAt().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(b.GetId(), a.GetId())
	})
	total := len(out)
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, total, nil
}

// refusedCount is the figures' count of refusals: of the unit's subtree,
// the department, on the days asked (the days of the refusals).
func (s *Rules) refusedCount(req *pb.GetStatsRequest) (uint64, error) {
	var n uint64
	err := s.scanRefusals(RefusalFilter{Unit: req.GetUnit(), Department: req.GetDepartment(), From: req.GetFrom(), To: req.GetTo()},
		func(*pb.Refusal) { n++ })
	return n, err
}
