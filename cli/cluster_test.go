package cli

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/cli/bench"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
)

// startGroup starts a three-member county group in this process, shut
// down when the test ends.
func startGroup(t *testing.T) *bench.Group {
	t.Helper()
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	g, err := bench.StartGroup(t.TempDir(), cal)
	require.NoError(t, err)
	t.Cleanup(g.Close)
	return g
}

// TestClusterStatusListsEachMembersVersion: `cluster status` shows, for
// every member, the release it runs, its raft state and how far it has
// applied the log, as that member said when last asked.
func TestClusterStatusListsEachMembersVersion(t *testing.T) {
	g := startGroup(t)
	leader := g.URLs()[0]
	var out string
	require.Eventually(t, func() bool {
		code, o, _ := run(t, leader, "cluster", "status")
		out = o
		return code == 0 && strings.Count(o, node.Version) >= 3 && strings.Count(o, "Follower") == 2 && !strings.Contains(o, "未曾应答")
	}, 10*time.Second, 100*time.Millisecond, "every member's version and state: %s", out)
	require.Contains(t, out, "版本")
	require.NotContains(t, out, "版本不一致")
	require.Contains(t, out, "值日志占用磁盘")
	code, _, stderr := run(t, leader, "cluster", "remove", "http://10.9.9.9:8080")
	require.Equal(t, 1, code, "not a member: not removed")
	require.Contains(t, stderr, "不是集群成员")

	code, o, _ := run(t, leader, "cluster", "status", "-o", "json")
	require.Equal(t, 0, code)
	var st struct {
		ValueLogBytes string `json:"valueLogBytes"` // int64: a string in JSON
		Members       []struct {
			Version  string `json:"version"`
			State    string `json:"state"`
			Answered bool   `json:"answered"`
		} `json:"members"`
	}
	require.NoError(t, json.Unmarshal([]byte(o), &st))
	require.Len(t, st.Members, 3)
	vl, err := strconv.ParseInt(st.ValueLogBytes, 10, 64)
	require.NoError(t, err, "valueLogBytes %q", st.ValueLogBytes)
	require.Positive(t, vl, "the catalog's records are in the value log")
	for _, m := range st.Members {
		require.Equal(t, node.Version, m.Version)
		require.NotEmpty(t, m.State)
		require.True(t, m.Answered)
	}
}
