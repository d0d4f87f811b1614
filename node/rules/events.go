package rules

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Field limits.
const (
	maxNameRunes   = 40
	maxReasonRunes = 500
	maxMaterials   = 40
	maxNoteRunes   = 500
)

// Fold is what an event makes of the record it changes (prev is nil for
// a new record): the record's new data, or why the event may not follow.
// It checks what can be checked from the record and the event: the
// transition and its author. The store checks the chain and the hash.
func (s *Rules) Fold(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	return fold(prev, ev)
}

// folders names the fold of each record kind (the key up to its first "/").
var folders = map[string]func(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error){
	store.RecordKind(recCatalog):    applyCatalogEvent,
	store.RecordKind(recMatter):     applyMatterEvent,
	store.RecordKind(recApp):        applyAppEvent,
	store.RecordKind(recAudit):      applyAuditEvent,
	store.RecordKind(recDelegation): applyDelegationEvent,
	store.RecordKind(recTask):       applyTaskEvent,
	store.RecordKind(recFollowUp):   applyFollowUpEvent,
	store.RecordKind(recRequest):    applyRequestEvent,
	store.RecordKind(recClass):      applyMenuEvent,
	store.RecordKind(recOrder):      applyMenuEvent,
	recNegative:                     applyMenuEvent,
	store.RecordKind(recAccount):    applyAccountEvent,
	store.RecordKind(recPassword):   applyPasswordEvent,
	store.RecordKind(recSignIn):     applySignInEvent,
	store.RecordKind(recRevoked):    applyRevocationEvent,
	store.RecordKind(recEnroll):     applyEnrollEvent,
	store.RecordKind(recEnrolled):   applyEnrolledEvent,
	store.RecordKind(recBackups):    applyBackupEvent,
	store.RecordKind(recUnit):       applyUnitEvent,
	store.RecordKind(recRefusal):    applyRefusalEvent,
}

func fold(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	f, ok := folders[store.RecordKind(ev.GetRecordKey())]
	if !ok {
		return nil, invalid("event.record_key", "未知的记录类型 %q", ev.GetRecordKey())
	}
	return f(prev, ev)
}

func decodePayload(ev *pb.Event, m proto.Message) error {
	if err := proto.Unmarshal(ev.GetPayload(), m); err != nil {
		return invalid("event.payload", "无法解析 %s 的内容: %v", ev.GetKind(), err)
	}
	return nil
}

func decodeRecord[T proto.Message](rec *pb.StoredRecord, m T) (T, error) {
	if err := proto.Unmarshal(rec.GetData(), m); err != nil {
		return m, fmt.Errorf("%w: record data: %v", store.ErrCorrupt, err)
	}
	return m, nil
}

// existing decodes the record an event changes; an event that must find
// one answers missing() where there is none.
func existing[T proto.Message](prev *pb.StoredRecord, m T, missing func() error) (T, error) {
	if prev == nil {
		return m, missing()
	}
	return decodeRecord(prev, m)
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
		old, err := existing(prev, &pb.Matter{}, func() error { return precondition("matter", "事项 %s 不存在，无法撤销", m.GetCode()) })
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

func ts(ev *pb.Event) *timestamppb.Timestamp { return timestamppb.New(store.HLCTime(ev.GetHlc())) }

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
