package rules

import (
	"bytes"
	"testing"

	"github.com/mozillazg/go-pinyin"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
)

func seedUnits(t *testing.T, r *Rules, clock *manualClock) {
	t.Helper()
	req, err := delegation.ParseUnitsYAML(bytes.NewReader(seed.Units))
	require.NoError(t, err)
	out, err := apply(r, clock, &pb.Command{Op: &pb.Command_SetUnits{SetUnits: req}})
	require.NoError(t, err)
	require.Len(t, out.(*pb.SetUnitsResponse).GetAdded(), len(req.GetUnits()))
}

func seedCatalog(t *testing.T, r *Rules, clock *manualClock) {
	t.Helper()
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	require.NoError(t, err)
	_, err = apply(r, clock, &pb.Command{Op: &pb.Command_ImportCatalog{ImportCatalog: req}})
	require.NoError(t, err)
}

// TestUnitsAreSetAtTheCountyOnly: units' names and phones are the county's
// to set, checked field by field, written only where they change.
func TestUnitsAreSetAtTheCountyOnly(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)
	seedUnits(t, c, clock)
	require.Equal(t, "城关镇", c.UnitName("330324101"))
	require.Equal(t, "城东社区（330324101201）", c.UnitLabel("330324101201"))
	require.Equal(t, "330324101299", c.UnitLabel("330324101299"), "a unit without a name shows its code")

	again, err := delegation.ParseUnitsYAML(bytes.NewReader(seed.Units))
	require.NoError(t, err)
	again.Units[1].Phone = "0570-6029999"
	out, err := apply(c, clock, &pb.Command{Op: &pb.Command_SetUnits{SetUnits: again}})
	require.NoError(t, err)
	res := out.(*pb.SetUnitsResponse)
	require.Len(t, res.GetChanged(), 1)
	require.Equal(t, uint32(len(again.GetUnits())-1), res.GetUnchanged())
	us, err := c.ListUnits("城关")
	require.NoError(t, err)
	require.Equal(t, "0570-6029999", us[0].GetPhone())
	require.Equal(t, uint64(2), us[0].GetVersion())

	for _, tc := range []struct {
		unit  *pb.Unit
		field string
	}{
		{&pb.Unit{Code: "330325101", Name: "别县某镇"}, "units[0].code"},
		{&pb.Unit{Code: "33032410", Name: "城关"}, "units[0].code"},
		{&pb.Unit{Code: "330324101", Name: ""}, "units[0].name"},
		{&pb.Unit{Code: "330324101", Name: "330324102"}, "units[0].name"},
		{&pb.Unit{Code: "330324101", Name: "城关镇", Phone: "12345"}, "units[0].phone"},
	} {
		_, err := apply(c, clock, &pb.Command{Op: &pb.Command_SetUnits{SetUnits: &pb.SetUnitsRequest{Units: []*pb.Unit{tc.unit}}}})
		require.Equal(t, tc.field, fieldOf(err), "%v", err)
	}
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_SetUnits{SetUnits: &pb.SetUnitsRequest{Units: []*pb.Unit{
		{Code: "330324101", Name: "城关镇"}, {Code: "330324101", Name: "城关"}}}}})
	require.Equal(t, "units[1].code", fieldOf(err), "%v", err)

	town := openUnit(t, "330324101", clock)
	_, err = apply(town, clock, &pb.Command{Op: &pb.Command_SetUnits{SetUnits: &pb.SetUnitsRequest{Units: []*pb.Unit{{Code: "330324101", Name: "城关"}}}}})
	require.Equal(t, "unit", fieldOf(err), "a township sets no names: %v", err)
}

