package rules

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Where an application stands upstream, as a window tells the applicant:
// has what this unit did with it reached the township, the county?
const (
	UpstreamNotSent    = "not_sent"    // 未送达上级
	UpstreamAtTownship = "at_township" // 已送达乡镇
	UpstreamAtCounty   = "at_county"   // 已送达县级
)

// UpstreamLabel is an upstream state in words.
func UpstreamLabel(state string) string {
	switch state {
	case UpstreamNotSent:
		return "未送达上级"
	case UpstreamAtTownship:
		return "已送达乡镇"
	case UpstreamAtCounty:
		return "已送达县级"
	}
	return state
}

// Upstream is where this node's latest change to an application stands:
// not yet acknowledged by its parent, held by the township (a village's
// parent), or by the county. Nil at the county (it is the top), when no
// change of this node's subtree is in the record (it came from above), or
// when it cannot be read.
func (s *Rules) Upstream(id string) *pb.Upstream {
	if s.unit.Tier() == tiers.County {
		return nil
	}
	u, found, err := s.st.UpstreamOf(recApp + id)
	if err != nil || !found {
		return nil
	}
	out := &pb.Upstream{State: UpstreamNotSent}
	if !u.Parent.IsZero() {
		// A township's parent is the county; a village's the township.
		if s.unit.Tier() == tiers.Township {
			out.CountyAt, out.State = timestamppb.New(u.Parent), UpstreamAtCounty
		} else {
			out.TownshipAt, out.State = timestamppb.New(u.Parent), UpstreamAtTownship
		}
	}
	if !u.Above.IsZero() && s.unit.Tier() == tiers.Village {
		out.CountyAt, out.State = timestamppb.New(u.Above), UpstreamAtCounty
	}
	return out
}
