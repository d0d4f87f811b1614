package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Township classes and menus (按需点单), and the negative list.

var classCodeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,19}$`)

func applyMenuEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	var version uint64
	if prev != nil {
		version = prev.GetVersion()
	}
	switch ev.GetKind() {
	case KindClassPublished:
		if err := requireCounty(ev, "乡镇分类与菜单"); err != nil {
			return nil, err
		}
		c := &pb.TownshipClass{}
		if err := decodePayload(ev, c); err != nil {
			return nil, err
		}
		if classKey(c.GetCode()) != ev.GetRecordKey() {
			return nil, invalid("event.payload.code", "与记录键 %s 不符", ev.GetRecordKey())
		}
		c = proto.Clone(c).(*pb.TownshipClass)
		c.Version = version + 1
		return c, nil
	case KindOrderPlaced:
		o := &pb.TownshipOrder{}
		if err := decodePayload(ev, o); err != nil {
			return nil, err
		}
		if orderKey(o.GetTownship()) != ev.GetRecordKey() || o.GetTownship() != ev.GetUnit() {
			return nil, precondition("township", "点单只能由乡镇 %s 本身提交", o.GetTownship())
		}
		o = proto.Clone(o).(*pb.TownshipOrder)
		o.Version, o.OrderedBy, o.OrderedAt = version+1, ev.GetActor(), ts(ev)
		return o, nil
	case KindNegativePublished:
		if err := requireCounty(ev, "负面清单"); err != nil {
			return nil, err
		}
		l := &pb.NegativeList{}
		if err := decodePayload(ev, l); err != nil {
			return nil, err
		}
		l = proto.Clone(l).(*pb.NegativeList)
		l.Version = version + 1
		return l, nil
	}
	return nil, invalid("event.kind", "菜单记录不接受 %q", ev.GetKind())
}

func (s *Rules) setClass(w *store.Tx, cmd *pb.Command, req *pb.SetClassRequest) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "乡镇分类与菜单只能由县级节点设置")
	}
	c := req.GetClass()
	if !classCodeRE.MatchString(c.GetCode()) {
		return nil, invalid("class.code", "%q 应为 2-20 个小写字母、数字或下划线，如 mountain", c.GetCode())
	}
	if err := checkText("class.name", c.GetName(), maxNameRunes, true); err != nil {
		return nil, err
	}
	for i, m := range c.GetMenu() {
		if _, err := s.matter(w, m); err != nil {
			return nil, invalid(fmt.Sprintf("class.menu[%d]", i), "事项 %q 不在事项清单中", m)
		}
	}
	others := map[string]string{}
	err := w.Committed().Scan(recClass, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
		o, err := decodeRecord(rec, &pb.TownshipClass{})
		if err != nil {
			return false, err
		}
		for _, t := range o.GetTownships() {
			others[t] = o.GetCode()
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for i, t := range c.GetTownships() {
		u, err := tiers.Parse(t)
		field := fmt.Sprintf("class.townships[%d]", i)
		switch {
		case err != nil:
			return nil, invalid(field, "%v", err)
		case u.Tier() != tiers.Township || u.Parent() != s.unit:
			return nil, invalid(field, "%s 不是本县的乡镇", t)
		case others[t] != "" && others[t] != c.GetCode():
			return nil, precondition(field, "乡镇 %s 已属于分类 %s", t, others[t])
		}
	}
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindClassPublished, RecordKey: classKey(c.GetCode()), Payload: mustMarshal(c),
		Scope: &pb.Scope{Subtrees: []string{string(s.unit)}}})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.TownshipClass{})
}

// classOf finds the class a township belongs to.
func classOf(txn store.Reader, township string) (*pb.TownshipClass, error) {
	var found *pb.TownshipClass
	err := txn.Scan(recClass, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
		c, err := decodeRecord(rec, &pb.TownshipClass{})
		if err != nil {
			return false, err
		}
		if slices.Contains(c.GetTownships(), township) {
			found = c
			return false, nil
		}
		return true, nil
	})
	return found, err
}

func (s *Rules) order(w *store.Tx, cmd *pb.Command, req *pb.OrderMattersRequest) (proto.Message, error) {
	if s.unit.Tier() != tiers.Township {
		return nil, precondition("unit", "按需点单由乡镇节点提交，本节点是%s单位", s.unit.Tier().Label())
	}
	c, err := classOf(w.Committed(), string(s.unit))
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, precondition("unit", "乡镇 %s 尚未被县里归入任何分类，没有可点的菜单", s.unit)
	}
	seen := map[string]bool{}
	for i, m := range req.GetMatters() {
		field := fmt.Sprintf("matters[%d]", i)
		switch {
		case !slices.Contains(c.GetMenu(), m):
			return nil, invalid(field, "事项 %q 不在「%s」类乡镇的菜单中（可选：%s）", m, c.GetName(), strings.Join(c.GetMenu(), "、"))
		case seen[m]:
			return nil, invalid(field, "事项 %q 重复", m)
		}
		seen[m] = true
	}
	o := &pb.TownshipOrder{Township: string(s.unit), ClassCode: c.GetCode(), Matters: req.GetMatters()}
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindOrderPlaced, RecordKey: orderKey(string(s.unit)), Payload: mustMarshal(o),
		// Up to the county, down to this township's villages.
		Scope: &pb.Scope{Units: []string{string(s.unit.County())}, Subtrees: []string{string(s.unit)}}})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.TownshipOrder{})
}

func (s *Rules) setNegative(w *store.Tx, cmd *pb.Command, req *pb.SetNegativeListRequest) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "负面清单只能由县级节点设置")
	}
	seen := map[string]bool{}
	for i, e := range req.GetEntries() {
		field := fmt.Sprintf("entries[%d]", i)
		if _, err := s.matter(w, e.GetMatterCode()); err != nil {
			return nil, invalid(field+".matter_code", "事项 %q 不在事项清单中", e.GetMatterCode())
		}
		if e.GetTier() != "township" && e.GetTier() != "village" {
			return nil, invalid(field+".tier", "%q 应为 township 或 village", e.GetTier())
		}
		k := e.GetMatterCode() + "/" + e.GetTier()
		if seen[k] {
			return nil, invalid(field, "重复")
		}
		seen[k] = true
	}
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindNegativePublished, RecordKey: recNegative,
		Payload: mustMarshal(&pb.NegativeList{Entries: req.GetEntries()}), Scope: &pb.Scope{Subtrees: []string{string(s.unit)}}})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.NegativeList{})
}

// mayAccept checks the negative list: a matter listed for this unit's
// tier is not accepted here, unless the county lets this unit proxy it.
func (s *Rules) mayAccept(w *store.Tx, matter string, now time.Time) error {
	rec, err := w.Record(recNegative)
	if err != nil || rec == nil {
		return err
	}
	l, err := decodeRecord(rec, &pb.NegativeList{})
	if err != nil {
		return err
	}
	tier := s.unit.Tier().String()
	listed := false
	for _, e := range l.GetEntries() {
		if e.GetMatterCode() == matter && e.GetTier() == tier {
			listed = true
		}
	}
	if !listed {
		return nil
	}
	dels, err := s.delegations(w, matter)
	if err != nil {
		return err
	}
	for _, d := range dels {
		if d.GetMode() == delegation.ModeProxy && d.GetUnit() == string(s.unit) && delegation.InForce(d, now) {
			return nil // 代办
		}
	}
	return precondition("matter_code", "事项 %s 在负面清单上，%s级不予受理（请引导申请人到上级窗口，或由县里授予代办）", matter, s.unit.Tier().Label())
}

// Classes lists the township classes and the orders this node holds.
func (s *Rules) Classes() (*pb.ListClassesResponse, error) {
	res := &pb.ListClassesResponse{}
	err := s.st.View(func(txn store.Reader) error {
		if err := txn.Scan(recClass, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			c, err := decodeRecord(rec, &pb.TownshipClass{})
			res.Classes = append(res.Classes, c)
			return err == nil, err
		}); err != nil {
			return err
		}
		return txn.Scan(recOrder, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			o, err := decodeRecord(rec, &pb.TownshipOrder{})
			res.Orders = append(res.Orders, o)
			return err == nil, err
		})
	})
	return res, err
}

// NegativeList is the negative list in force.
func (s *Rules) NegativeList() (*pb.NegativeList, error) {
	l := &pb.NegativeList{}
	err := s.st.View(func(txn store.Reader) error {
		rec, err := txn.Record(recNegative)
		if err != nil || rec == nil {
			return err
		}
		l, err = decodeRecord(rec, l)
		return err
	})
	return l, err
}
