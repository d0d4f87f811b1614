// Package delegation holds what the county decides about matters: the
// matter catalog (事项清单) and its validation, the working-day calendar the
// limits are counted on, and (later) delegated powers, township menus and
// routing.
package delegation

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// Errors of this package. Each is wrapped with a message that names the
// field, e.g. "matters[3].statutory_days: ...".
var (
	// ErrInvalidCatalog: a catalog, matter or calendar is malformed.
	ErrInvalidCatalog = errors.New("事项清单有误")
	// ErrInvalidDelegation: a grant is malformed (unit, mode, dates).
	ErrInvalidDelegation = errors.New("invalid delegation")
	// ErrDelegationConflict: a grant overlaps one in force.
	ErrDelegationConflict = errors.New("delegation conflict")
)

// Limits on catalog fields.
const (
	MaxMatters        = 2000
	MaxMaterials      = 40
	MaxNameRunes      = 60
	MaxAliases        = 8
	MaxStatutoryDays  = 365
	MaxSupplementDays = 60
)

// Kinds maps the kind identifiers to the Chinese names people read.
var Kinds = map[string]string{
	"administrative_license":      "行政许可",
	"administrative_confirmation": "行政确认",
	"public_service":              "公共服务",
	"administrative_payment":      "行政给付",
	"administrative_ruling":       "行政裁决",
	"other_power":                 "其他行政权力",
}

// KindLabel returns the Chinese name of a kind identifier.
func KindLabel(kind string) string {
	if l, ok := Kinds[kind]; ok {
		return l
	}
	return kind
}

// KindFromLabel accepts a kind as identifier or Chinese name.
func KindFromLabel(s string) (string, bool) {
	if _, ok := Kinds[s]; ok {
		return s, true
	}
	for k, l := range Kinds {
		if l == s {
			return k, true
		}
	}
	return "", false
}

var (
	matterCodeRE = regexp.MustCompile(`^[A-Z]{2,4}-[0-9]{3}$`)
	deptCodeRE   = regexp.MustCompile(`^[A-Z]{2,4}$`)
)

// CompositePrefix is the code prefix of composite matters (一件事).
const CompositePrefix = "YJS-"

type catalogFile struct {
	Title       string `yaml:"title"`
	Departments []struct {
		Code string `yaml:"code"`
		Name string `yaml:"name"`
	} `yaml:"departments"`
	Matters []struct {
		Code           string   `yaml:"code"`
		Name           string   `yaml:"name"`
		Aliases        []string `yaml:"aliases"`
		Department     string   `yaml:"department"`
		Kind           string   `yaml:"kind"`
		StatutoryDays  int      `yaml:"statutory_days"`
		PromisedDays   int      `yaml:"promised_days"`
		Visits         int      `yaml:"visits"`
		Online         bool     `yaml:"online"`
		FeeYuan        float64  `yaml:"fee_yuan"`
		SupplementDays int      `yaml:"supplement_days"`
		Parts          []string `yaml:"parts"`
		Materials      []struct {
			Name         string `yaml:"name"`
			Required     bool   `yaml:"required"`
			MayBeMissing bool   `yaml:"may_be_missing"`
			Form         string `yaml:"form"`
		} `yaml:"materials"`
	} `yaml:"matters"`
}

// ParseCatalogYAML reads a catalog file and returns it as an import request,
// validated.
func ParseCatalogYAML(r io.Reader) (*pb.ImportCatalogRequest, error) {
	var f catalogFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCatalog, err)
	}
	req := &pb.ImportCatalogRequest{Title: f.Title}
	for _, d := range f.Departments {
		req.Departments = append(req.Departments, &pb.Department{Code: d.Code, Name: d.Name})
	}
	for i, m := range f.Matters {
		kind, ok := KindFromLabel(m.Kind)
		if !ok {
			return nil, fmt.Errorf("%w: matters[%d].kind: %q 不是已知的事项类型", ErrInvalidCatalog, i, m.Kind)
		}
		for _, n := range []struct {
			field string
			v     int
		}{{"statutory_days", m.StatutoryDays}, {"promised_days", m.PromisedDays}, {"visits", m.Visits}, {"supplement_days", m.SupplementDays}} {
			if n.v < 0 || n.v > MaxStatutoryDays {
				return nil, fmt.Errorf("%w: matters[%d].%s: %d 超出范围", ErrInvalidCatalog, i, n.field, n.v)
			}
		}
		if m.FeeYuan < 0 || m.FeeYuan > 1e7 || math.IsNaN(m.FeeYuan) {
			return nil, fmt.Errorf("%w: matters[%d].fee_yuan: %v 超出范围", ErrInvalidCatalog, i, m.FeeYuan)
		}
		pm := &pb.Matter{
			Code: m.Code, Name: m.Name, Aliases: m.Aliases, Department: m.Department, Kind: kind,
			StatutoryDays: uint32(m.StatutoryDays), PromisedDays: uint32(m.PromisedDays),
			Visits: uint32(m.Visits), Online: m.Online, FeeFen: int64(math.Round(m.FeeYuan * 100)),
			SupplementDays: uint32(m.SupplementDays), Parts: m.Parts,
		}
		for _, mat := range m.Materials {
			pm.Materials = append(pm.Materials, &pb.Material{
				Name: mat.Name, Required: mat.Required, MayBeMissing: mat.MayBeMissing, Form: mat.Form,
			})
		}
		req.Matters = append(req.Matters, pm)
	}
	if err := ValidateCatalog(req); err != nil {
		return nil, err
	}
	return req, nil
}

