package delegation

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

func seedCatalog(t testing.TB) *pb.ImportCatalogRequest {
	b, err := os.ReadFile("../deploy/seed/catalog.yaml")
	require.NoError(t, err)
	req, err := ParseCatalogYAML(bytes.NewReader(b))
	require.NoError(t, err)
	return req
}

func TestSeedCatalogIsARealCounty(t *testing.T) {
	req := seedCatalog(t)
	require.GreaterOrEqual(t, len(req.GetMatters()), 40)
	depts := map[string]int{}
	composite, zeroVisit, rongque := 0, 0, 0
	for _, m := range req.GetMatters() {
		depts[m.GetDepartment()]++
		if len(m.GetParts()) > 0 {
			composite++
		}
		if m.GetVisits() == 0 {
			zeroVisit++
		}
		if m.GetSupplementDays() > 0 {
			rongque++
		}
	}
	require.GreaterOrEqual(t, len(depts), 8)
	require.GreaterOrEqual(t, composite, 3)
	require.Positive(t, zeroVisit)
	require.Positive(t, rongque)
}

func TestValidateCatalogNamesTheField(t *testing.T) {
	base := seedCatalog(t)
	tests := []struct {
		name  string
		edit  func(r *pb.ImportCatalogRequest)
		field string
	}{
		{"bad code", func(r *pb.ImportCatalogRequest) { r.Matters[0].Code = "ga-1" }, "matters[0].code"},
		{"code not of its department", func(r *pb.ImportCatalogRequest) { r.Matters[0].Code = "SJ-901" }, "matters[0].code"},
		{"duplicate code", func(r *pb.ImportCatalogRequest) { r.Matters[1].Code = r.Matters[0].Code }, "matters[1].code"},
		{"duplicate name", func(r *pb.ImportCatalogRequest) { r.Matters[1].Name = r.Matters[0].Name }, "matters[1].name"},
		{"duplicate department name", func(r *pb.ImportCatalogRequest) { r.Departments[1].Name = r.Departments[0].Name }, "departments[1].name"},
		{"unknown department", func(r *pb.ImportCatalogRequest) { r.Matters[0].Department = "XX" }, "matters[0]"},
		{"unknown kind", func(r *pb.ImportCatalogRequest) { r.Matters[0].Kind = "magic" }, "matters[0].kind"},
		{"zero statutory", func(r *pb.ImportCatalogRequest) { r.Matters[0].StatutoryDays = 0 }, "matters[0].statutory_days"},
		{"promise beyond law", func(r *pb.ImportCatalogRequest) { r.Matters[0].PromisedDays = r.Matters[0].StatutoryDays + 1 }, "matters[0].promised_days"},
		{"zero-visit offline", func(r *pb.ImportCatalogRequest) { r.Matters[0].Visits = 0; r.Matters[0].Online = false }, "matters[0].online"},
		{"no materials", func(r *pb.ImportCatalogRequest) { r.Matters[0].Materials = nil }, "matters[0].materials"},
		{"bad form", func(r *pb.ImportCatalogRequest) { r.Matters[0].Materials[0].Form = "stone" }, "matters[0].materials[0].form"},
		{"duplicate material", func(r *pb.ImportCatalogRequest) {
			r.Matters[0].Materials[1].Name = r.Matters[0].Materials[0].Name
		}, "matters[0].materials[1].name"},
		{"容缺 without deadline", func(r *pb.ImportCatalogRequest) {
			r.Matters[0].Materials[0].MayBeMissing = true
			r.Matters[0].Materials[0].Required = true
			r.Matters[0].SupplementDays = 0
		}, "matters[0].supplement_days"},
		{"long name", func(r *pb.ImportCatalogRequest) { r.Matters[0].Name = strings.Repeat("事", 61) }, "matters[0].name"},
		{"part missing", func(r *pb.ImportCatalogRequest) {
			for _, m := range r.Matters {
				if len(m.Parts) > 0 {
					m.Parts[0] = "GA-999"
					return
				}
			}
		}, "一件事 YJS-001 的子事项 \"GA-999\" 不在清单中"},
		{"no departments", func(r *pb.ImportCatalogRequest) { r.Departments = nil }, "departments"},
		{"YJS as department", func(r *pb.ImportCatalogRequest) { r.Departments[0].Code = "YJS" }, "departments[0].code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := proto.Clone(base).(*pb.ImportCatalogRequest)
			tt.edit(r)
			err := ValidateCatalog(r)
			require.ErrorIs(t, err, ErrInvalidCatalog)
			require.ErrorContains(t, err, tt.field)
		})
	}
}

func TestParseCatalogYAMLRefusesUnknownKeys(t *testing.T) {
	_, err := ParseCatalogYAML(strings.NewReader("title: x\ndepartmnets: []\n"))
	require.ErrorIs(t, err, ErrInvalidCatalog)
	require.ErrorContains(t, err, "departmnets")
}

func FuzzParseCatalogYAML(f *testing.F) {
	b, err := os.ReadFile("../deploy/seed/catalog.yaml")
	require.NoError(f, err)
	f.Add(b[:2000])
	f.Add([]byte("title: t\ndepartments: [{code: GA, name: 公安}]\nmatters: [{code: GA-001, name: n, department: GA, kind: 行政许可, statutory_days: 1, visits: 1, materials: [{name: m, required: true, form: paper}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseCatalogYAML(bytes.NewReader(data))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidCatalog)
			return
		}
		// Whatever parses is valid.
		require.NoError(t, ValidateCatalog(req))
	})
}
