package rules

import (
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
)

// decided reports whether the processing unit has finished with the
// application (its clock has stopped).
func decided(a *pb.Application) bool {
	switch a.GetState() {
	case StateApproved, StateRejected, StateDelivered, StateRated, StateWithdrawn:
		return true
	}
	return false
}

// computeDeadline works out the due dates and time left of an application
// on a calendar at a moment. Limits count in working days from the day of
// acceptance; every working day spent waiting for a supplement (补正) moves
// the due dates back by one.
func computeDeadline(a *pb.Application, cal *delegation.Calendar, now time.Time) *pb.Deadline {
	accepted := a.GetAcceptedAt().AsTime()
	end := now
	switch {
	case a.GetDecision() != nil:
		end = a.GetDecision().GetDecidedAt().AsTime()
	case a.GetWithdrawal() != nil:
		end = a.GetWithdrawal().GetWithdrawnAt().AsTime()
	}
	paused := 0
	open := false
	for _, p := range a.GetPauses() {
		until := end
		if p.GetSuppliedAt() != nil {
			until = p.GetSuppliedAt().AsTime()
		} else {
			open = true
		}
		paused += cal.WorkingDaysBetween(p.GetRequestedAt().AsTime(), until)
	}
	d := &pb.Deadline{Paused: open && !decided(a)}
	statDue := cal.AddWorkingDays(accepted, int(a.GetStatutoryDays())+paused)
	promDue := cal.AddWorkingDays(accepted, int(a.GetPromisedDays())+paused)
	d.StatutoryDue = delegation.FormatDate(statDue)
	d.PromisedDue = delegation.FormatDate(promDue)
	d.WorkingDaysUsed = int32(cal.WorkingDaysBetween(accepted, end) - paused)
	if d.WorkingDaysUsed < 0 {
		d.WorkingDaysUsed = 0
	}
	if a.GetWithdrawal() == nil {
		d.StatutoryDaysLeft = int32(cal.WorkingDaysBetween(end, statDue))
		d.PromisedDaysLeft = int32(cal.WorkingDaysBetween(end, promDue))
		endDay := delegation.Day(end)
		d.Overdue = endDay.After(statDue)
		d.PromiseBroken = endDay.After(promDue)
	}
	if a.GetSupplementDays() > 0 && len(a.GetMaterialsMissing()) > 0 {
		due := cal.AddWorkingDays(accepted, int(a.GetSupplementDays()))
		d.SupplementDue = delegation.FormatDate(due)
		d.SupplementOverdue = !decided(a) && delegation.Day(now).After(due)
	}
	d.StatutoryProvisional = cal.Provisional(accepted, statDue)
	d.PromisedProvisional = cal.Provisional(accepted, promDue)
	return d
}

// Deadline is an application's deadlines and how they stand at now.
func (s *Rules) Deadline(a *pb.Application, now time.Time) *pb.Deadline {
	return computeDeadline(a, s.cal, now)
}
