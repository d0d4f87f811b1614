package rules

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// delegationsOf lists the delegations recorded for a matter (all of them:
// in force, ended and revoked), from any transaction.
func delegationsOf(txn store.Reader, matter string) ([]*pb.Delegation, error) {
	var out []*pb.Delegation
	err := txn.Scan(recDelegation, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
		d, err := decodeRecord(rec, &pb.Delegation{})
		if err != nil {
			return false, err
		}
		if matter == "" || d.GetMatterCode() == matter {
			out = append(out, d)
		}
		return true, nil
	})
	return out, err
}

func applyDelegationEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if err := requireCounty(ev, "下放、委托、代办"); err != nil {
		return nil, err
	}
	p := &pb.Delegation{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	if delegationKey(p.GetId()) != ev.GetRecordKey() {
		return nil, invalid("event.payload.id", "与记录键 %s 不符", ev.GetRecordKey())
	}
	switch ev.GetKind() {
	case KindDelegationGranted:
		if prev != nil {
			return nil, precondition("id", "授权 %s 已存在", p.GetId())
		}
		d := proto.Clone(p).(*pb.Delegation)
		d.Version, d.GrantedBy, d.GrantedAt = 1, ev.GetActor(), ts(ev)
		d.RevokedAt, d.RevokedBy = nil, ""
		return d, nil
	case KindDelegationRevoked:
		d, err := existing(prev, &pb.Delegation{}, func() error { return notFound("id", "授权 %s 不存在", p.GetId()) })
		if err != nil {
			return nil, err
		}
		if d.GetRevokedAt() != nil {
			return nil, precondition("id", "授权 %s 已于 %s 撤销", d.GetId(), d.GetRevokedAt().AsTime().In(delegation.China).Format("2006-01-02 15:04"))
		}
		d.Version++
		d.RevokedAt, d.RevokedBy, d.RevokeReason = ts(ev), ev.GetActor(), p.GetRevokeReason()
		return d, nil
	}
	return nil, invalid("event.kind", "授权记录不接受 %q", ev.GetKind())
}

func (s *Rules) grant(w *store.Tx, cmd *pb.Command, req *pb.GrantDelegationRequest) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "下放、委托、代办只能由县级节点授予")
	}
	if _, err := s.matter(w, req.GetMatterCode()); err != nil {
		return nil, err
	}
	now := time.UnixMilli(cmd.GetNowMs())
	req = proto.Clone(req).(*pb.GrantDelegationRequest)
	if req.GetFrom() == "" {
		req.From = delegation.FormatDate(now)
	}
	existing, err := s.delegations(w, req.GetMatterCode())
	if err != nil {
		return nil, err
	}
	if err := delegation.ValidateGrant(req, existing, now); err != nil {
		return nil, err
	}
	if u := tiers.Unit(req.GetUnit()); !s.unit.Contains(u) {
		return nil, invalid("unit", "%s 不在本县（%s）辖区内", u, s.unit)
	}
	n, err := w.NextCounter("delegation")
	if err != nil {
		return nil, err
	}
	d := &pb.Delegation{Id: fmt.Sprintf("D-%06d", n), MatterCode: req.GetMatterCode(), Unit: req.GetUnit(),
		Mode: req.GetMode(), From: req.GetFrom(), Until: req.GetUntil()}
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindDelegationGranted, RecordKey: delegationKey(d.GetId()), Payload: mustMarshal(d),
		Scope: &pb.Scope{Subtrees: []string{string(s.unit)}}})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.Delegation{})
}

func (s *Rules) revoke(w *store.Tx, cmd *pb.Command, req *pb.RevokeDelegationRequest) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "下放、委托、代办只能由县级节点撤销")
	}
	if req.GetId() == "" {
		return nil, invalid("id", "请指定授权编号")
	}
	if err := checkText("reason", req.GetReason(), maxReasonRunes, true); err != nil {
		return nil, err
	}
	rec, err := w.Record(delegationKey(req.GetId()))
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound("id", "授权 %q 不存在", req.GetId())
	}
	rec, err = w.Emit(cmd, &pb.Event{Kind: KindDelegationRevoked, RecordKey: delegationKey(req.GetId()),
		Payload: mustMarshal(&pb.Delegation{Id: req.GetId(), RevokeReason: req.GetReason()}),
		Scope:   &pb.Scope{Subtrees: []string{string(s.unit)}}})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.Delegation{})
}

// delegations are a matter's delegations as the write transaction sees
// them (without the current command's own staged writes, as
// delegationsOf). They come from the hot cache when it holds them and are
// shared: callers must not modify them.
func (s *Rules) delegations(w *store.Tx, matter string) ([]*pb.Delegation, error) {
	if dels, ok := s.hot.delegations(matter); ok {
		return dels, nil
	}
	all, err := delegationsOf(w.Committed(), "")
	if err != nil {
		return nil, err
	}
	s.hot.setDelegations(all)
	var out []*pb.Delegation
	for _, d := range all {
		if d.GetMatterCode() == matter {
			out = append(out, d)
		}
	}
	return out, nil
}

