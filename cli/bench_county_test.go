package cli

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBenchCountySmall runs every part of `bench county` at a small size:
// writers, township pushes of full batches, and leader kills of member
// processes (of a binary built for the test).
func TestBenchCountySmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := filepath.Join(t.TempDir(), "jiujin")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/jiujin/jiujin").CombinedOutput()
	require.NoError(t, err, "%s", out)
	rep, err := benchCounty(context.Background(), &BenchCountyOptions{Writers: []int{1, 4}, Duration: 300 * time.Millisecond,
		PushTownships: 2, PushBatches: 2, BatchEvents: 50, Kills: 2, Binary: bin})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 2)
	for _, r := range rep.Runs {
		require.Positive(t, r.Committed, "%d writers", r.Writers)
		require.LessOrEqual(t, r.P50Ms, r.P99Ms)
	}
	require.NotNil(t, rep.Push)
	require.Equal(t, 2, rep.Push.Townships)
	require.GreaterOrEqual(t, rep.Push.Events, int64(2*2*50), "each township pushed at least two full batches")
	require.GreaterOrEqual(t, rep.Push.Batches, 4)
	require.Len(t, rep.FailoverMs, 2)
	for _, ms := range rep.FailoverMs {
		require.Positive(t, ms)
	}
	require.Positive(t, rep.FailoverMedianS)
}
