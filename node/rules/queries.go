package rules

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
)

// Catalog returns the catalog head record (version 0 if none was published).
func (s *Rules) Catalog() (*pb.CatalogRecord, error) {
	out := &pb.CatalogRecord{}
	err := s.st.View(func(txn store.Reader) error {
		rec, err := txn.Record(recCatalog)
		if err != nil || rec == nil {
			return err
		}
		out, err = decodeRecord(rec, out)
		return err
	})
	return out, err
}

// ListMatters returns the matters in force that pass the filter.
func (s *Rules) ListMatters(f *pb.ListMattersRequest) ([]*pb.Matter, error) {
	var out []*pb.Matter
	kind := f.GetKind()
	if kind != "" {
		k, ok := delegation.KindFromLabel(kind)
		if !ok {
			return nil, invalid("kind", "%q 不是已知的事项类型", kind)
		}
		kind = k
	}
	names := map[string]string{}
	err := s.st.View(func(txn store.Reader) error {
		return txn.Scan(recMatter, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			m, err := decodeRecord(rec, &pb.Matter{})
			if err != nil {
				return false, err
			}
			names[m.GetCode()] = m.GetName()
			switch {
			case isWithdrawnMatter(m),
				f.GetDepartment() != "" && m.GetDepartment() != f.GetDepartment(),
				kind != "" && m.GetKind() != kind,
				!matterMatches(m, f.GetQuery()),
				f.GetHasMaxVisits() && m.GetVisits() > f.GetMaxVisits(),
				f.GetOnlineOnly() && !m.GetOnline(),
				f.GetCompositeOnly() && len(m.GetParts()) == 0:
				return true, nil
			}
			out = append(out, m)
			return true, nil
		})
	})
	for _, m := range out {
		for _, p := range m.GetParts() {
			m.PartNames = append(m.PartNames, names[p])
		}
	}
	return out, err
}

// GetMatter returns a matter in force.
func (s *Rules) GetMatter(code string) (*pb.Matter, error) {
	var m *pb.Matter
	err := s.st.View(func(txn store.Reader) error {
		rec, err := txn.Record(matterKey(code))
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound("code", "事项 %q 不在事项清单中", code)
		}
		if m, err = decodeRecord(rec, &pb.Matter{}); err != nil {
			return err
		}
		if isWithdrawnMatter(m) {
			return notFound("code", "事项 %q 已于清单第 %d 版撤销", code, m.GetCatalogVersion())
		}
		for _, p := range m.GetParts() {
			var name string
			if rec, err := txn.Record(matterKey(p)); err != nil {
				return err
			} else if rec != nil {
				pm, err := decodeRecord(rec, &pb.Matter{})
				if err != nil {
					return err
				}
				name = pm.GetName()
			}
			m.PartNames = append(m.PartNames, name)
		}
		return nil
	})
	return m, err
}

