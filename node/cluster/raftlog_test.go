package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func rawLogs(from, to, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("%d@%d", i, term))})
	}
	return ls
}

// TestCompactedEntriesAreGone: after compaction the log answers "not
// found" below its first index, even for entries still in the segment
// being written, so a member that was away gets the snapshot.
func TestCompactedEntriesAreGone(t *testing.T) {
	l, err := openRaftLog(t.TempDir(), hclog.NewNullLogger())
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.StoreLogs(rawLogs(1, 10, 1)))
	require.NoError(t, l.DeleteRange(1, 5))
	var e raft.Log
	for i := uint64(1); i <= 5; i++ {
		require.ErrorIs(t, l.GetLog(i, &e), raft.ErrLogNotFound, "entry %d", i)
	}
	require.NoError(t, l.GetLog(6, &e))
	require.Equal(t, "6@1", string(e.Data))
}

// TestALogWhoseTailWasCutReopens: raft cuts a follower's uncommitted tail
// when a new leader's log disagrees; the log must reopen after a crash
// right then and take the new leader's entries (raft-wal #31, which
// v0.4.0 failed).
func TestALogWhoseTailWasCutReopens(t *testing.T) {
	dir := t.TempDir()
	l, err := openRaftLog(dir, hclog.NewNullLogger())
	require.NoError(t, err)
	require.NoError(t, l.StoreLogs(rawLogs(1, 424, 2)))
	require.NoError(t, l.DeleteRange(424, 424))
	require.NoError(t, l.Close())

	l, err = openRaftLog(dir, hclog.NewNullLogger())
	require.NoError(t, err)
	var e raft.Log
	require.NoError(t, l.GetLog(1, &e))
	last, err := l.LastIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(423), last)
	require.NoError(t, l.StoreLogs(rawLogs(424, 430, 3)))
	require.NoError(t, l.Close())

	l, err = openRaftLog(dir, hclog.NewNullLogger())
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.GetLog(424, &e))
	require.Equal(t, "424@3", string(e.Data), "the new leader's entry, not the one cut")
	require.NoError(t, l.GetLog(1, &e))
	require.Equal(t, "1@2", string(e.Data))
}

// TestOpenRaftLogAfterAMoveThatWasNotTidied: the rename is the move's
// last step; an old file still beside the new log is removed, unread.
func TestOpenRaftLogAfterAMoveThatWasNotTidied(t *testing.T) {
	dir := t.TempDir()
	l, err := openRaftLog(dir, hclog.NewNullLogger())
	require.NoError(t, err)
	require.NoError(t, l.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("a")}}))
	require.NoError(t, l.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, raftBoltFile), []byte("not a bolt file"), 0o644))
	l, err = openRaftLog(dir, hclog.NewNullLogger())
	require.NoError(t, err)
	defer l.Close()
	require.NoFileExists(t, filepath.Join(dir, raftBoltFile))
	var e raft.Log
	require.NoError(t, l.GetLog(1, &e))
	require.Equal(t, []byte("a"), e.Data)
}
