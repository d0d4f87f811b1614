package node

import (
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/tiers"
)

// 好差评 follow-up and 容缺 follow-through.

// Event kinds.
const (
	KindFollowUpOpened     = "followup.opened"
	KindFollowUpCalledBack = "followup.called_back"
	KindFollowUpFixed      = "followup.fixed"
)

// Follow-up states and limits (working days).
const (
	FollowUpOpen       = "open"
	FollowUpCalledBack = "called_back"
	FollowUpFixed      = "fixed"
	lowRating          = 2
	callbackDays       = 1
	fixDays            = 15
)

// LapseReason is the notice given when 容缺 materials were not supplied
// in time.
const LapseReason = "容缺材料逾期未补齐，视为申请人撤回申请（自动告知）"

const recFollowUp = "followup/"

func followUpKey(appID string) string { return recFollowUp + appID }

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
	if prev == nil {
		return nil, notFound("application_id", "没有该办件的回访整改")
	}
	f, err := decodeRecord(prev, &pb.FollowUp{})
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
func (s *Store) openFollowUp(w *wtx, cmd *pb.Command, a *pb.Application) error {
	r := a.GetRating()
	if r == nil || r.GetScore() > lowRating {
		return nil
	}
	rated := r.GetRatedAt().AsTime()
	f := &pb.FollowUp{ApplicationId: a.GetId(), Score: r.GetScore(), Comment: r.GetComment(),
		Holder: a.GetProcessingUnit(), State: FollowUpOpen,
		CallbackDue: delegation.FormatDate(s.cfg.Calendar.AddWorkingDays(rated, callbackDays)),
		FixDue:      delegation.FormatDate(s.cfg.Calendar.AddWorkingDays(rated, fixDays))}
	_, err := w.emit(cmd, &pb.Event{Kind: KindFollowUpOpened, RecordKey: followUpKey(a.GetId()), Payload: mustMarshal(f),
		Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	return err
}

func (s *Store) updateFollowUp(w *wtx, cmd *pb.Command, req *pb.UpdateFollowUpRequest) (proto.Message, error) {
	kind := map[string]string{FollowUpCalledBack: KindFollowUpCalledBack, FollowUpFixed: KindFollowUpFixed}[req.GetStep()]
	if kind == "" {
		return nil, invalid("step", "%q 应为 called_back（已回访）或 fixed（已整改）", req.GetStep())
	}
	a, err := s.appForWrite(w, req.GetApplicationId())
	if err != nil {
		return nil, err
	}
	rec, err := w.emit(cmd, &pb.Event{Kind: kind, RecordKey: followUpKey(req.GetApplicationId()), Payload: mustMarshal(req),
		Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.FollowUp{})
}

// sweep withdraws, with a notice, every application this unit holds whose
// 容缺 materials are past their deadline and that is not decided.
func (s *Store) sweep(w *wtx, cmd *pb.Command) (proto.Message, error) {
	now := time.UnixMilli(cmd.GetNowMs())
	var lapsed []*pb.Application
	err := scanRecords(w.btx, recApp, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
		a, err := decodeRecord(rec, &pb.Application{})
		if err != nil {
			return false, err
		}
		if a.GetHolder() != string(s.cfg.Unit) || len(a.GetMaterialsMissing()) == 0 || decided(a) {
			return true, nil
		}
		if computeDeadline(a, s.cfg.Calendar, now).GetSupplementOverdue() {
			lapsed = append(lapsed, a)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	res := &pb.ListApplicationsResponse{}
	for _, a := range lapsed {
		out, err := s.transition(w, cmd, a.GetId(), KindAppWithdrawn, &pb.AppWithdrawn{Reason: LapseReason})
		if err != nil {
			return nil, err
		}
		res.Applications = append(res.Applications, out.(*pb.Application))
	}
	res.Total = uint32(len(res.Applications))
	return res, nil
}

// FollowUps lists follow-ups this node holds, with overdue marks.
func (s *Store) FollowUps(openOnly bool) ([]*pb.FollowUp, error) {
	var out []*pb.FollowUp
	today := delegation.FormatDate(s.Now())
	err := s.view(func(txn *badger.Txn) error {
		return scanRecords(txn, recFollowUp, true, func(_ string, rec *pb.StoredRecord) (bool, error) {
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