// TestNamesResolveToCodes: what a person types for a unit, a matter, a
// department, a mode or a delivery way becomes its code; an ambiguous or
// unknown name is refused with the candidates or the closest names.
func TestNamesResolveToCodes(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)

	code, err := c.ResolveUnit("to", "城关镇")
	require.Error(t, err, "no names yet")
	require.Contains(t, err.Error(), "单位代码")
	code, err = c.ResolveUnit("to", "330324101")
	require.NoError(t, err, "a code passes without names")
	require.Equal(t, "330324101", code)

	seedUnits(t, c, clock)
	seedCatalog(t, c, clock)
	for _, tc := range []struct{ text, want string }{
		{"城关镇", "330324101"}, {"青山乡", "330324102"}, {"溪口", "330324101202"}, {"石门村", "330324102202"}, {"330324102201", "330324102201"},
	} {
		got, err := c.ResolveUnit("to", tc.text)
		require.NoError(t, err, tc.text)
		require.Equal(t, tc.want, got, tc.text)
	}
	_, err = c.ResolveUnit("to", "青山")
	require.Equal(t, "to", fieldOf(err))
	require.Contains(t, err.Error(), "青山乡（330324102）")
	require.Contains(t, err.Error(), "青山村（330324102201）", "ambiguous: both are named")
	_, err = c.ResolveUnit("to", "城关镇镇")
	require.Contains(t, err.Error(), "最接近的：城关镇")
	_, err = c.ResolveUnit("to", "3303241")
	require.Equal(t, "to", fieldOf(err), "a malformed code is not taken for a name")

	for _, tc := range []struct{ text, want string }{
		{"低保", "MZ-001"}, {"最低生活保障审批", "MZ-001"}, {"MZ-001", "MZ-001"}, {"mz-001", "MZ-001"},
		{"残疾证", "CL-001"}, {"老年证", "MZ-005"}, {"zdshbz", "MZ-001"}, {"XX-999", "XX-999"},
	} {
		got, err := c.ResolveMatter("matter_code", tc.text)
		require.NoError(t, err, tc.text)
		require.Equal(t, tc.want, got, tc.text)
	}
	_, err = c.ResolveMatter("matter_code", "登记")
	require.Contains(t, err.Error(), "对应多个事项")
	_, err = c.ResolveMatter("matter_code", "低保审批证")
	require.Contains(t, err.Error(), "最接近的")

	for _, tc := range []struct{ text, want string }{{"MZ", "MZ"}, {"民政", "MZ"}, {"县公安局", "GA"}, {"ga", "GA"}} {
		got, err := c.ResolveDepartment("department", tc.text)
		require.NoError(t, err, tc.text)
		require.Equal(t, tc.want, got, tc.text)
	}
	_, err = c.ResolveDepartment("department", "县")
	require.Contains(t, err.Error(), "对应多个部门")

	mode, err := ResolveMode("mode", "下放")
	require.NoError(t, err)
	require.Equal(t, delegation.ModeDevolve, mode)
	_, err = ResolveMode("mode", "放下")
	require.Contains(t, err.Error(), "下放（devolve）")
	by, err := ResolveDelivery("method", "窗口")
	require.NoError(t, err)
	require.Equal(t, "window", by)
	by, err = ResolveDelivery("method", "快递")
	require.NoError(t, err)
	require.Equal(t, "post", by)

	req := &pb.GrantDelegationRequest{MatterCode: "老年证", Unit: "城关镇", Mode: "下放"}
	require.NoError(t, c.Normalize(req))
	require.Equal(t, "MZ-005", req.GetMatterCode())
	require.Equal(t, "330324101", req.GetUnit())
	require.Equal(t, delegation.ModeDevolve, req.GetMode())
}

// TestTheCatalogIsFoundByWhatPeopleCallIt: a query finds a matter by an
// alias or the pinyin initials; a wrong material is answered with the
// closest names of the matter's list.
func TestTheCatalogIsFoundByWhatPeopleCallIt(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)
	seedCatalog(t, c, clock)
	for _, tc := range []struct {
		q    string
		want string
	}{{"低保", "MZ-001"}, {"zdsh", "MZ-001"}, {"CJZ", "CL-001"}, {"最低生活", "MZ-001"}, {"mz-00", "MZ-001"}} {
		ms, err := c.ListMatters(&pb.ListMattersRequest{Query: tc.q})
		require.NoError(t, err)
		var codes []string
		for _, m := range ms {
			codes = append(codes, m.GetCode())
		}
		require.Contains(t, codes, tc.want, tc.q)
	}
	m, err := c.GetMatter("YJS-002")
	require.NoError(t, err)
	require.Len(t, m.GetPartNames(), len(m.GetParts()))
	require.NotEmpty(t, m.GetPartNames()[0])

	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{MatterCode: "MZ-001",
		Applicant: &pb.Applicant{Name: "王秀英", IdNumber: idWang}, Materials: []string{"申请书"}}}})
	require.Equal(t, "materials[0]", fieldOf(err))
	require.Contains(t, err.Error(), "最接近的：最低生活保障申请书")
}

