package node

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Event kinds. Append only: a kind once shipped keeps its name and payload
// forever, because events are stored and replicated as they are.
const (
	KindCatalogPublished      = "catalog.published"
	KindMatterPublished       = "matter.published"
	KindMatterWithdrawn       = "matter.withdrawn"
	KindAppAccepted           = "app.accepted"
	KindAppForwarded          = "app.forwarded"
	KindAppReceived           = "app.received"
	KindAppSupplementRequest  = "app.supplement_requested"
	KindAppSupplemented       = "app.supplemented"
	KindAppMaterialsSupplied  = "app.materials_supplied"
	KindAppDecided            = "app.decided"
	KindAppDelivered          = "app.delivered"
	KindAppRated              = "app.rated"
	KindAppWithdrawn          = "app.withdrawn"
	KindAuditIdentityRevealed = "audit.identity_revealed"
)

// Application states, as in DESIGN.md.
const (
	StateAccepted            = "accepted"
	StateForwarded           = "forwarded"
	StateReceived            = "received"
	StateSupplementRequested = "supplement_requested"
	StateSupplemented        = "supplemented"
	StateApproved            = "approved"
	StateRejected            = "rejected"
	StateDelivered           = "delivered"
	StateRated               = "rated"
	StateWithdrawn           = "withdrawn"
)

// StateLabels are the Chinese names of the states.
var StateLabels = map[string]string{
	StateAccepted:            "已受理",
	StateForwarded:           "已转报",
	StateReceived:            "已接收",
	StateSupplementRequested: "待补正",
	StateSupplemented:        "已补正",
	StateApproved:            "已办结（准予）",
	StateRejected:            "已办结（不予）",
	StateDelivered:           "已出件",
	StateRated:               "已评价",
	StateWithdrawn:           "已撤回",
}

// States lists the states in lifecycle order.
var States = []string{StateAccepted, StateForwarded, StateReceived, StateSupplementRequested,
	StateSupplemented, StateApproved, StateRejected, StateDelivered, StateRated, StateWithdrawn}

func stateLabel(s string) string {
	if l, ok := StateLabels[s]; ok {
		return l
	}
	return s
}

// Field limits.
const (
	maxNameRunes   = 40
	maxReasonRunes = 500
	maxMaterials   = 40
	maxNoteRunes   = 500
)

// eventHash is SHA-256 over the deterministic encoding of the event with its
// hash field cleared. It covers the id, kind, record, payload, clock, actor,
// unit, scope and the previous hash, so a record's chain is tamper-evident.
func eventHash(ev *pb.Event) []byte {
	// Marshal a shallow copy without the hash: no deep clone on the hot path.
	c := &pb.Event{Origin: ev.GetOrigin(), Seq: ev.GetSeq(), Kind: ev.GetKind(), RecordKey: ev.GetRecordKey(),
		Payload: ev.GetPayload(), Hlc: ev.GetHlc(), Actor: ev.GetActor(), Unit: ev.GetUnit(), Scope: ev.GetScope(), PrevHash: ev.GetPrevHash()}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("marshal event: %v", err))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// checkEvent verifies the parts of an event every receiver can check on its
// own: well-formed id, known kind, hash.
func checkEvent(ev *pb.Event) error {
	switch {
	case ev.GetOrigin() == "":
		return invalid("event.origin", "缺少来源节点")
	case ev.GetSeq() == 0:
		return invalid("event.seq", "序号不能为 0")
	case ev.GetRecordKey() == "":
		return invalid("event.record_key", "缺少记录键")
	case ev.GetHlc() == 0:
		return invalid("event.hlc", "缺少时间戳")
	}
	if _, err := tiers.Parse(ev.GetUnit()); err != nil {
		return invalid("event.unit", "%v", err)
	}
	if !bytes.Equal(eventHash(ev), ev.GetHash()) {
		return invalid("event.hash", "哈希不符，事件内容被篡改或损坏")
	}
	return nil
}

