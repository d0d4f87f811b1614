package rules

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// appStep is what one event kind does to an application: the states it
// may start from, the action as a clerk reads it, and the change.
type appStep struct {
	from  []string
	label string
	apply func(a *pb.Application, ev *pb.Event) error
}

// appSteps holds every event kind that changes an existing application
// (app.accepted creates one: acceptApp).
var appSteps = map[string]appStep{
	KindAppForwarded:         {[]string{StateAccepted}, "转报", forwardApp},
	KindAppReceived:          {[]string{StateForwarded}, "接收", receiveApp},
	KindAppRerouted:          {[]string{StateAccepted, StateReceived, StateSupplemented}, "改派", rerouteApp},
	KindAppSupplementRequest: {[]string{StateAccepted, StateReceived, StateSupplemented}, "要求补正", requestSupplement},
	KindAppSupplemented:      {[]string{StateSupplementRequested}, "补正", supplementApp},
	KindAppMaterialsSupplied: {[]string{StateAccepted, StateForwarded, StateReceived, StateSupplemented}, "补交容缺材料", supplyMissing},
	KindAppDecided:           {[]string{StateAccepted, StateReceived, StateSupplemented}, "办结", decideApp},
	KindAppDelivered:         {[]string{StateApproved, StateRejected}, "出件", deliverApp},
	KindAppRated:             {[]string{StateDelivered}, "评价", rateApp},
	KindAppWithdrawn: {[]string{StateAccepted, StateForwarded, StateReceived, StateSupplementRequested, StateSupplemented},
		"撤回", withdrawApp},
}

// applyAppEvent folds an event into an application: the kind's step,
// after the checks every step shares (the state it starts from, the
// holder).
func applyAppEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() == KindAppAccepted {
		return acceptApp(prev, ev)
	}
	a, err := existing(prev, &pb.Application{}, func() error {
		return notFound("id", "办件 %s 不存在", strings.TrimPrefix(ev.GetRecordKey(), recApp))
	})
	if err != nil {
		return nil, err
	}
	step, ok := appSteps[ev.GetKind()]
	if !ok {
		return nil, invalid("event.kind", "办件记录不接受 %q", ev.GetKind())
	}
	if !slices.Contains(step.from, a.GetState()) {
		return nil, precondition("state", "办件当前状态为「%s」，不能%s", StateLabel(a.GetState()), step.label)
	}
	if a.GetHolder() != ev.GetUnit() {
		return nil, precondition("holder", "办件 %s 当前由 %s 持有，本单位 %s 不能%s", a.GetId(), a.GetHolder(), ev.GetUnit(), step.label)
	}
	a.UpdatedAt = ts(ev)
	if err := step.apply(a, ev); err != nil {
		return nil, err
	}
	return a, nil
}

