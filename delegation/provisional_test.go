package delegation_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
)

// TestProvisionalYears: days counted across a year the calendar marks
// provisional, or has no notice for, are provisional; within an official
// year they are not.
func TestProvisionalYears(t *testing.T) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"2026-03-02", "2026-03-20", false},
		{"2026-12-20", "2027-01-10", true},
		{"2027-03-01", "2027-03-05", true},
		{"2025-12-01", "2026-01-10", true},
	} {
		from, err := delegation.ParseDate(tc.from)
		require.NoError(t, err)
		to, err := delegation.ParseDate(tc.to)
		require.NoError(t, err)
		require.Equal(t, tc.want, cal.Provisional(from, to), "%s – %s", tc.from, tc.to)
	}
}
