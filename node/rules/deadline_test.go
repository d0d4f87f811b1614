package rules

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestDueDatesOnAProvisionalYearAreMarked: a due date counted into 2027
// (provisional in the seed calendar) is marked, one within 2026 is not.
func TestDueDatesOnAProvisionalYearAreMarked(t *testing.T) {
	cal := seedCalendar(t)
	a := acceptedAt("330324", "330324").GetApplication()
	a.AcceptedAt, a.StatutoryDays, a.PromisedDays = timestamppb.New(at("2026-11-02", 10)), 10, 5
	d := computeDeadline(a, cal, at("2026-11-03", 10))
	require.False(t, d.GetStatutoryProvisional())
	require.False(t, d.GetPromisedProvisional())

	a.AcceptedAt, a.StatutoryDays = timestamppb.New(at("2026-12-15", 10)), 20
	d = computeDeadline(a, cal, at("2026-12-16", 10))
	require.Equal(t, "2026-12-22", d.GetPromisedDue())
	require.False(t, d.GetPromisedProvisional())
	require.Greater(t, d.GetStatutoryDue(), "2027-01-01")
	require.True(t, d.GetStatutoryProvisional())
}
