package rules

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Composite matters (一件事): one acceptance, one task record per part,
// each held and decided by its own processing unit in parallel; the
// application's processing unit joins them into the application's decision.

func applyTaskEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	switch ev.GetKind() {
	case KindTaskCreated:
		if prev != nil {
			return nil, precondition("part", "子事项记录 %s 已存在", ev.GetRecordKey())
		}
		t := &pb.Task{}
		if err := decodePayload(ev, t); err != nil {
			return nil, err
		}
		switch {
		case taskKey(t.GetApplicationId(), t.GetPartCode()) != ev.GetRecordKey():
			return nil, invalid("event.payload.part_code", "与记录键 %s 不符", ev.GetRecordKey())
		case t.GetState() != TaskOpen || t.GetHolder() != t.GetProcessingUnit() || t.GetDecision() != nil:
			return nil, invalid("event.payload.state", "新建子事项应为待办，由其办理单位持有")
		case !strings.HasPrefix(t.GetApplicationId(), ev.GetUnit()+"-"):
			return nil, precondition("unit", "子事项只能由受理单位在受理时建立")
		}
		return t, nil
	case KindTaskDecided:
		t, err := existing(prev, &pb.Task{}, func() error { return notFound("part", "子事项 %s 不存在", ev.GetRecordKey()) })
		if err != nil {
			return nil, err
		}
		p := &pb.AppDecided{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		switch {
		case t.GetState() != TaskOpen:
			return nil, precondition("state", "子事项 %s 已办结", t.GetPartCode())
		case t.GetHolder() != ev.GetUnit():
			return nil, precondition("holder", "子事项 %s 由 %s 办理，本单位 %s 不能办结", t.GetPartCode(), t.GetHolder(), ev.GetUnit())
		}
		if err := checkText("reason", p.GetReason(), maxReasonRunes, !p.GetApproved()); err != nil {
			return nil, err
		}
		t.State = TaskRejected
		if p.GetApproved() {
			t.State = TaskApproved
		}
		t.Decision = &pb.Decision{Approved: p.GetApproved(), Reason: p.GetReason(), Unit: ev.GetUnit(), Actor: ev.GetActor(), DecidedAt: ts(ev)}
		return t, nil
	}
	return nil, invalid("event.kind", "子事项记录不接受 %q", ev.GetKind())
}

// createTasks writes one task per part of a composite application, each
// routed to the unit entitled to decide that part.
func (s *Rules) createTasks(w *store.Tx, cmd *pb.Command, a *pb.Application, now time.Time) error {
	for _, code := range a.GetParts() {
		part, err := s.matter(w, code)
		if err != nil {
			return fmt.Errorf("part %s: %w", code, err)
		}
		proc, del, err := s.route(w, code, now)
		if err != nil {
			return err
		}
		t := &pb.Task{ApplicationId: a.GetId(), PartCode: code, PartName: part.GetName(), Department: part.GetDepartment(),
			ProcessingUnit: string(proc), Holder: string(proc), State: TaskOpen, DelegationId: del.GetId(), RouteMode: del.GetMode()}
		scope := appScope(s.unit, proc)
		// The coordinating unit hears of every part.
		scope = mergeScope(scope, appScope(s.unit, tiers.Unit(a.GetProcessingUnit())))
		if _, err := w.Emit(cmd, &pb.Event{Kind: KindTaskCreated, RecordKey: taskKey(a.GetId(), code), Payload: mustMarshal(t), Scope: scope}); err != nil {
			return err
		}
	}
	return nil
}