// GetApplication returns an application and its history.
func (s *Rules) GetApplication(id string) (*pb.Application, []*pb.HistoryEntry, error) {
	if id == "" {
		return nil, nil, invalid("id", "请指定办件编号")
	}
	var a *pb.Application
	var hist []*pb.HistoryEntry
	units, err := s.Units()
	if err != nil {
		return nil, nil, err
	}
	label := func(u string) string { return unitLabel(units, u) }
	err = s.st.View(func(txn store.Reader) error {
		rec, err := txn.Record(appKey(id))
		if err != nil {
			return err
		}
		if rec == nil {
			return notFound("id", "办件 %q 不存在", id)
		}
		if a, err = appFromRecord(rec); err != nil {
			return err
		}
		if a.Tasks, err = tasksOf(txn, a); err != nil {
			return err
		}
		keys := []string{appKey(id), auditKey(id), followUpKey(id)}
		for _, p := range a.GetParts() {
			keys = append(keys, taskKey(id, p))
		}
		reqs, err := requestsOf(txn, id)
		if err != nil {
			return err
		}
		keys = append(keys, reqs...)
		for _, key := range keys {
			err := txn.History(key, func(pos uint64, ev *pb.Event) {
				hist = append(hist, &pb.HistoryEntry{FeedPosition: pos, Kind: ev.GetKind(), Unit: ev.GetUnit(), UnitName: units[ev.GetUnit()].GetName(),
					Actor: store.DisplayActor(ev.GetActor(), ev.GetActorLogin(), ev.GetOrigin()), At: ts(ev), Summary: summarize(ev, label), Hash: ev.GetHash()})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sortHistory(hist)
	return a, hist, nil
}

func sortHistory(h []*pb.HistoryEntry) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].GetFeedPosition() < h[j-1].GetFeedPosition(); j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

// summarize describes an event in a line a clerk reads.
func summarize(ev *pb.Event, label func(unit string) string) string {
	switch ev.GetKind() {
	case KindAppAccepted:
		p := &pb.AppAccepted{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		s := fmt.Sprintf("受理（%s），收取材料 %d 项", p.GetApplication().GetMatterName(), len(p.GetApplication().GetMaterialsReceived()))
		if n := len(p.GetApplication().GetMaterialsMissing()); n > 0 {
			s += fmt.Sprintf("，容缺 %d 项：%s", n, strings.Join(p.GetApplication().GetMaterialsMissing(), "、"))
		}
		return s
	case KindAppForwarded:
		p := &pb.AppRouted{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return "转报至办理单位 " + label(p.GetToUnit())
	case KindAppReceived:
		return "办理单位已接收"
	case KindAppRerouted:
		p := &pb.AppRerouted{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return "改派至 " + label(p.GetToUnit()) + reasonSuffix(p.GetReason())
	case KindAppSupplementRequest:
		p := &pb.AppSupplementRequested{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("要求补正：%s（%s），计时暂停", strings.Join(p.GetMaterials(), "、"), p.GetReason())
	case KindAppSupplemented:
		p := &pb.AppSupplied{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("已补正：%s，恢复计时", strings.Join(p.GetMaterials(), "、"))
	case KindAppMaterialsSupplied:
		p := &pb.AppSupplied{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("补交容缺材料：%s", strings.Join(p.GetMaterials(), "、"))
	case KindAppDecided:
		p := &pb.AppDecided{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		if p.GetApproved() {
			return "办结：准予" + reasonSuffix(p.GetReason())
		}
		// A joined rejection of an earlier release began its reason with 不予 too.
		return "办结：不予" + reasonSuffix(strings.TrimPrefix(p.GetReason(), "不予："))
	case KindAppDelivered:
		p := &pb.AppDelivered{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		if p.GetMethod() == "post" {
			return "出件：快递送达，单号 " + p.GetTracking()
		}
		return "出件：窗口领取"
	case KindAppRated:
		p := &pb.AppRated{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("评价：%d 分%s", p.GetScore(), reasonSuffix(p.GetComment()))
	case KindAppWithdrawn:
		p := &pb.AppWithdrawn{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return "申请人撤回" + reasonSuffix(p.GetReason())
	case KindTaskCreated:
		p := &pb.Task{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("子事项 %s %s 交 %s 办理", p.GetPartCode(), p.GetPartName(), label(p.GetProcessingUnit()))
	case KindTaskDecided:
		p := &pb.AppDecided{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		part := ev.GetRecordKey()[strings.LastIndex(ev.GetRecordKey(), "/")+1:]
		if p.GetApproved() {
			return "子事项 " + part + " 办结：准予" + reasonSuffix(p.GetReason())
		}
		return "子事项 " + part + " 办结：不予" + reasonSuffix(p.GetReason())
	case KindFollowUpOpened:
		p := &pb.FollowUp{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return fmt.Sprintf("差评（%d 分）：%s 须于 %s 前回访、%s 前整改", p.GetScore(), label(p.GetHolder()), p.GetCallbackDue(), p.GetFixDue())
	case KindFollowUpCalledBack, KindFollowUpFixed:
		p := &pb.UpdateFollowUpRequest{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		if ev.GetKind() == KindFollowUpFixed {
			return "整改完毕" + reasonSuffix(p.GetNote())
		}
		return "已回访" + reasonSuffix(p.GetNote())
	case KindRequestMade:
		p := &pb.Request{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		if p.GetKind() == RequestWithdraw {
			return fmt.Sprintf("申请人在 %s 申请撤回%s，待 %s 答复", label(p.GetUnit()), reasonSuffix(p.GetReason()), label(p.GetHolder()))
		}
		return fmt.Sprintf("%s 窗口收到材料：%s，待 %s 登记", label(p.GetUnit()), strings.Join(p.GetMaterials(), "、"), label(p.GetHolder()))
	case KindRequestAnswered:
		p := &pb.Request{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		if p.GetState() == RequestDone {
			return "请求已办理"
		}
		return "请求未予办理" + reasonSuffix(p.GetAnswer())
	case KindAuditIdentityRevealed:
		p := &pb.RevealAudit{}
		_ = proto.Unmarshal(ev.GetPayload(), p)
		return "查看完整身份证号" + reasonSuffix(p.GetReason())
	}
	return ev.GetKind()
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return "（" + r + "）"
}

// Counts are the figures of `jiujin status`.
type Counts struct {
	Applications uint64
	ByState      map[string]uint64
	Overdue      uint64
	Matters      int
}

// Counts counts applications by state and the overdue ones.
func (s *Rules) Counts() (Counts, error) {
	c := Counts{ByState: map[string]uint64{}}
	now := s.st.Now()
	err := s.st.View(func(txn store.Reader) error {
		err := txn.Scan(recApp, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			a, err := decodeRecord(rec, &pb.Application{})
			if err != nil {
				return false, err
			}
			c.Applications++
			c.ByState[a.GetState()]++
			if !decided(a) && computeDeadline(a, s.cal, now).GetOverdue() {
				c.Overdue++
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		return txn.Scan(recMatter, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			m, err := decodeRecord(rec, &pb.Matter{})
			if err == nil && !isWithdrawnMatter(m) {
				c.Matters++
			}
			return true, err
		})
	})
	return c, err
}

// CheckCode is an application's receipt check code (XXXX-XXXX): the first
// eight hex digits of the hash of its acceptance event, the same at every
// node that holds it.
func (s *Rules) CheckCode(id string) (string, error) {
	var code string
	err := s.st.View(func(txn store.Reader) error {
		return txn.History(appKey(id), func(_ uint64, ev *pb.Event) {
			if code == "" && ev.GetKind() == KindAppAccepted && len(ev.GetHash()) >= 4 {
				code = fmt.Sprintf("%X-%X", ev.GetHash()[:2], ev.GetHash()[2:4])
			}
		})
	})
	if err == nil && code == "" {
		err = notFound("id", "办件 %q 不存在", id)
	}
	return code, err
}