func checkName(field, s string) error {
	s2 := strings.TrimSpace(s)
	switch {
	case s2 == "":
		return fmt.Errorf("%w: %s: 不能为空", ErrInvalidCatalog, field)
	case s2 != s:
		return fmt.Errorf("%w: %s: %q 首尾不能有空白", ErrInvalidCatalog, field, s)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s: 不是有效的 UTF-8 文本", ErrInvalidCatalog, field)
	case utf8.RuneCountInString(s) > MaxNameRunes:
		return fmt.Errorf("%w: %s: 超过 %d 个字", ErrInvalidCatalog, field, MaxNameRunes)
	}
	return nil
}

// ValidateCatalog checks a whole catalog: every field of every matter, the
// uniqueness of codes and names, and that composite parts exist.
func ValidateCatalog(req *pb.ImportCatalogRequest) error {
	if req.GetTitle() != "" {
		if err := checkName("title", req.GetTitle()); err != nil {
			return err
		}
	}
	if len(req.GetDepartments()) == 0 {
		return fmt.Errorf("%w: departments: 至少需要一个部门", ErrInvalidCatalog)
	}
	depts := map[string]bool{}
	deptNames := map[string]bool{}
	for i, d := range req.GetDepartments() {
		if !deptCodeRE.MatchString(d.GetCode()) {
			return fmt.Errorf("%w: departments[%d].code: %q 应为 2-4 个大写字母", ErrInvalidCatalog, i, d.GetCode())
		}
		if d.GetCode()+"-" == CompositePrefix {
			return fmt.Errorf("%w: departments[%d].code: YJS 保留给一件事", ErrInvalidCatalog, i)
		}
		if depts[d.GetCode()] {
			return fmt.Errorf("%w: departments[%d].code: %q 重复", ErrInvalidCatalog, i, d.GetCode())
		}
		if err := checkName(fmt.Sprintf("departments[%d].name", i), d.GetName()); err != nil {
			return err
		}
		if deptNames[d.GetName()] {
			return fmt.Errorf("%w: departments[%d].name: %q 重复", ErrInvalidCatalog, i, d.GetName())
		}
		depts[d.GetCode()], deptNames[d.GetName()] = true, true
	}
	if len(req.GetMatters()) == 0 {
		return fmt.Errorf("%w: matters: 清单为空", ErrInvalidCatalog)
	}
	if len(req.GetMatters()) > MaxMatters {
		return fmt.Errorf("%w: matters: 超过 %d 项", ErrInvalidCatalog, MaxMatters)
	}
	byCode := map[string]*pb.Matter{}
	byName := map[string]bool{}
	for i, m := range req.GetMatters() {
		if err := validateMatter(i, m, depts); err != nil {
			return err
		}
		if byCode[m.GetCode()] != nil {
			return fmt.Errorf("%w: matters[%d].code: %q 重复", ErrInvalidCatalog, i, m.GetCode())
		}
		if byName[m.GetName()] {
			// A window clerk picks a matter by its name.
			return fmt.Errorf("%w: matters[%d].name: %q 重复", ErrInvalidCatalog, i, m.GetName())
		}
		byCode[m.GetCode()], byName[m.GetName()] = m, true
		if len(m.GetAliases()) > MaxAliases {
			return fmt.Errorf("%w: matters[%d].aliases: 至多 %d 个常用名", ErrInvalidCatalog, i, MaxAliases)
		}
		own := map[string]bool{m.GetName(): true}
		for j, a := range m.GetAliases() {
			field := fmt.Sprintf("matters[%d].aliases[%d]", i, j)
			if err := checkName(field, a); err != nil {
				return err
			}
			if own[a] {
				return fmt.Errorf("%w: %s: %q 与事项名称或其他常用名重复", ErrInvalidCatalog, field, a)
			}
			own[a] = true
		}
	}
	for i, m := range req.GetMatters() {
		seen := map[string]bool{}
		for j, p := range m.GetParts() {
			field := fmt.Sprintf("matters[%d].parts[%d]", i, j)
			part := byCode[p]
			switch {
			case part == nil:
				return fmt.Errorf("%w: %s: 一件事 %s 的子事项 %q 不在清单中", ErrInvalidCatalog, field, m.GetCode(), p)
			case len(part.GetParts()) > 0:
				return fmt.Errorf("%w: %s: 一件事 %s 的子事项 %q 本身是一件事，不能嵌套", ErrInvalidCatalog, field, m.GetCode(), p)
			case seen[p]:
				return fmt.Errorf("%w: %s: 一件事 %s 的子事项 %q 重复", ErrInvalidCatalog, field, m.GetCode(), p)
			}
			seen[p] = true
		}
	}
	return nil
}

