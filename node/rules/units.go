package rules

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Units' names and phones: county records (unit/CODE) that travel to every
// node. A node that has not heard of a unit's name shows its code.

const (
	maxUnitsPerSet  = 5000
	maxAddressRunes = 100
)

func applyUnitEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindUnitNamed {
		return nil, invalid("event.kind", "单位记录不接受 %q", ev.GetKind())
	}
	if err := requireCounty(ev, "单位名称"); err != nil {
		return nil, err
	}
	u := &pb.Unit{}
	if err := decodePayload(ev, u); err != nil {
		return nil, err
	}
	if unitKey(u.GetCode()) != ev.GetRecordKey() {
		return nil, invalid("event.payload.code", "与记录键 %s 不符", ev.GetRecordKey())
	}
	if !tiers.Unit(ev.GetUnit()).Contains(tiers.Unit(u.GetCode())) {
		return nil, precondition("event.payload.code", "%s 不在 %s 辖区内", u.GetCode(), ev.GetUnit())
	}
	u = proto.Clone(u).(*pb.Unit)
	u.Version = 1
	if prev != nil {
		u.Version = prev.GetVersion() + 1
	}
	return u, nil
}

// checkUnit checks one unit of a set: a code of this county, a name, a
// phone that is a phone.
func (s *Rules) checkUnit(field string, u *pb.Unit) error {
	c, err := tiers.Parse(u.GetCode())
	if err != nil {
		return invalid(field+".code", "%v", err)
	}
	if !s.unit.Contains(c) {
		return invalid(field+".code", "%s 不在本县 %s 辖区内", c, s.unit)
	}
	if err := checkText(field+".name", u.GetName(), maxNameRunes, true); err != nil {
		return err
	}
	if strings.TrimSpace(u.GetName()) != u.GetName() {
		return invalid(field+".name", "%q 首尾不能有空格", u.GetName())
	}
	if _, err := tiers.Parse(u.GetName()); err == nil {
		return invalid(field+".name", "%q 是单位代码，名称应为文字", u.GetName())
	}
	if p := u.GetPhone(); p != "" && !phoneRE.MatchString(p) {
		return invalid(field+".phone", "%q 不是电话号码（手机 11 位，或固话如 0570-1234567）", p)
	}
	return checkText(field+".address", u.GetAddress(), maxAddressRunes, false)
}

