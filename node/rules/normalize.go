package rules

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// Normalize turns the names a person typed in a request into the codes the
// rules take, in place: a unit by name (城关镇), a matter by name, alias or
// pinyin initials (低保), a department by name (民政局), a delegation mode
// (下放) or a delivery way (窗口). Codes pass as they are. An unknown or
// ambiguous name is refused, naming the field and the candidates.
func (s *Rules) Normalize(m proto.Message) error {
	var err error
	unit := func(field string, v *string) {
		if err == nil {
			*v, err = s.ResolveUnit(field, *v)
		}
	}
	matter := func(field string, v *string) {
		if err == nil {
			*v, err = s.ResolveMatter(field, *v)
		}
	}
	dept := func(field string, v *string) {
		if err == nil {
			*v, err = s.ResolveDepartment(field, *v)
		}
	}
	switch r := m.(type) {
	case *pb.AcceptApplicationRequest:
		matter("matter_code", &r.MatterCode)
	case *pb.RefuseApplicationRequest:
		matter("matter_code", &r.MatterCode)
	case *pb.ListRefusalsRequest:
		matter("matter_code", &r.MatterCode)
		unit("unit", &r.Unit)
	case *pb.ListApplicationsRequest:
		matter("matter_code", &r.MatterCode)
		dept("department", &r.Department)
	case *pb.DecideApplicationRequest:
		matter("part", &r.Part)
	case *pb.DeliverApplicationRequest:
		if r.Method != "" {
			r.Method, err = ResolveDelivery("method", r.Method)
		}
	case *pb.ForwardApplicationRequest:
		unit("to_unit", &r.ToUnit)
	case *pb.GetMatterRequest:
		matter("code", &r.Code)
	case *pb.ListMattersRequest:
		dept("department", &r.Department)
	case *pb.GrantDelegationRequest:
		matter("matter_code", &r.MatterCode)
		unit("unit", &r.Unit)
		if err == nil && r.Mode != "" {
			r.Mode, err = ResolveMode("mode", r.Mode)
		}
	case *pb.ListDelegationsRequest:
		matter("matter_code", &r.MatterCode)
		unit("unit", &r.Unit)
	case *pb.RouteRequest:
		matter("matter_code", &r.MatterCode)
		unit("accepting_unit", &r.AcceptingUnit)
	case *pb.SetClassRequest:
		if c := r.GetClass(); c != nil {
			for i := range c.Townships {
				unit(fmt.Sprintf("class.townships[%d]", i), &c.Townships[i])
			}
			for i := range c.Menu {
				matter(fmt.Sprintf("class.menu[%d]", i), &c.Menu[i])
			}
		}
	case *pb.OrderMattersRequest:
		for i := range r.Matters {
			matter(fmt.Sprintf("matters[%d]", i), &r.Matters[i])
		}
	case *pb.SetNegativeListRequest:
		for i, e := range r.GetEntries() {
			matter(fmt.Sprintf("entries[%d].matter_code", i), &e.MatterCode)
		}
	case *pb.GetStatsRequest:
		unit("unit", &r.Unit)
		dept("department", &r.Department)
	case *pb.AddAccountRequest:
		unit("unit", &r.Unit)
		dept("department", &r.Department)
	case *pb.UpdateAccountRequest:
		dept("department", &r.Department)
	case *pb.ListAccountsRequest:
		unit("unit", &r.Unit)
	}
	return err
}