func validateMatter(i int, m *pb.Matter, depts map[string]bool) error {
	field := func(f string) string { return fmt.Sprintf("matters[%d].%s", i, f) }
	composite := strings.HasPrefix(m.GetCode(), CompositePrefix)
	switch {
	case !matterCodeRE.MatchString(m.GetCode()):
		return fmt.Errorf("%w: %s: %q 应形如 GA-001", ErrInvalidCatalog, field("code"), m.GetCode())
	case !composite && !strings.HasPrefix(m.GetCode(), m.GetDepartment()+"-"):
		return fmt.Errorf("%w: %s: %q 的前缀应为部门代码 %s", ErrInvalidCatalog, field("code"), m.GetCode(), m.GetDepartment())
	case !depts[m.GetDepartment()]:
		return fmt.Errorf("%w: %s: 部门 %q 不在 departments 中", ErrInvalidCatalog, field("department"), m.GetDepartment())
	case Kinds[m.GetKind()] == "":
		return fmt.Errorf("%w: %s: %q 不是已知的事项类型", ErrInvalidCatalog, field("kind"), m.GetKind())
	case m.GetStatutoryDays() < 1 || m.GetStatutoryDays() > MaxStatutoryDays:
		return fmt.Errorf("%w: %s: 应在 1 到 %d 个工作日之间", ErrInvalidCatalog, field("statutory_days"), MaxStatutoryDays)
	case m.GetPromisedDays() > m.GetStatutoryDays():
		return fmt.Errorf("%w: %s: 承诺时限 %d 不能长于法定时限 %d", ErrInvalidCatalog, field("promised_days"), m.GetPromisedDays(), m.GetStatutoryDays())
	case m.GetVisits() > 5:
		return fmt.Errorf("%w: %s: %d 次超出范围", ErrInvalidCatalog, field("visits"), m.GetVisits())
	case m.GetVisits() == 0 && !m.GetOnline():
		return fmt.Errorf("%w: %s: 零上门事项必须可全程网办", ErrInvalidCatalog, field("online"))
	case m.GetFeeFen() < 0:
		return fmt.Errorf("%w: %s: 收费不能为负", ErrInvalidCatalog, field("fee_fen"))
	case m.GetSupplementDays() > MaxSupplementDays:
		return fmt.Errorf("%w: %s: 超过 %d 个工作日", ErrInvalidCatalog, field("supplement_days"), MaxSupplementDays)
	case composite && len(m.GetParts()) < 2:
		return fmt.Errorf("%w: %s: 一件事至少包含两个子事项", ErrInvalidCatalog, field("parts"))
	case !composite && len(m.GetParts()) > 0:
		return fmt.Errorf("%w: %s: 只有一件事（YJS-）才有子事项", ErrInvalidCatalog, field("parts"))
	case len(m.GetMaterials()) == 0:
		return fmt.Errorf("%w: %s: 至少列出一项材料", ErrInvalidCatalog, field("materials"))
	case len(m.GetMaterials()) > MaxMaterials:
		return fmt.Errorf("%w: %s: 超过 %d 项", ErrInvalidCatalog, field("materials"), MaxMaterials)
	}
	if err := checkName(field("name"), m.GetName()); err != nil {
		return err
	}
	names := map[string]bool{}
	anyMissing := false
	for j, mat := range m.GetMaterials() {
		f := fmt.Sprintf("materials[%d]", j)
		if err := checkName(field(f+".name"), mat.GetName()); err != nil {
			return err
		}
		if names[mat.GetName()] {
			return fmt.Errorf("%w: %s: %q 重复", ErrInvalidCatalog, field(f+".name"), mat.GetName())
		}
		names[mat.GetName()] = true
		if mat.GetForm() != "paper" && mat.GetForm() != "electronic" {
			return fmt.Errorf("%w: %s: %q 应为 paper 或 electronic", ErrInvalidCatalog, field(f+".form"), mat.GetForm())
		}
		if mat.GetMayBeMissing() && !mat.GetRequired() {
			return fmt.Errorf("%w: %s: 可选材料无需容缺", ErrInvalidCatalog, field(f+".may_be_missing"))
		}
		anyMissing = anyMissing || mat.GetMayBeMissing()
	}
	if anyMissing && m.GetSupplementDays() == 0 {
		return fmt.Errorf("%w: %s: 有容缺材料时必须设定补齐期限", ErrInvalidCatalog, field("supplement_days"))
	}
	return nil
}

// SortMatters orders matters by code.
func SortMatters(ms []*pb.Matter) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].GetCode() < ms[j].GetCode() })
}

// SameMatter reports whether two matters are equal, ignoring the catalog
// version they were published in.
func SameMatter(a, b *pb.Matter) bool {
	a2 := proto.Clone(a).(*pb.Matter)
	b2 := proto.Clone(b).(*pb.Matter)
	a2.CatalogVersion, b2.CatalogVersion = 0, 0
	a2.DepartmentName, b2.DepartmentName = "", ""
	return proto.Equal(a2, b2)
}
