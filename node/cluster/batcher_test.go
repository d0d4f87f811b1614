package cluster

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/store"
)

// batcherAtLeader is a batcher at the leader of an in-memory group that
// holds the catalog.
func batcherAtLeader(t *testing.T, may func() bool) ([]*member, *member, *batcher) {
	return batcherAtLeaderWrapped(t, may, nil)
}

// batcherAtLeaderWrapped is batcherAtLeader with the members' state
// machines wrapped (see makeClusterWrapped).
func batcherAtLeaderWrapped(t *testing.T, may func() bool, wrap func(*FSM) raft.FSM) ([]*member, *member, *batcher) {
	ms := makeClusterWrapped(t, 3, wrap)
	l := leaderOf(t, ms, nil)
	for _, e := range groupSetup(t) {
		var cmd pb.Command
		require.NoError(t, proto.Unmarshal(e.Data, &cmd))
		require.NoError(t, propose(t, ms, nil, &cmd).Err)
	}
	b := newBatcher(l.r, may)
	l.fsm.onReach(b.reached)
	t.Cleanup(b.close)
	return ms, l, b
}

// TestTheBatcherGathersWaitingCommands: commands proposed while an entry
// is in flight go into the next entry together, each answered with its
// own result; past the byte limit they go in entries of their own.
func TestTheBatcherGathersWaitingCommands(t *testing.T) {
	ms, l, b := batcherAtLeader(t, func() bool { return true })

	// An entry in flight: what comes meanwhile waits.
	b.slots <- struct{}{}
	before := l.r.LastIndex()
	const n = 64
	results := make([]proposalResult, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		cmd := acceptCmd(10)
		if i%8 == 3 {
			cmd = unknownMatterCmd(10)
		}
		data := cmdBytes(t, cmd)
		wg.Go(func() { results[i] = b.propose(data) })
	}
	require.Eventually(t, func() bool { return b.pending() == n }, 10*time.Second, time.Millisecond)
	<-b.slots
	wg.Wait()
	require.Equal(t, before+1, l.r.LastIndex(), "the waiting commands went in one entry")
	ids := map[string]bool{}
	for i, r := range results {
		require.NoError(t, r.err)
		require.Equal(t, before+1, r.index)
		if i%8 == 3 {
			require.ErrorIs(t, r.Err, store.ErrNotFound)
			continue
		}
		require.NoError(t, r.Err)
		ids[r.Out.(*pb.Application).GetId()] = true
	}
	require.Len(t, ids, n-n/8, "each accepted command its own application")
	for _, m := range ms {
		require.Eventually(t, func() bool { return sameFeeds(m.st, l.st) }, 10*time.Second, 10*time.Millisecond)
	}

	// Three commands of 300 KiB: no two fit one entry.
	b.slots <- struct{}{}
	before = l.r.LastIndex()
	big := bytes.Repeat([]byte{0xff}, 300<<10)
	for i := 0; i < 3; i++ {
		wg.Go(func() {
			r := b.propose(big)
			require.NoError(t, r.err)
			require.ErrorIs(t, r.Err, store.ErrInvalidArgument)
		})
	}
	require.Eventually(t, func() bool { return b.pending() == 3 }, 10*time.Second, time.Millisecond)
	<-b.slots
	wg.Wait()
	require.Equal(t, before+3, l.r.LastIndex())

	// Closed: what waits is refused, nothing hangs.
	b.slots <- struct{}{}
	var refused error
	wg.Go(func() { refused = b.propose(cmdBytes(t, acceptCmd(10))).err })
	require.Eventually(t, func() bool { return b.pending() == 1 }, 10*time.Second, time.Millisecond)
	go func() { time.Sleep(10 * time.Millisecond); <-b.slots }()
	b.close()
	wg.Wait()
	if refused != nil {
		require.ErrorIs(t, refused, raft.ErrRaftShutdown)
	}
	require.ErrorIs(t, b.propose(cmdBytes(t, acceptCmd(10))).err, raft.ErrRaftShutdown)
}

// heldFSM holds its answer for the entries it is given while hold is set,
// until released: applied, but not yet answered to raft.
type heldFSM struct {
	*FSM
	hold    atomic.Bool
	holding chan struct{}
	release chan struct{}
}