func mergeScope(a, b *pb.Scope) *pb.Scope {
	out := proto.Clone(a).(*pb.Scope)
	for _, u := range b.GetUnits() {
		if !containsStr(out.Units, u) {
			out.Units = append(out.Units, u)
		}
	}
	return out
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// decideTask decides one part of a composite application, and joins the
// application if this unit coordinates it and every part is now decided.
func (s *Rules) decideTask(w *store.Tx, cmd *pb.Command, req *pb.DecideApplicationRequest) (proto.Message, error) {
	key := taskKey(req.GetId(), req.GetPart())
	rec, err := w.Record(key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound("part", "办件 %s 没有子事项 %q", req.GetId(), req.GetPart())
	}
	t, err := decodeRecord(rec, &pb.Task{})
	if err != nil {
		return nil, err
	}
	scope := appScope(tiers.Unit(strings.SplitN(t.GetApplicationId(), "-", 2)[0]), tiers.Unit(t.GetProcessingUnit()))
	if app, err := w.Record(appKey(req.GetId())); err == nil && app != nil {
		if a, err := decodeRecord(app, &pb.Application{}); err == nil {
			if decided(a) {
				// Withdrawn, or decided already: its parts have no move left.
				return nil, precondition("state", "办件当前状态为「%s」，其子事项不能再办结", StateLabel(a.GetState()))
			}
			scope = mergeScope(scope, appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit())))
		}
	}
	if _, err := w.Emit(cmd, &pb.Event{Kind: KindTaskDecided, RecordKey: key,
		Payload: mustMarshal(&pb.AppDecided{Approved: req.GetApprove(), Reason: req.GetReason()}), Scope: scope}); err != nil {
		return nil, err
	}
	if err := s.maybeJoin(w, cmd, req.GetId()); err != nil {
		return nil, err
	}
	a, err := s.appForWrite(w, req.GetId())
	if err != nil {
		return nil, err
	}
	return a, nil
}

// maybeJoin decides a composite application once all its parts are
// decided, if this unit coordinates it and holds it: approved when every
// part is, rejected (with the parts' reasons) when any is not.
func (s *Rules) maybeJoin(w *store.Tx, cmd *pb.Command, appID string) error {
	rec, err := w.Record(appKey(appID))
	if err != nil || rec == nil {
		return err
	}
	a, err := decodeRecord(rec, &pb.Application{})
	if err != nil {
		return err
	}
	if len(a.GetParts()) == 0 || a.GetProcessingUnit() != string(s.unit) || a.GetHolder() != string(s.unit) {
		return nil
	}
	switch a.GetState() {
	case StateAccepted, StateReceived, StateSupplemented:
	default:
		return nil
	}
	var rejected []string
	for _, code := range a.GetParts() {
		trec, err := w.Record(taskKey(appID, code))
		if err != nil {
			return err
		}
		if trec == nil {
			return nil
		}
		t, err := decodeRecord(trec, &pb.Task{})
		if err != nil {
			return err
		}
		switch t.GetState() {
		case TaskOpen:
			return nil
		case TaskRejected:
			rejected = append(rejected, fmt.Sprintf("%s：%s", t.GetPartName(), t.GetDecision().GetReason()))
		}
	}
	d := &pb.AppDecided{Approved: len(rejected) == 0, Reason: "各子事项均已准予"}
	if len(rejected) > 0 {
		d.Reason = strings.Join(rejected, "；") // the verdict says 不予 already
	}
	if len(a.GetMaterialsMissing()) > 0 && d.GetApproved() {
		return nil // 容缺 materials still missing: approval waits for them
	}
	_, err = w.Emit(cmd, &pb.Event{Kind: KindAppDecided, RecordKey: appKey(appID), Actor: store.SystemActor,
		Payload: mustMarshal(d), Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	return err
}

// tasksOf reads the tasks of a composite application.
func tasksOf(txn store.Reader, a *pb.Application) ([]*pb.Task, error) {
	var out []*pb.Task
	for _, code := range a.GetParts() {
		rec, err := txn.Record(taskKey(a.GetId(), code))
		if err != nil {
			return nil, err
		}
		if rec == nil {
			continue // not arrived here
		}
		t, err := decodeRecord(rec, &pb.Task{})
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
