package delegation

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func seedCalendar(t *testing.T) *Calendar {
	b, err := os.ReadFile("../deploy/seed/calendar.yaml")
	require.NoError(t, err)
	c, err := LoadCalendar(bytes.NewReader(b))
	require.NoError(t, err)
	return c
}

func TestWorkingDays(t *testing.T) {
	c := seedCalendar(t)
	require.Equal(t, []int{2026, 2027}, c.Years())
	tests := []struct {
		name string
		from string
		n    int
		want string
	}{
		{"same day 即办", "2026-11-23", 0, "2026-11-23"},
		{"over a weekend", "2026-11-20", 1, "2026-11-23"},
		{"national day and its make-up Saturday", "2026-09-30", 5, "2026-10-13"},
		{"make-up Sunday before national day counts", "2026-09-18", 1, "2026-09-20"},
		{"spring festival", "2026-02-13", 1, "2026-02-14"},
		{"spring festival, long", "2026-02-14", 1, "2026-02-24"},
		{"new year into 2027", "2026-12-31", 1, "2027-01-04"},
		{"twenty days", "2026-11-23", 20, "2026-12-21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := ParseDate(tt.from)
			require.NoError(t, err)
			got := c.AddWorkingDays(from, tt.n)
			require.Equal(t, tt.want, FormatDate(got))
			require.Equal(t, tt.n, c.WorkingDaysBetween(from, got))
			require.Equal(t, -tt.n, c.WorkingDaysBetween(got, from))
		})
	}
	for d, want := range map[string]bool{
		"2026-10-01": false, "2026-10-10": true, "2026-10-11": false, "2026-05-09": true,
		"2026-11-21": false, "2026-11-23": true, "2026-06-19": false, "2028-01-03": true, "2028-01-01": false,
	} {
		v, err := ParseDate(d)
		require.NoError(t, err)
		require.Equal(t, want, c.IsWorkingDay(v), d)
	}
}

func TestLoadCalendarRefusesNonsense(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"years: [{year: 1999}]", "years[0].year"},
		{"years: [{year: 2026, festivals: [{name: x, from: 2026-13-01, to: 2026-13-02}]}]", "festivals[0].from"},
		{"years: [{year: 2026, festivals: [{name: x, from: 2026-10-07, to: 2026-10-01}]}]", "不是合理的假期"},
		{"years: [{year: 2026, festivals: [{name: x, from: 2026-10-01, to: 2026-10-02, work: [2026-10-05]}]}]", "work[0]"},
		{"years: [{year: 2026, holidays: []}]", "holidays"},
		{"years: [{year: 2026, festivals: [{name: 国庆节, from: 2026-10-01, to: 2026-10-07, work: [2026-10-03]}]}]", "festivals[0].work[0]"},
		{"years: [{year: 2026}, {year: 2026}]", "years[1].year"},
	} {
		_, err := LoadCalendar(strings.NewReader(tt.yaml))
		require.ErrorIs(t, err, ErrInvalidCatalog)
		require.ErrorContains(t, err, tt.want)
	}
}