// route decides, at acceptance, who processes the application.
func (s *Rules) route(w *store.Tx, matter string, at time.Time) (tiers.Unit, *pb.Delegation, error) {
	dels, err := s.delegations(w, matter)
	if err != nil {
		return "", nil, err
	}
	u, d := delegation.Route(dels, s.unit, at)
	return u, d, nil
}

// forward re-routes an application to another deciding unit, explicitly.
func (s *Rules) forward(w *store.Tx, cmd *pb.Command, req *pb.ForwardApplicationRequest) (proto.Message, error) {
	a, err := s.appForWrite(w, req.GetId())
	if err != nil {
		return nil, err
	}
	to, err := tiers.Parse(req.GetToUnit())
	if err != nil {
		return nil, invalid("to_unit", "%v", err)
	}
	if err := checkText("reason", req.GetReason(), maxReasonRunes, true); err != nil {
		return nil, invalid("reason", "改派须说明理由（将记入办件经过）")
	}
	dels, err := s.delegations(w, a.GetMatterCode())
	if err != nil {
		return nil, err
	}
	d, ok := delegation.Entitled(dels, to, tiers.Unit(a.GetAcceptingUnit()), time.UnixMilli(cmd.GetNowMs()))
	if !ok {
		return nil, precondition("to_unit", "%s 现在无权办理事项 %s（没有生效的下放或委托）", to, a.GetMatterCode())
	}
	p := &pb.AppRerouted{ToUnit: string(to), Reason: req.GetReason(), DelegationId: d.GetId(), RouteMode: d.GetMode()}
	// Old and new deciding units both hear of it.
	scope := appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))
	for _, u := range appScope(tiers.Unit(a.GetAcceptingUnit()), to).GetUnits() {
		if !strings.Contains(strings.Join(scope.Units, ","), u) {
			scope.Units = append(scope.Units, u)
		}
	}
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindAppRerouted, RecordKey: appKey(a.GetId()), Payload: mustMarshal(p), Scope: scope})
	if err != nil {
		return nil, err
	}
	return appFromRecord(rec)
}

// checkRoute is what a receiver verifies of a routing it did not make: the
// deciding unit named by an acceptance or a re-route must hold the power
// on the day the event was written. A revocation the router may not have
// heard of does not count (delegation.Admits).
func (s *Rules) checkRoute(w *store.Tx, prev *pb.StoredRecord, ev *pb.Event) error {
	var matter, accepting, to string
	switch ev.GetKind() {
	case KindAppAccepted:
		p := &pb.AppAccepted{}
		if err := decodePayload(ev, p); err != nil {
			return err
		}
		matter, accepting, to = p.GetApplication().GetMatterCode(), p.GetApplication().GetAcceptingUnit(), p.GetApplication().GetProcessingUnit()
	case KindAppRerouted:
		if prev == nil {
			return nil // materialize refuses it
		}
		a, err := decodeRecord(prev, &pb.Application{})
		if err != nil {
			return err
		}
		p := &pb.AppRerouted{}
		if err := decodePayload(ev, p); err != nil {
			return err
		}
		matter, accepting, to = a.GetMatterCode(), a.GetAcceptingUnit(), p.GetToUnit()
	case KindTaskCreated:
		p := &pb.Task{}
		if err := decodePayload(ev, p); err != nil {
			return err
		}
		matter, accepting, to = p.GetPartCode(), ev.GetUnit(), p.GetProcessingUnit()
	default:
		return nil
	}
	dels, err := s.delegations(w, matter)
	if err != nil {
		return err
	}
	if _, ok := delegation.Admits(dels, tiers.Unit(to), tiers.Unit(accepting), store.HLCTime(ev.GetHlc())); !ok {
		return precondition("processing_unit", "%s 在 %s 无权办理事项 %s（没有生效的下放或委托）", to,
			store.HLCTime(ev.GetHlc()).In(delegation.China).Format("2006-01-02 15:04"), matter)
	}
	return nil
}

// Delegations lists delegations: in force now, or all of them.
func (s *Rules) Delegations(all bool, matter, unit string) ([]*pb.Delegation, error) {
	var out []*pb.Delegation
	now := s.st.Now()
	err := s.st.View(func(txn store.Reader) error {
		dels, err := delegationsOf(txn, matter)
		if err != nil {
			return err
		}
		for _, d := range dels {
			if unit != "" && d.GetUnit() != unit {
				continue
			}
			if !all && (d.GetRevokedAt() != nil || (d.GetUntil() != "" && delegation.FormatDate(now) > d.GetUntil())) {
				continue
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// Route answers who decides a matter accepted at a unit now.
func (s *Rules) Route(matter string, accepting tiers.Unit) (tiers.Unit, *pb.Delegation, error) {
	if _, err := s.GetMatter(matter); err != nil {
		return "", nil, err
	}
	var u tiers.Unit
	var d *pb.Delegation
	err := s.st.View(func(txn store.Reader) error {
		dels, err := delegationsOf(txn, matter)
		if err != nil {
			return err
		}
		u, d = delegation.Route(dels, accepting, s.st.Now())
		return nil
	})
	return u, d, err
}
