package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	bpb "github.com/dgraph-io/badger/v4/pb"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/jiujin/jiujin/node/store"
	"github.com/stretchr/testify/require"
)

// smallMemtableMember is a member's store with 16 MiB memtables, a
// quarter of a member's: badger's limit on one commit, a share of the
// memtable, falls within 6,000 commands.
func smallMemtableMember(t *testing.T) *store.Store {
	t.Helper()
	st, err := OpenStore(StoreConfig{Dir: t.TempDir(), Unit: county, Calendar: seedCalendar(t), Member: true,
		tune: func(o badger.Options) badger.Options { return o.WithMemTableSize(16 << 20) }})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// TestABatchLargerThanOneCommitIsAppliedWhole: a batch entry whose writes
// exceed one badger transaction is committed in parts and still applied
// completely, once.
func TestABatchLargerThanOneCommitIsAppliedWhole(t *testing.T) {
	st := smallMemtableMember(t)
	fsm := NewFSM(st)
	fsm.ApplyBatch(groupSetup(t))
	const n = 6000
	require.Greater(t, n*5, int(st.DB().MaxBatchCount()), "the batch needs more than one commit")
	parts := make([][]byte, n)
	for i := range parts {
		parts[i] = cmdBytes(t, acceptCmd(10))
	}
	head := st.FeedHead()
	res := fsm.ApplyBatch([]*raft.Log{batchOf(t, 3, parts...)})[0].(BatchResult)
	for i, r := range res {
		require.NoError(t, r.Err, "command %d", i+1)
	}
	require.Equal(t, head+n, st.FeedHead())
	require.Equal(t, uint64(3), st.Applied())
	require.Zero(t, st.PartOf(), "no entry left partly applied")
	fsm.ApplyBatch([]*raft.Log{batchOf(t, 3, parts...)})
	require.Equal(t, head+n, st.FeedHead())
	_, err := st.Verify()
	require.NoError(t, err)
}

// TestEachCommitOfASplitBatchCountsWhatItHolds: a batch entry applied in
// several commits records, with each commit, how many of its commands
// that commit and the ones before hold, never one more: a process
// stopped between two commits replays the rest of the entry from the
// first command the store does not hold, and a snapshot taken between
// them claims no command it lacks.
func TestEachCommitOfASplitBatchCountsWhatItHolds(t *testing.T) {
	st := smallMemtableMember(t)
	fsm := NewFSM(st)
	fsm.ApplyBatch(groupSetup(t))

	// Every commit writes the counters: collect them by commit.
	type mark struct{ head, partOf, partsDone, applied uint64 }
	var mu sync.Mutex
	commits := map[uint64]*mark{}
	ctx, cancel := context.WithCancel(context.Background())
	subscribed := make(chan error, 1)
	go func() {
		subscribed <- st.DB().Subscribe(ctx, func(kvs *badger.KVList) error {
			mu.Lock()
			defer mu.Unlock()
			for _, kv := range kvs.GetKv() {
				m := commits[kv.GetVersion()]
				if m == nil {
					m = &mark{}
					commits[kv.GetVersion()] = m
				}
				switch string(kv.GetKey()) {
				case store.MetaFeedHead:
					m.head = store.BeUint64(kv.GetValue())
				case store.MetaApplied:
					m.applied = store.BeUint64(kv.GetValue())
				case store.MetaAppliedPart:
					m.partOf, m.partsDone = store.BeUint64(kv.GetValue()[:8]), store.BeUint64(kv.GetValue()[8:])
				}
			}
			return nil
		}, []bpb.Match{{Prefix: []byte("m/")}, {Prefix: []byte("zz/")}})
	}()
	// Subscribed once a write of its own is seen.
	require.Eventually(t, func() bool {
		require.NoError(t, st.DB().Update(func(txn *badger.Txn) error { return txn.Set([]byte("zz/ping"), nil) }))
		mu.Lock()
		defer mu.Unlock()
		return len(commits) > 0
	}, 10*time.Second, 10*time.Millisecond)

	const n = 6000
	parts := make([][]byte, n)
	for i := range parts {
		parts[i] = cmdBytes(t, acceptCmd(10))
	}
	head := st.FeedHead()
	for _, r := range fsm.ApplyBatch([]*raft.Log{batchOf(t, 3, parts...)})[0].(BatchResult) {
		require.NoError(t, r.Err)
	}
	var split int
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		split = 0
		done := false
		for _, m := range commits {
			if m.partOf == 3 {
				split++
			}
			done = done || (m.applied == 3 && m.head == head+n)
		}
		return done
	}, 10*time.Second, 10*time.Millisecond, "the last commit of the entry is seen")
	cancel()
	require.ErrorIs(t, <-subscribed, context.Canceled)
	require.Positive(t, split, "the entry took more than one commit")
	for v, m := range commits {
		if m.partOf == 3 {
			require.Equal(t, head+m.partsDone, m.head, "commit %d: %d commands counted as applied, the feed holds %d", v, m.partsDone, m.head-head)
		}
	}
}
