package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchSyncOverTLS runs `bench sync --tls` at a small size: three
// nodes over mutual TLS with certificates of a CA made for the run.
func TestBenchSyncOverTLS(t *testing.T) {
	rep, err := RunSync(context.Background(), SyncConfig{Iterations: 5, CatchUp: 2 * backlogWriters, TLS: true})
	require.NoError(t, err)
	require.Equal(t, 5, rep.Iterations)
	require.Positive(t, rep.OneWayP50Ms)
	require.Positive(t, rep.HopTownshipCounty)
	require.Positive(t, rep.LiveBytesPerEvent)
}
