package rules

import (
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// 好差评 follow-ups: a low rating opens one, the deciding unit calls back
// and fixes.

func applyFollowUpEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() == KindFollowUpOpened {
		if prev != nil {
			return nil, precondition("application_id", "该办件的回访整改已建立")
		}
		f := &pb.FollowUp{}
		if err := decodePayload(ev, f); err != nil {
			return nil, err
		}
		if followUpKey(f.GetApplicationId()) != ev.GetRecordKey() || f.GetState() != FollowUpOpen || f.GetScore() > lowRating {
			return nil, invalid("event.payload", "回访整改记录无效")
		}
		f = proto.Clone(f).(*pb.FollowUp)
		f.OpenedAt = ts(ev)
		return f, nil
	}
	f, err := existing(prev, &pb.FollowUp{}, func() error { return notFound("application_id", "没有该办件的回访整改") })
	if err != nil {
		return nil, err
	}
	if f.GetHolder() != ev.GetUnit() {
		return nil, precondition("holder", "回访整改由 %s 负责，本单位 %s 不能登记", f.GetHolder(), ev.GetUnit())
	}
	p := &pb.UpdateFollowUpRequest{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	if err := checkText("note", p.GetNote(), maxReasonRunes, true); err != nil {
		return nil, err
	}
	switch ev.GetKind() {
	case KindFollowUpCalledBack:
		if f.GetState() != FollowUpOpen {
			return nil, precondition("step", "已回访过")
		}
		f.State, f.CalledBackAt, f.CallbackNote = FollowUpCalledBack, ts(ev), p.GetNote()
	case KindFollowUpFixed:
		if f.GetState() == FollowUpFixed {
			return nil, precondition("step", "已整改完毕")
		}
		if f.GetState() == FollowUpOpen {
			return nil, precondition("step", "请先登记回访（1 个工作日内），再登记整改")
		}
		f.State, f.FixedAt, f.FixNote = FollowUpFixed, ts(ev), p.GetNote()
	default:
		return nil, invalid("event.kind", "回访整改记录不接受 %q", ev.GetKind())
	}
	return f, nil
}

// openFollowUp is written with a low rating, by the rating unit, in the
// same transaction: the deciding unit answers for it.
func (s *Rules) openFollowUp(w *store.Tx, cmd *pb.Command, a *pb.Application) error {
	r := a.GetRating()
	if r == nil || r.GetScore() > lowRating {
		return nil
	}
	rated := r.GetRatedAt().AsTime()
	f := &pb.FollowUp{ApplicationId: a.GetId(), Score: r.GetScore(), Comment: r.GetComment(),
		Holder: a.GetProcessingUnit(), State: FollowUpOpen,
		CallbackDue: delegation.FormatDate(s.cal.AddWorkingDays(rated, callbackDays)),
		FixDue:      delegation.FormatDate(s.cal.AddWorkingDays(rated, fixDays))}
	_, err := w.Emit(cmd, &pb.Event{Kind: KindFollowUpOpened, RecordKey: followUpKey(a.GetId()), Payload: mustMarshal(f),
		Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	return err
}

func (s *Rules) updateFollowUp(w *store.Tx, cmd *pb.Command, req *pb.UpdateFollowUpRequest) (proto.Message, error) {
	kind := map[string]string{FollowUpCalledBack: KindFollowUpCalledBack, FollowUpFixed: KindFollowUpFixed}[req.GetStep()]
	if kind == "" {
		return nil, invalid("step", "%q 应为 called_back（已回访）或 fixed（已整改）", req.GetStep())
	}
	a, err := s.appForWrite(w, req.GetApplicationId())
	if err != nil {
		return nil, err
	}
	rec, err := w.Emit(cmd, &pb.Event{Kind: kind, RecordKey: followUpKey(req.GetApplicationId()), Payload: mustMarshal(req),
		Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.FollowUp{})
}

// FollowUps lists follow-ups this node holds, with overdue marks.
func (s *Rules) FollowUps(openOnly bool) ([]*pb.FollowUp, error) {
	var out []*pb.FollowUp
	today := delegation.FormatDate(s.st.Now())
	err := s.st.View(func(txn store.Reader) error {
		return txn.Scan(recFollowUp, true, func(_ string, rec *pb.StoredRecord) (bool, error) {
			f, err := decodeRecord(rec, &pb.FollowUp{})
			if err != nil {
				return false, err
			}
			if openOnly && f.GetState() == FollowUpFixed {
				return true, nil
			}
			f.CallbackOverdue = f.GetState() == FollowUpOpen && today > f.GetCallbackDue()
			f.FixOverdue = f.GetState() != FollowUpFixed && today > f.GetFixDue()
			out = append(out, f)
			return true, nil
		})
	})
	return out, err
}