// TestInitialsTableIsCurrent: the generated table says what go-pinyin says
// of every character it covers (run go generate ./node/rules after a
// go-pinyin upgrade).
func TestInitialsTableIsCurrent(t *testing.T) {
	args := pinyin.Args{Style: pinyin.FirstLetter}
	require.Equal(t, hanLast-hanFirst+1, len(hanInitials))
	for r := rune(hanFirst); r <= hanLast; r++ {
		want := byte('_')
		if p := pinyin.SinglePinyin(r, args); len(p) > 0 && p[0] != "" {
			want = p[0][0]
		}
		require.Equal(t, string(want), string(hanInitials[r-hanFirst]), "%c U+%04X", r, r)
	}
	require.Equal(t, "zdshbzsp", initialsOf("最低生活保障审批"))
	require.Equal(t, "cjrzhfxb", initialsOf("残疾人证核发（新办）"), "brackets dropped")
	require.Equal(t, "80zs", initialsOf("80周岁"))
}

// TestAliasInitials: 低保申请's initials find 最低生活保障审批 (issue 19's
// example, dbsq).
func TestAliasInitials(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)
	seedCatalog(t, c, clock)
	ms, err := c.ListMatters(&pb.ListMattersRequest{Query: "dbsq"})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, "MZ-001", ms[0].GetCode())
}

// TestListsFollowTheFeed: the lists' table of applications catches up with
// what is written after it was read (new applications, a decision, a
// composite's parts), and reads everything again after a restore.
func TestListsFollowTheFeed(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)
	seedCatalog(t, c, clock)
	accept := func(matter string, mats ...string) string {
		out, err := apply(c, clock, &pb.Command{Op: &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{MatterCode: matter,
			Applicant: &pb.Applicant{Name: "王秀英", IdNumber: idWang}, Materials: mats}}})
		require.NoError(t, err)
		return out.(*pb.Application).GetId()
	}
	list := func(f AppFilter) map[string]string {
		as, total, err := c.ListApplications(f)
		require.NoError(t, err)
		require.Equal(t, len(as), total)
		m := map[string]string{}
		for _, a := range as {
			m[a.GetId()] = a.GetState()
		}
		return m
	}
	first := accept("MZ-005", "居民身份证", "近期一寸免冠证件照")
	require.Len(t, list(AppFilter{}), 1)
	second := accept("MZ-005", "居民身份证", "近期一寸免冠证件照")
	birth := accept("YJS-002", "出生一件事联办申请表", "父母双方居民身份证", "居民户口簿")
	_, err := apply(c, clock, &pb.Command{Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: first, Approve: true}}})
	require.NoError(t, err)
	got := list(AppFilter{})
	require.Equal(t, map[string]string{first: StateApproved, second: StateAccepted, birth: StateAccepted}, got)
	require.Contains(t, list(AppFilter{MatterCode: "GA-001"}), birth, "its parts were read with it")
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: birth, Part: "GA-001", Approve: true}}})
	require.NoError(t, err)
	as, _, err := c.ListApplications(AppFilter{MatterCode: "GA-001"})
	require.NoError(t, err)
	require.Len(t, as, 1)
	var ga *pb.Task
	for _, tk := range as[0].GetTasks() {
		if tk.GetPartCode() == "GA-001" {
			ga = tk
		}
	}
	require.Equal(t, TaskApproved, ga.GetState(), "a part's decision is seen")
	c.Forget("")
	require.Len(t, list(AppFilter{}), 3, "read again whole")
}