// materialize applies an event to the record it changes and returns the new
// record. It is the only code that turns events into records: local
// commands, verification and (later) replication all go through it, so a
// record always equals the fold of its events. It checks everything that
// can be checked from the record and the event: chain, transition, author.
func materialize(prev *pb.StoredRecord, ev *pb.Event) (*pb.StoredRecord, error) {
	if err := checkEvent(ev); err != nil {
		return nil, err
	}
	var head []byte
	var version uint64
	if prev != nil {
		head, version = prev.GetHead(), prev.GetVersion()
	}
	if !bytes.Equal(head, ev.GetPrevHash()) {
		return nil, precondition("event.prev_hash", "与记录 %s 的最新事件不衔接", ev.GetRecordKey())
	}
	var data proto.Message
	var err error
	kind := recordKind(ev.GetRecordKey())
	switch kind {
	case recordKind(recCatalog):
		data, err = applyCatalogEvent(prev, ev)
	case recordKind(recMatter):
		data, err = applyMatterEvent(prev, ev)
	case recordKind(recApp):
		data, err = applyAppEvent(prev, ev)
	case recordKind(recAudit):
		data, err = applyAuditEvent(prev, ev)
	case recordKind(recDelegation):
		data, err = applyDelegationEvent(prev, ev)
	case recordKind(recTask):
		data, err = applyTaskEvent(prev, ev)
	case recordKind(recFollowUp):
		data, err = applyFollowUpEvent(prev, ev)
	case recordKind(recRequest):
		data, err = applyRequestEvent(prev, ev)
	case recordKind(recClass), recordKind(recOrder), recNegative:
		data, err = applyMenuEvent(prev, ev)
	default:
		return nil, invalid("event.record_key", "未知的记录类型 %q", ev.GetRecordKey())
	}
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(data)
	if err != nil {
		return nil, err
	}
	return &pb.StoredRecord{Kind: kind, Version: version + 1, Head: ev.GetHash(), Data: b}, nil
}

func decodePayload(ev *pb.Event, m proto.Message) error {
	if err := proto.Unmarshal(ev.GetPayload(), m); err != nil {
		return invalid("event.payload", "无法解析 %s 的内容: %v", ev.GetKind(), err)
	}
	return nil
}

func decodeRecord[T proto.Message](rec *pb.StoredRecord, m T) (T, error) {
	if err := proto.Unmarshal(rec.GetData(), m); err != nil {
		return m, fmt.Errorf("%w: record data: %v", ErrCorrupt, err)
	}
	return m, nil
}

// appFromRecord decodes an application record with its chain position.
func appFromRecord(rec *pb.StoredRecord) (*pb.Application, error) {
	a, err := decodeRecord(rec, &pb.Application{})
	if err != nil {
		return nil, err
	}
	a.Version, a.Head = rec.GetVersion(), rec.GetHead()
	return a, nil
}

func requireCounty(ev *pb.Event, what string) error {
	if tiers.Unit(ev.GetUnit()).Tier() != tiers.County {
		return precondition("event.unit", "%s只能由县级节点发布，%s 不是县级单位", what, ev.GetUnit())
	}
	return nil
}

func applyCatalogEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindCatalogPublished {
		return nil, invalid("event.kind", "事项清单记录不接受 %q", ev.GetKind())
	}
	if err := requireCounty(ev, "事项清单"); err != nil {
		return nil, err
	}
	p := &pb.CatalogPublished{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	var old uint64
	if prev != nil {
		r, err := decodeRecord(prev, &pb.CatalogRecord{})
		if err != nil {
			return nil, err
		}
		old = r.GetVersion()
	}
	if p.GetVersion() != old+1 {
		return nil, precondition("catalog.version", "版本应为 %d，实为 %d", old+1, p.GetVersion())
	}
	return &pb.CatalogRecord{Version: p.GetVersion(), Title: p.GetTitle(), Departments: p.GetDepartments()}, nil
}

func applyMatterEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if err := requireCounty(ev, "事项"); err != nil {
		return nil, err
	}
	p := &pb.MatterChanged{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	m := p.GetMatter()
	if m == nil || matterKey(m.GetCode()) != ev.GetRecordKey() {
		return nil, invalid("event.payload.matter.code", "与记录键 %s 不符", ev.GetRecordKey())
	}
	switch ev.GetKind() {
	case KindMatterPublished:
		return m, nil
	case KindMatterWithdrawn:
		if prev == nil {
			return nil, precondition("matter", "事项 %s 不存在，无法撤销", m.GetCode())
		}
		old, err := decodeRecord(prev, &pb.Matter{})
		if err != nil {
			return nil, err
		}
		if old.GetCatalogVersion() == 0 && len(old.GetMaterials()) == 0 {
			return nil, precondition("matter", "事项 %s 已撤销", m.GetCode())
		}
		// A withdrawn matter keeps its code and the version that withdrew it.
		return &pb.Matter{Code: m.GetCode(), Name: old.GetName(), Department: old.GetDepartment(), CatalogVersion: m.GetCatalogVersion()}, nil
	}
	return nil, invalid("event.kind", "事项记录不接受 %q", ev.GetKind())
}

// isWithdrawnMatter reports whether a matter record marks a withdrawn matter.
func isWithdrawnMatter(m *pb.Matter) bool { return len(m.GetMaterials()) == 0 }

func ts(ev *pb.Event) *timestamppb.Timestamp { return timestamppb.New(hlcTime(ev.GetHlc())) }

func checkText(field, s string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return invalid(field, "不能为空")
	case !utf8.ValidString(s):
		return invalid(field, "不是有效的 UTF-8 文本")
	case utf8.RuneCountInString(s) > max:
		return invalid(field, "超过 %d 个字（实为 %d 个）", max, utf8.RuneCountInString(s))
	}
	return nil
}

// transitions lists, for every event kind that changes an application, the
// states it may start from.
var transitions = map[string][]string{
	KindAppForwarded:         {StateAccepted},
	KindAppReceived:          {StateForwarded},
	KindAppRerouted:          {StateAccepted, StateReceived, StateSupplemented},
	KindAppSupplementRequest: {StateAccepted, StateReceived, StateSupplemented},
	KindAppSupplemented:      {StateSupplementRequested},
	KindAppMaterialsSupplied: {StateAccepted, StateForwarded, StateReceived, StateSupplemented},
	KindAppDecided:           {StateAccepted, StateReceived, StateSupplemented},
	KindAppDelivered:         {StateApproved, StateRejected},
	KindAppRated:             {StateDelivered},
	KindAppWithdrawn:         {StateAccepted, StateForwarded, StateReceived, StateSupplementRequested, StateSupplemented},
}

var actionLabels = map[string]string{
	KindAppForwarded:         "转报",
	KindAppReceived:          "接收",
	KindAppRerouted:          "改派",
	KindAppSupplementRequest: "要求补正",
	KindAppSupplemented:      "补正",
	KindAppMaterialsSupplied: "补交容缺材料",
	KindAppDecided:           "办结",
	KindAppDelivered:         "出件",
	KindAppRated:             "评价",
	KindAppWithdrawn:         "撤回",
}

func applyAppEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() == KindAppAccepted {
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
		a = proto.Clone(a).(*pb.Application)
		a.AcceptedAt = ts(ev)
		a.UpdatedAt = ts(ev)
		a.AcceptedBy = ev.GetActor()
		return a, nil
	}
	if prev == nil {
		return nil, notFound("id", "办件 %s 不存在", strings.TrimPrefix(ev.GetRecordKey(), recApp))
	}
	a, err := decodeRecord(prev, &pb.Application{})
	if err != nil {
		return nil, err
	}
	from, ok := transitions[ev.GetKind()]
	if !ok {
		return nil, invalid("event.kind", "办件记录不接受 %q", ev.GetKind())
	}
	action := actionLabels[ev.GetKind()]
	if !slices.Contains(from, a.GetState()) {
		return nil, precondition("state", "办件当前状态为「%s」，不能%s", stateLabel(a.GetState()), action)
	}
	if a.GetHolder() != ev.GetUnit() {
		return nil, precondition("holder", "办件 %s 当前由 %s 持有，本单位 %s 不能%s", a.GetId(), a.GetHolder(), ev.GetUnit(), action)
	}
	a.UpdatedAt = ts(ev)
	switch ev.GetKind() {
	case KindAppForwarded:
		p := &pb.AppRouted{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if p.GetToUnit() != a.GetProcessingUnit() || a.GetProcessingUnit() == a.GetAcceptingUnit() {
			return nil, precondition("to_unit", "办件应转报至办理单位 %s，而非 %s", a.GetProcessingUnit(), p.GetToUnit())
		}
		a.State = StateForwarded
		// The move is the processing unit's from now on: it receives.
		a.Holder = a.GetProcessingUnit()
	case KindAppReceived:
		if err := requireProcessing(a, ev, action); err != nil {
			return nil, err
		}
		a.State = StateReceived
	case KindAppRerouted:
		p := &pb.AppRerouted{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if err := checkText("reason", p.GetReason(), maxReasonRunes, true); err != nil {
			return nil, err
		}
		if _, err := tiers.Parse(p.GetToUnit()); err != nil || p.GetToUnit() == a.GetProcessingUnit() {
			return nil, invalid("to_unit", "改派目标 %q 无效或与现办理单位相同", p.GetToUnit())
		}
		a.ProcessingUnit, a.Holder, a.State = p.GetToUnit(), p.GetToUnit(), StateForwarded
		a.DelegationId, a.RouteMode = p.GetDelegationId(), p.GetRouteMode()
	case KindAppSupplementRequest:
		p := &pb.AppSupplementRequested{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if err := requireProcessing(a, ev, action); err != nil {
			return nil, err
		}
		if err := checkMaterialNames("materials", p.GetMaterials(), true); err != nil {
			return nil, err
		}
		if err := checkText("reason", p.GetReason(), maxReasonRunes, true); err != nil {
			return nil, err
		}
		a.State = StateSupplementRequested
		a.MaterialsRequested = p.GetMaterials()
		a.Pauses = append(a.Pauses, &pb.Pause{Materials: p.GetMaterials(), Reason: p.GetReason(), RequestedAt: ts(ev), RequestedBy: ev.GetUnit()})
		// The applicant answers at the accepting window.
		a.Holder = a.GetAcceptingUnit()
	case KindAppSupplemented, KindAppMaterialsSupplied:
		p := &pb.AppSupplied{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if err := checkMaterialNames("materials", p.GetMaterials(), true); err != nil {
			return nil, err
		}
		if ev.GetKind() == KindAppSupplemented {
			if missing := subtract(a.GetMaterialsRequested(), p.GetMaterials()); len(missing) > 0 {
				return nil, precondition("materials", "补正材料不全，还缺：%s", strings.Join(missing, "、"))
			}
			a.State = StateSupplemented
			a.MaterialsRequested = nil
			// A 容缺 material handed in with the supplement is no longer
			// missing.
			a.MaterialsMissing = subtract(a.GetMaterialsMissing(), p.GetMaterials())
			a.Pauses[len(a.Pauses)-1].SuppliedAt = ts(ev)
			a.Holder = a.GetProcessingUnit()
		} else {
			if len(a.GetMaterialsMissing()) == 0 {
				return nil, precondition("materials", "该办件没有待补齐的容缺材料")
			}
			if extra := subtract(p.GetMaterials(), a.GetMaterialsMissing()); len(extra) > 0 {
				return nil, invalid("materials", "以下材料不在待补齐清单中：%s", strings.Join(extra, "、"))
			}
			a.MaterialsMissing = subtract(a.GetMaterialsMissing(), p.GetMaterials())
		}
		a.MaterialsReceived = union(a.GetMaterialsReceived(), p.GetMaterials())
	case KindAppDecided:
		p := &pb.AppDecided{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if err := requireProcessing(a, ev, action); err != nil {
			return nil, err
		}
		if err := checkText("reason", p.GetReason(), maxReasonRunes, !p.GetApproved()); err != nil {
			return nil, err
		}
		if p.GetApproved() && len(a.GetMaterialsMissing()) > 0 {
			return nil, precondition("materials_missing", "容缺材料尚未补齐（%s），不能准予", strings.Join(a.GetMaterialsMissing(), "、"))
		}
		a.State = StateRejected
		if p.GetApproved() {
			a.State = StateApproved
		}
		a.Decision = &pb.Decision{Approved: p.GetApproved(), Reason: p.GetReason(), Unit: ev.GetUnit(), Actor: ev.GetActor(), DecidedAt: ts(ev)}
		// The result goes back to the accepting window.
		a.Holder = a.GetAcceptingUnit()
	case KindAppDelivered:
		p := &pb.AppDelivered{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if err := checkDelivery(p.GetMethod(), p.GetTracking()); err != nil {
			return nil, err
		}
		a.State = StateDelivered
		a.Delivery = &pb.Delivery{Method: p.GetMethod(), Tracking: p.GetTracking(), Unit: ev.GetUnit(), Actor: ev.GetActor(), DeliveredAt: ts(ev)}
	case KindAppRated:
		p := &pb.AppRated{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if err := checkRating(p.GetScore(), p.GetComment()); err != nil {
			return nil, err
		}
		a.State = StateRated
		a.Rating = &pb.Rating{Score: p.GetScore(), Comment: p.GetComment(), RatedAt: ts(ev)}
	case KindAppWithdrawn:
		p := &pb.AppWithdrawn{}
		if err := decodePayload(ev, p); err != nil {
			return nil, err
		}
		if err := checkText("reason", p.GetReason(), maxReasonRunes, true); err != nil {
			return nil, err
		}
		if a.GetState() == StateSupplementRequested {
			a.Pauses[len(a.Pauses)-1].SuppliedAt = ts(ev)
		}
		a.State = StateWithdrawn
		a.Withdrawal = &pb.Withdrawal{Reason: p.GetReason(), Actor: ev.GetActor(), WithdrawnAt: ts(ev)}
	}
	return a, nil
}

// requireProcessing refuses an action that only the processing unit may
// take when the author is not that unit.
func requireProcessing(a *pb.Application, ev *pb.Event, action string) error {
	if a.GetProcessingUnit() != ev.GetUnit() {
		return precondition("processing_unit", "该办件由 %s 办理，本单位 %s 不能%s", a.GetProcessingUnit(), ev.GetUnit(), action)
	}
	return nil
}

func checkMaterialNames(field string, names []string, required bool) error {
	if required && len(names) == 0 {
		return invalid(field, "至少列出一项材料")
	}
	if len(names) > maxMaterials {
		return invalid(field, "超过 %d 项", maxMaterials)
	}
	seen := map[string]bool{}
	for i, n := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkText(f, n, 60, true); err != nil {
			return err
		}
		if seen[n] {
			return invalid(f, "材料 %q 重复", n)
		}
		seen[n] = true
	}
	return nil
}

func checkDelivery(method, tracking string) error {
	switch method {
	case "window":
		if tracking != "" {
			return invalid("tracking", "窗口出件不需要快递单号")
		}
	case "post":
		if len(tracking) < 8 || len(tracking) > 30 {
			return invalid("tracking", "快递送达须填写 8-30 位快递单号")
		}
		for _, r := range tracking {
			if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
				return invalid("tracking", "快递单号只能包含字母和数字")
			}
		}
	default:
		return invalid("method", "出件方式 %q 应为 window（窗口领取）或 post（快递送达）", method)
	}
	return nil
}

func checkRating(score uint32, comment string) error {
	if score < 1 || score > 5 {
		return invalid("score", "评分应为 1 到 5，实为 %d", score)
	}
	if err := checkText("comment", comment, maxReasonRunes, score <= 2); err != nil {
		if score <= 2 && strings.TrimSpace(comment) == "" {
			return invalid("comment", "差评（%d 分）须填写意见，以便整改回访", score)
		}
		return err
	}
	return nil
}

func subtract(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func applyAuditEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindAuditIdentityRevealed {
		return nil, invalid("event.kind", "审计记录不接受 %q", ev.GetKind())
	}
	p := &pb.RevealAudit{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	if auditKey(p.GetApplicationId()) != ev.GetRecordKey() {
		return nil, invalid("event.payload.application_id", "与记录键 %s 不符", ev.GetRecordKey())
	}
	r := &pb.AuditRecord{ApplicationId: p.GetApplicationId()}
	if prev != nil {
		var err error
		if r, err = decodeRecord(prev, &pb.AuditRecord{}); err != nil {
			return nil, err
		}
	}
	r.Entries = append(r.Entries, &pb.AuditEntry{Actor: ev.GetActor(), Unit: ev.GetUnit(), Reason: p.GetReason(), AtMs: int64(ev.GetHlc() >> 16)})
	return r, nil
}
