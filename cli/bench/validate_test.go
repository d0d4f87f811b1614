package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigsRefuseWhatCannotBeMeasured: each Config names the flag at
// fault before anything starts.
func TestConfigsRefuseWhatCannotBeMeasured(t *testing.T) {
	require.NoError(t, AcceptConfig{Clients: []int{1, 16}}.Validate())
	require.ErrorContains(t, AcceptConfig{Clients: []int{1, 0}}.Validate(), "--clients: 0")

	require.NoError(t, SyncConfig{CatchUp: 10000}.Validate())
	require.ErrorContains(t, SyncConfig{CatchUp: 31}.Validate(), "--catch-up: 31")

	county := CountyConfig{Writers: []int{1}, PushTownships: 4, PushBatches: 5, BatchEvents: 500, Kills: 5}
	require.NoError(t, county.Validate())
	members := county
	members.Members = []string{"http://10.0.0.1:8080"}
	require.ErrorContains(t, members.Validate(), "--kills")
	members.Kills = 0
	require.NoError(t, members.Validate())
	noBatch := county
	noBatch.BatchEvents = 0
	require.ErrorContains(t, noBatch.Validate(), "--batch-events: 0")
	noBatch.PushTownships = 0
	require.NoError(t, noBatch.Validate(), "no push run: the batch size is not used")
}