func (h *heldFSM) ApplyBatch(logs []*raft.Log) []any {
	out := h.FSM.ApplyBatch(logs)
	if h.hold.CompareAndSwap(true, false) {
		h.holding <- struct{}{}
		<-h.release
	}
	return out
}

// TestTheNextEntryGoesWhileOneIsApplied: an entry counts as in flight
// only until it reaches the leader's state machine; the next one is put
// into the log while the first is still being applied.
func TestTheNextEntryGoesWhileOneIsApplied(t *testing.T) {
	held := map[*FSM]*heldFSM{}
	var mu sync.Mutex
	ms, l, b := batcherAtLeaderWrapped(t, func() bool { return true }, func(f *FSM) raft.FSM {
		h := &heldFSM{FSM: f, holding: make(chan struct{}), release: make(chan struct{})}
		mu.Lock()
		held[f] = h
		mu.Unlock()
		return h
	})
	h := held[l.fsm]
	var released sync.Once
	release := func() { released.Do(func() { close(h.release) }) }
	t.Cleanup(release) // before the group shuts down, should the test fail
	h.hold.Store(true)
	first := l.r.LastIndex() + 1
	var wg sync.WaitGroup
	results := make([]proposalResult, 2)
	wg.Go(func() { results[0] = b.propose(cmdBytes(t, acceptCmd(10))) })
	<-h.holding // the first entry is applied here, its answer held
	wg.Go(func() { results[1] = b.propose(cmdBytes(t, acceptCmd(10))) })
	require.Eventually(t, func() bool { return l.r.LastIndex() == first+1 }, 10*time.Second, time.Millisecond,
		"the second entry is put into the log while the first is held")
	for _, m := range ms {
		if m != l {
			require.Eventually(t, func() bool { return m.st.Applied() == first+1 }, 10*time.Second, time.Millisecond,
				"and committed: a follower applies it")
		}
	}
	release()
	wg.Wait()
	for i, r := range results {
		require.NoError(t, r.err)
		require.NoError(t, r.Err)
		require.Equal(t, first+uint64(i), r.index)
	}
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.flying) == 0
	}, 10*time.Second, time.Millisecond, "nothing is left in flight")
}

// TestTheBatcherSendsOneByOneUntilMembersReadBatches: while a member may
// not read batch entries, the commands waiting go in entries of their own.
func TestTheBatcherSendsOneByOneUntilMembersReadBatches(t *testing.T) {
	_, l, b := batcherAtLeader(t, func() bool { return false })
	b.slots <- struct{}{}
	before := l.r.LastIndex()
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		data := cmdBytes(t, acceptCmd(10))
		wg.Go(func() {
			r := b.propose(data)
			require.NoError(t, r.err)
			require.NoError(t, r.Err)
		})
	}
	require.Eventually(t, func() bool { return b.pending() == 5 }, 10*time.Second, time.Millisecond)
	<-b.slots
	wg.Wait()
	require.Equal(t, before+5, l.r.LastIndex())
}

// TestALeaderCutOffMidWriteSaysRetryUnderTheSameKey: a leader cut off
// from the others while a write is on its way steps down; the write may
// or may not be committed by the next leader, and its client is told to
// ask again under the same idempotency key (Unavailable), not that the
// store closed.
func TestALeaderCutOffMidWriteSaysRetryUnderTheSameKey(t *testing.T) {
	ms, l, b := batcherAtLeader(t, func() bool { return true })
	l.trans.DisconnectAll()
	res := b.propose(cmdBytes(t, acceptCmd(10)))
	require.ErrorIs(t, res.err, raft.ErrLeadershipLost, "appended here, not committed")

	err := rpc.ConnectError(raftWriteError(res.err))
	require.ErrorIs(t, err, store.ErrLeaderChanged)
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err))
	require.Contains(t, err.Error(), "同一幂等键")
	require.NotErrorIs(t, err, store.ErrClosed)

	leaderOf(t, ms, l) // the others go on without it

	// A member shutting down is another matter: the write never went in.
	err = rpc.ConnectError(raftWriteError(raft.ErrRaftShutdown))
	require.ErrorIs(t, err, store.ErrClosed)
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err))
}
