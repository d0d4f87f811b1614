package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBenchTreeSlice runs a slice of `bench tree` — 2 townships of 3
// villages, the county a process of its own — and checks what the full
// run measures: every village reached by a catalog version, a grant and a
// revocation; a working day decided at townships and at the county with
// every decision back at its window exactly once; the county killed and
// started again while the villages accept, then a township, each caught
// up.
func TestBenchTreeSlice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a county of nine nodes")
	}
	rep, err := RunTree(context.Background(), TreeConfig{Townships: 2, Villages: 3, Apps: 60, Duration: 3 * time.Second,
		Outage: 2 * time.Second, Idle: time.Second, MemTableMiB: 2, Seed: 7, Binary: testBinary(t)})
	require.NoError(t, err)
	js, _ := json.MarshalIndent(rep, "", " ")
	t.Logf("%s", js)
	require.Equal(t, 6, rep.Villages)
	for name, s := range map[string]Spread{"catalog": rep.FanOut.Spread, "grant": rep.FanOut.Grant, "revoke": rep.FanOut.Revoke} {
		require.Equal(t, 6, s.N, name)
		require.Positive(t, s.MaxMs, name)
		require.LessOrEqual(t, s.P50Ms, s.MaxMs, name)
	}
	d := rep.WorkingDay
	require.Equal(t, 60, d.Accepted)
	require.Equal(t, 60, d.N, "every decision seen back at its window")
	require.Positive(t, d.AtTownship, "MZ-005 is devolved to the first township")
	require.Positive(t, d.AtCounty, "and decided at the county for the second")
	require.Zero(t, d.Lost)
	require.Zero(t, d.Duplicated)
	require.Positive(t, d.P50Ms)
	require.Positive(t, rep.Idle.CountyRSSMiB)
	require.GreaterOrEqual(t, rep.Idle.Connections, 2, "each township holds a connection to the county")
	require.Positive(t, rep.Load.Goroutines)
	for _, c := range []TreeCatchUp{rep.Herd, rep.TownshipDown} {
		require.Positive(t, c.Backlog, c.Unit)
		require.Positive(t, c.CaughtUpMs, c.Unit)
		require.LessOrEqual(t, c.MedianChildMs, c.CaughtUpMs, c.Unit)
		require.NotEmpty(t, c.SlowestChild, c.Unit)
		require.Positive(t, c.DecidedMs, c.Unit)
	}
	require.Equal(t, "330324", rep.Herd.Unit)
	require.Equal(t, "330324102", rep.TownshipDown.Unit)
}
