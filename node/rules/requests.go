package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Requests: what a unit asks of an application it does not hold. The
// applicant withdraws, or hands in materials accepted as missing, at the
// window nearest home; the unit holding the application answers, applying
// the request or refusing it with the reason. Each request is a record of
// its own, created by the asking unit and held by the answering one, so no
// record ever has two writers at once.

func applyRequestEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	p := &pb.Request{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	switch ev.GetKind() {
	case KindRequestMade:
		switch {
		case prev != nil:
			return nil, precondition("id", "请求 %s 已存在", p.GetId())
		case requestKey(p.GetApplicationId(), p.GetId()) != ev.GetRecordKey():
			return nil, invalid("event.payload.id", "与记录键 %s 不符", ev.GetRecordKey())
		case p.GetUnit() != ev.GetUnit() || p.GetHolder() == ev.GetUnit() || p.GetState() != RequestOpen:
			return nil, invalid("event.payload", "请求应由提出单位建立、交持有单位答复")
		case p.GetKind() != RequestWithdraw && p.GetKind() != RequestSupply:
			return nil, invalid("event.payload.kind", "未知请求 %q", p.GetKind())
		}
		r := proto.Clone(p).(*pb.Request)
		r.AskedAt = ts(ev)
		return r, nil
	case KindRequestAnswered:
		r, err := existing(prev, &pb.Request{}, func() error { return notFound("id", "请求 %s 不存在", ev.GetRecordKey()) })
		if err != nil {
			return nil, err
		}
		switch {
		case r.GetState() != RequestOpen:
			return nil, precondition("state", "请求已答复")
		case r.GetHolder() != ev.GetUnit():
			return nil, precondition("holder", "请求由 %s 答复，本单位 %s 不能答复", r.GetHolder(), ev.GetUnit())
		case p.GetState() != RequestDone && p.GetState() != RequestRefused:
			return nil, invalid("event.payload.state", "答复应为 done 或 refused")
		}
		r.State, r.Answer, r.AnsweredAt = p.GetState(), p.GetAnswer(), ts(ev)
		return r, nil
	}
	return nil, invalid("event.kind", "请求记录不接受 %q", ev.GetKind())
}

// makeRequest records what this unit asks of an application held
// elsewhere; the holder's node answers when it arrives.
func (s *Rules) makeRequest(w *store.Tx, cmd *pb.Command, a *pb.Application, kind, reason string, materials []string) (*pb.Request, error) {
	if decided(a) && kind == RequestWithdraw {
		return nil, precondition("state", "办件当前状态为「%s」，不能撤回", StateLabel(a.GetState()))
	}
	switch kind {
	case RequestWithdraw:
		if err := checkText("reason", reason, maxReasonRunes, true); err != nil {
			return nil, err
		}
	case RequestSupply:
		if err := checkMaterialNames("materials", materials, true); err != nil {
			return nil, err
		}
		if extra := subtract(materials, a.GetMaterialsMissing()); len(extra) > 0 {
			return nil, invalid("materials", "以下材料不在待补齐清单中：%s", strings.Join(extra, "、"))
		}
	}
	n, err := w.NextCounter("req/" + a.GetId())
	if err != nil {
		return nil, err
	}
	r := &pb.Request{Id: fmt.Sprintf("%s-%d", s.unit, n), ApplicationId: a.GetId(), Kind: kind, Unit: string(s.unit),
		Holder: a.GetHolder(), State: RequestOpen, Reason: reason, Materials: materials}
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindRequestMade, RecordKey: requestKey(a.GetId(), r.GetId()), Payload: mustMarshal(r),
		Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.Request{})
}

// answerRequest is this node's answer to a request it holds: apply it if
// the application allows, refuse it with the reason otherwise.
func (s *Rules) answerRequest(w *store.Tx, cmd *pb.Command, r *pb.Request) error {
	if r.GetHolder() != string(s.unit) || r.GetState() != RequestOpen {
		return nil
	}
	answer := func(state, text string) error {
		_, err := w.Emit(cmd, &pb.Event{Kind: KindRequestAnswered, RecordKey: requestKey(r.GetApplicationId(), r.GetId()), Actor: store.SystemActor,
			Payload: mustMarshal(&pb.Request{State: state, Answer: text}), Scope: s.requestScope(w, r)})
		return err
	}
	a, err := s.appForWrite(w, r.GetApplicationId())
	if err != nil {
		return answer(RequestRefused, "办件不存在")
	}
	if r.GetKind() == RequestWithdraw && decided(a) {
		return answer(RequestRefused, fmt.Sprintf("办件当前状态为「%s」，已办结，不能撤回", StateLabel(a.GetState())))
	}
	if a.GetHolder() != string(s.unit) {
		return answer(RequestRefused, fmt.Sprintf("办件已由 %s 持有，请向其提出", a.GetHolder()))
	}
	var kind string
	var payload proto.Message
	switch r.GetKind() {
	case RequestWithdraw:
		kind, payload = KindAppWithdrawn, &pb.AppWithdrawn{Reason: fmt.Sprintf("申请人在 %s 窗口申请撤回：%s", r.GetUnit(), r.GetReason())}
	case RequestSupply:
		if a.GetState() == StateSupplementRequested {
			kind = KindAppSupplemented
		} else {
			kind = KindAppMaterialsSupplied
		}
		payload = &pb.AppSupplied{Materials: r.GetMaterials()}
	}
	if !slices.Contains(appSteps[kind].from, a.GetState()) {
		return answer(RequestRefused, fmt.Sprintf("办件当前状态为「%s」，不能%s", StateLabel(a.GetState()), appSteps[kind].label))
	}
	if _, err := s.transition(w, cmd, a.GetId(), kind, payload); err != nil {
		if isRefusal(err) {
			return answer(RequestRefused, err.Error())
		}
		return err
	}
	return answer(RequestDone, "已办理")
}

func isRefusal(err error) bool {
	var fe *store.FieldError
	return errors.As(err, &fe)
}

func (s *Rules) requestScope(w *store.Tx, r *pb.Request) *pb.Scope {
	if rec, err := w.Record(appKey(r.GetApplicationId())); err == nil && rec != nil {
		if a, err := decodeRecord(rec, &pb.Application{}); err == nil {
			return appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))
		}
	}
	return appScope(tiers.Unit(r.GetUnit()), tiers.Unit(r.GetHolder()))
}

// requestsOf lists an application's requests.
func requestsOf(txn store.Reader, appID string) ([]string, error) {
	var keys []string
	err := txn.Scan(recRequest+appID+"/", false, func(key string, _ *pb.StoredRecord) (bool, error) {
		keys = append(keys, key)
		return true, nil
	})
	return keys, err
}
