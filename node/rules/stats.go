package rules

import (
	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Stats computes the reform's figures over the records this node holds.
func (s *Rules) Stats(req *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	var unit tiers.Unit
	if req.GetUnit() != "" {
		u, err := tiers.Parse(req.GetUnit())
		if err != nil {
			return nil, invalid("unit", "%v", err)
		}
		unit = u
	}
	for _, d := range []struct{ field, v string }{{"from", req.GetFrom()}, {"to", req.GetTo()}} {
		if d.v != "" {
			if _, err := delegation.ParseDate(d.v); err != nil {
				return nil, invalid(d.field, "%v", err)
			}
		}
	}
	res := &pb.GetStatsResponse{SatisfactionDistribution: make([]uint64, 5)}
	ms, err := s.ListMatters(&pb.ListMattersRequest{Department: req.GetDepartment()})
	if err != nil {
		return nil, err
	}
	oneTrip, zero := 0, 0
	for _, m := range ms {
		if m.GetVisits() <= 1 {
			oneTrip++
		}
		if m.GetVisits() == 0 {
			zero++
		}
	}
	res.Matters = uint32(len(ms))
	res.OneTripShare, res.ZeroVisitShare = share(oneTrip, len(ms)), share(zero, len(ms))

	now := s.st.Now()
	cal := s.cal
	var used, statutory, scoreSum float64
	nearby := 0
	err = s.st.View(func(txn store.Reader) error {
		return txn.Scan(recApp, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			a, err := decodeRecord(rec, &pb.Application{})
			if err != nil {
				return false, err
			}
			day := delegation.FormatDate(a.GetAcceptedAt().AsTime())
			switch {
			case req.GetDepartment() != "" && a.GetDepartment() != req.GetDepartment(),
				req.GetFrom() != "" && day < req.GetFrom(),
				req.GetTo() != "" && day > req.GetTo(),
				unit != "" && !unit.Contains(tiers.Unit(a.GetAcceptingUnit())) && !unit.Contains(tiers.Unit(a.GetProcessingUnit())):
				return true, nil
			}
			res.Accepted++
			if a.GetAcceptingUnit() != a.GetProcessingUnit() {
				nearby++
			}
			d := computeDeadline(a, cal, now)
			if wd := a.GetWithdrawal(); wd != nil {
				res.Withdrawn++
				if wd.GetReason() == LapseReason {
					res.WithdrawnBySweep++
				}
				// A case that went past its due date stays overdue in the
				// figures when it is withdrawn afterwards.
				if due, err := delegation.ParseDate(d.GetStatutoryDue()); err == nil && delegation.Day(wd.GetWithdrawnAt().AsTime()).After(due) {
					res.Overdue++
				}
				return true, nil
			}
			if dec := a.GetDecision(); dec != nil {
				res.Decided++
				decidedDay := delegation.Day(dec.GetDecidedAt().AsTime())
				if d.GetOverdue() {
					res.Overdue++
				} else {
					res.OnTime++
				}
				if due, err := delegation.ParseDate(d.GetPromisedDue()); err == nil && decidedDay.Before(due) {
					res.Early++
				}
				used += float64(d.GetWorkingDaysUsed())
				statutory += float64(a.GetStatutoryDays())
			} else if d.GetOverdue() {
				res.Overdue++
			}
			if r := a.GetRating(); r != nil && r.GetScore() >= 1 && r.GetScore() <= 5 {
				res.Rated++
				res.SatisfactionDistribution[r.GetScore()-1]++
				scoreSum += float64(r.GetScore())
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	res.OnTimeRate = share(int(res.OnTime), int(res.Decided))
	if res.Decided > 0 {
		res.AverageWorkingDays = used / float64(res.Decided)
		res.AverageStatutoryDays = statutory / float64(res.Decided)
		if statutory > 0 {
			res.Compression = 1 - used/statutory
		}
	}
	if res.Rated > 0 {
		res.Satisfaction = scoreSum / float64(res.Rated)
	}
	res.NearbyShare = share(nearby, int(res.Accepted))
	if res.Refused, err = s.refusedCount(req); err != nil {
		return nil, err
	}
	return res, nil
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