func (s *Rules) setUnits(w *store.Tx, cmd *pb.Command, req *pb.SetUnitsRequest) (*pb.SetUnitsResponse, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "单位名称只能由县级节点设置")
	}
	switch n := len(req.GetUnits()); {
	case n == 0:
		return nil, invalid("units", "至少给出一个单位")
	case n > maxUnitsPerSet:
		return nil, invalid("units", "一次至多 %d 个单位（实为 %d 个）", maxUnitsPerSet, n)
	}
	seen := map[string]int{}
	for i, u := range req.GetUnits() {
		field := fmt.Sprintf("units[%d]", i)
		if err := s.checkUnit(field, u); err != nil {
			return nil, err
		}
		if j, dup := seen[u.GetCode()]; dup {
			return nil, invalid(field+".code", "%s 与第 %d 项重复", u.GetCode(), j+1)
		}
		seen[u.GetCode()] = i
	}
	res := &pb.SetUnitsResponse{DryRun: req.GetDryRun()}
	for _, u := range req.GetUnits() {
		u = &pb.Unit{Code: u.GetCode(), Name: u.GetName(), Phone: u.GetPhone(), Address: u.GetAddress()}
		rec, err := w.Record(unitKey(u.GetCode()))
		if err != nil {
			return nil, err
		}
		if rec != nil {
			old, err := decodeRecord(rec, &pb.Unit{})
			if err != nil {
				return nil, err
			}
			old.Version = 0
			if proto.Equal(old, u) {
				res.Unchanged++
				continue
			}
			res.Changed = append(res.Changed, u)
		} else {
			res.Added = append(res.Added, u)
		}
		if req.GetDryRun() {
			continue
		}
		if _, err := w.Emit(cmd, &pb.Event{Kind: KindUnitNamed, RecordKey: unitKey(u.GetCode()), Payload: mustMarshal(u),
			Scope: &pb.Scope{Subtrees: []string{string(s.unit)}}}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// unitBook is every named unit this node knows, read once per store
// generation (unit records are watched).
type unitBook struct {
	mu    sync.Mutex
	gen   uint64
	units map[string]*pb.Unit
}

// Units is every unit this node knows by name, by code. Shared: callers
// must not modify it.
func (s *Rules) Units() (map[string]*pb.Unit, error) {
	g := s.st.Generation()
	s.book.mu.Lock()
	if s.book.units != nil && s.book.gen == g {
		defer s.book.mu.Unlock()
		return s.book.units, nil
	}
	s.book.mu.Unlock()
	units := map[string]*pb.Unit{}
	err := s.st.View(func(txn store.Reader) error {
		return txn.Scan(recUnit, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			u, err := decodeRecord(rec, &pb.Unit{})
			if err != nil {
				return false, err
			}
			u.Version = rec.GetVersion()
			units[u.GetCode()] = u
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	s.book.mu.Lock()
	s.book.gen, s.book.units = g, units
	s.book.mu.Unlock()
	return units, nil
}

// ListUnits lists the named units whose code or name holds query, by code.
func (s *Rules) ListUnits(query string) ([]*pb.Unit, error) {
	all, err := s.Units()
	if err != nil {
		return nil, err
	}
	var out []*pb.Unit
	for _, u := range all {
		if query == "" || strings.Contains(u.GetCode(), query) || strings.Contains(u.GetName(), query) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *pb.Unit) int { return strings.Compare(a.GetCode(), b.GetCode()) })
	return out, nil
}

// UnitName is a unit's name, or "" where none is known.
func (s *Rules) UnitName(code string) string {
	all, err := s.Units()
	if err != nil {
		return ""
	}
	return all[code].GetName()
}

// ResolveUnit turns what a person typed for a unit into its code: a code
// as it is (if well-formed), else a name — the whole name, or a part of
// it that only one unit's name holds. An ambiguous name is refused with
// the candidates, an unknown one with the closest names.
func (s *Rules) ResolveUnit(field, text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", nil
	}
	if u, err := tiers.Parse(text); err == nil {
		return string(u), nil
	} else if isDigits(text) {
		return "", invalid(field, "%v", err)
	}
	all, err := s.Units()
	if err != nil {
		return "", err
	}
	var exact, partial []candidate
	for _, u := range all {
		c := candidate{u.GetCode(), u.GetName() + "（" + u.GetCode() + "）"}
		switch {
		case u.GetName() == text:
			exact = append(exact, c)
		case strings.Contains(u.GetName(), text):
			partial = append(partial, c)
		}
	}
	code, fit := choose(exact, partial)
	switch {
	case code != "":
		return code, nil
	case len(all) == 0:
		return "", invalid(field, "本节点尚未收到单位名称，请用单位代码（如 330324101）代替 %q", text)
	case len(fit) == 0:
		names := make([]string, 0, len(all))
		for _, u := range all {
			names = append(names, u.GetName())
		}
		return "", notFound(field, "没有名为 %q 的单位%s", text, suggestion(text, names))
	}
	return "", invalid(field, "%q 对应多个单位：%s；请写全名或用代码", text, candidates(fit))
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// unitLabel is a unit as a person reads it: 城关镇（330324101）, or the
// code alone where no name is known.
func unitLabel(units map[string]*pb.Unit, code string) string {
	if n := units[code].GetName(); n != "" && code != "" {
		return n + "（" + code + "）"
	}
	return code
}

// UnitLabel is a unit as a person reads it: 城关镇（330324101）, or the
// code alone where no name is known.
func (s *Rules) UnitLabel(code string) string {
	units, err := s.Units()
	if err != nil {
		return code
	}
	return unitLabel(units, code)
}