func acceptApp(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if prev != nil {
		return nil, precondition("id", "办件 %s 已存在", strings.TrimPrefix(ev.GetRecordKey(), recApp))
	}
	p := &pb.AppAccepted{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	a := p.GetApplication()
	switch {
	case a == nil || appKey(a.GetId()) != ev.GetRecordKey():
		return nil, invalid("event.payload.application.id", "与记录键 %s 不符", ev.GetRecordKey())
	case a.GetAcceptingUnit() != ev.GetUnit():
		return nil, precondition("accepting_unit", "受理单位 %s 与发出单位 %s 不符", a.GetAcceptingUnit(), ev.GetUnit())
	case a.GetState() != StateAccepted || a.GetHolder() != ev.GetUnit():
		return nil, invalid("event.payload.application.state", "新受理的办件应为已受理状态，由受理单位持有")
	}
	// A child's acceptance meets the limits a window's does.
	id, err := checkApplication(a.GetApplicant(), a.GetNote(), a.GetMaterialsReceived(), a.GetMaterialsMissing(), ts(ev).AsTime())
	if err != nil {
		return nil, fmt.Errorf("event.payload.application: %w", err)
	}
	if id != a.GetApplicant().GetIdNumber() {
		return nil, invalid("event.payload.application.applicant.id_number", "身份证号应以规范形式记录")
	}
	a = proto.Clone(a).(*pb.Application)
	a.AcceptedAt = ts(ev)
	a.UpdatedAt = ts(ev)
	a.AcceptedBy = ev.GetActor()
	return a, nil
}

func forwardApp(a *pb.Application, ev *pb.Event) error {
	p := &pb.AppRouted{}
	if err := decodePayload(ev, p); err != nil {
		return err
	}
	if p.GetToUnit() != a.GetProcessingUnit() || a.GetProcessingUnit() == a.GetAcceptingUnit() {
		return precondition("to_unit", "办件应转报至办理单位 %s，而非 %s", a.GetProcessingUnit(), p.GetToUnit())
	}
	a.State = StateForwarded
	// The move is the processing unit's from now on: it receives.
	a.Holder = a.GetProcessingUnit()
	return nil
}

func receiveApp(a *pb.Application, ev *pb.Event) error {
	if err := requireProcessing(a, ev, "接收"); err != nil {
		return err
	}
	a.State = StateReceived
	return nil
}

func rerouteApp(a *pb.Application, ev *pb.Event) error {
	p := &pb.AppRerouted{}
	if err := decodePayload(ev, p); err != nil {
		return err
	}
	if err := checkText("reason", p.GetReason(), maxReasonRunes, true); err != nil {
		return err
	}
	if _, err := tiers.Parse(p.GetToUnit()); err != nil || p.GetToUnit() == a.GetProcessingUnit() {
		return invalid("to_unit", "改派目标 %q 无效或与现办理单位相同", p.GetToUnit())
	}
	a.ProcessingUnit, a.Holder, a.State = p.GetToUnit(), p.GetToUnit(), StateForwarded
	a.DelegationId, a.RouteMode = p.GetDelegationId(), p.GetRouteMode()
	return nil
}

func requestSupplement(a *pb.Application, ev *pb.Event) error {
	p := &pb.AppSupplementRequested{}
	if err := decodePayload(ev, p); err != nil {
		return err
	}
	if err := requireProcessing(a, ev, "要求补正"); err != nil {
		return err
	}
	if err := checkMaterialNames("materials", p.GetMaterials(), true); err != nil {
		return err
	}
	if err := checkText("reason", p.GetReason(), maxReasonRunes, true); err != nil {
		return err
	}
	a.State = StateSupplementRequested
	a.MaterialsRequested = p.GetMaterials()
	a.Pauses = append(a.Pauses, &pb.Pause{Materials: p.GetMaterials(), Reason: p.GetReason(), RequestedAt: ts(ev), RequestedBy: ev.GetUnit()})
	// The applicant answers at the accepting window.
	a.Holder = a.GetAcceptingUnit()
	return nil
}

func decodeSupplied(ev *pb.Event) (*pb.AppSupplied, error) {
	p := &pb.AppSupplied{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	return p, checkMaterialNames("materials", p.GetMaterials(), true)
}

func supplementApp(a *pb.Application, ev *pb.Event) error {
	p, err := decodeSupplied(ev)
	if err != nil {
		return err
	}
	if missing := subtract(a.GetMaterialsRequested(), p.GetMaterials()); len(missing) > 0 {
		return precondition("materials", "补正材料不全，还缺：%s", strings.Join(missing, "、"))
	}
	a.State = StateSupplemented
	a.MaterialsRequested = nil
	// A 容缺 material handed in with the supplement is no longer missing.
	a.MaterialsMissing = subtract(a.GetMaterialsMissing(), p.GetMaterials())
	a.Pauses[len(a.Pauses)-1].SuppliedAt = ts(ev)
	a.Holder = a.GetProcessingUnit()
	a.MaterialsReceived = union(a.GetMaterialsReceived(), p.GetMaterials())
	return nil
}

func supplyMissing(a *pb.Application, ev *pb.Event) error {
	p, err := decodeSupplied(ev)
	if err != nil {
		return err
	}
	if len(a.GetMaterialsMissing()) == 0 {
		return precondition("materials", "该办件没有待补齐的容缺材料")
	}
	if extra := subtract(p.GetMaterials(), a.GetMaterialsMissing()); len(extra) > 0 {
		return invalid("materials", "以下材料不在待补齐清单中：%s", strings.Join(extra, "、"))
	}
	a.MaterialsMissing = subtract(a.GetMaterialsMissing(), p.GetMaterials())
	a.MaterialsReceived = union(a.GetMaterialsReceived(), p.GetMaterials())
	return nil
}

func decideApp(a *pb.Application, ev *pb.Event) error {
	p := &pb.AppDecided{}
	if err := decodePayload(ev, p); err != nil {
		return err
	}
	if err := requireProcessing(a, ev, "办结"); err != nil {
		return err
	}
	if err := checkText("reason", p.GetReason(), maxReasonRunes, !p.GetApproved()); err != nil {
		return err
	}
	if p.GetApproved() && len(a.GetMaterialsMissing()) > 0 {
		return precondition("materials_missing", "容缺材料尚未补齐（%s），不能准予", strings.Join(a.GetMaterialsMissing(), "、"))
	}
	a.State = StateRejected
	if p.GetApproved() {
		a.State = StateApproved
	}
	a.Decision = &pb.Decision{Approved: p.GetApproved(), Reason: p.GetReason(), Unit: ev.GetUnit(), Actor: ev.GetActor(), DecidedAt: ts(ev)}
	// The result goes back to the accepting window.
	a.Holder = a.GetAcceptingUnit()
	return nil
}

func deliverApp(a *pb.Application, ev *pb.Event) error {
	p := &pb.AppDelivered{}
	if err := decodePayload(ev, p); err != nil {
		return err
	}
	if err := checkDelivery(p.GetMethod(), p.GetTracking()); err != nil {
		return err
	}
	a.State = StateDelivered
	a.Delivery = &pb.Delivery{Method: p.GetMethod(), Tracking: p.GetTracking(), Unit: ev.GetUnit(), Actor: ev.GetActor(), DeliveredAt: ts(ev)}
	return nil
}

func rateApp(a *pb.Application, ev *pb.Event) error {
	p := &pb.AppRated{}
	if err := decodePayload(ev, p); err != nil {
		return err
	}
	if err := checkRating(p.GetScore(), p.GetComment()); err != nil {
		return err
	}
	a.State = StateRated
	a.Rating = &pb.Rating{Score: p.GetScore(), Comment: p.GetComment(), RatedAt: ts(ev)}
	return nil
}

func withdrawApp(a *pb.Application, ev *pb.Event) error {
	p := &pb.AppWithdrawn{}
	if err := decodePayload(ev, p); err != nil {
		return err
	}
	if err := checkText("reason", p.GetReason(), maxReasonRunes, true); err != nil {
		return err
	}
	if a.GetState() == StateSupplementRequested {
		a.Pauses[len(a.Pauses)-1].SuppliedAt = ts(ev)
	}
	a.State = StateWithdrawn
	a.Withdrawal = &pb.Withdrawal{Reason: p.GetReason(), Actor: ev.GetActor(), WithdrawnAt: ts(ev)}
	return nil
}
