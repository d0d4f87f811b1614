package node

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	badger "github.com/dgraph-io/badger/v4"
	bpb "github.com/dgraph-io/badger/v4/pb"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
)

func cmdBytes(t testing.TB, cmd *pb.Command) []byte {
	b, err := proto.Marshal(cmd)
	require.NoError(t, err)
	return b
}

// batchOf is a log entry holding the given commands as one CommandBatch.
func batchOf(t testing.TB, index uint64, parts ...[]byte) *raft.Log {
	return logOf(t, index, &pb.Command{Op: &pb.Command_Batch{Batch: &pb.CommandBatch{Commands: parts}}})
}

func unknownMatterCmd(hour int) *pb.Command {
	cmd := acceptCmd(hour)
	cmd.GetAccept().MatterCode = "GA-999"
	return cmd
}

var groupSetup = func(t testing.TB) []*raft.Log {
	return []*raft.Log{logOf(t, 1, groupIdentity),
		logOf(t, 2, &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}})}
}

// TestABatchEntryAppliesEachCommand: the commands of a batch entry are
// applied in order, each with its own result; a refused or unreadable one
// refuses only itself; the events are those the same commands make in
// entries of their own.
func TestABatchEntryAppliesEachCommand(t *testing.T) {
	st := freshStore(t, "")
	defer st.Close()
	fsm := NewFSM(st)
	fsm.ApplyBatch(groupSetup(t))
	nested := cmdBytes(t, &pb.Command{Op: &pb.Command_Batch{Batch: &pb.CommandBatch{Commands: [][]byte{cmdBytes(t, acceptCmd(10))}}}})
	logs := []*raft.Log{
		batchOf(t, 3, cmdBytes(t, acceptCmd(10)), cmdBytes(t, unknownMatterCmd(10)), []byte{0xff, 0x01}, nested, cmdBytes(t, acceptCmd(11))),
		logOf(t, 4, acceptCmd(12)),
	}
	res := fsm.ApplyBatch(logs)
	br, ok := res[0].(BatchResult)
	require.True(t, ok, "a batch entry answers a BatchResult, got %T", res[0])
	require.Len(t, br, 5)
	require.NoError(t, br[0].Err)
	require.Equal(t, "330324-20261123-000001", br[0].Out.(*pb.Application).GetId())
	require.ErrorIs(t, br[1].Err, ErrNotFound, "an unknown matter refuses only its own command")
	require.ErrorIs(t, br[2].Err, ErrInvalidArgument, "an unreadable command is refused, alike on every member")
	require.ErrorIs(t, br[3].Err, ErrInvalidArgument)
	require.Contains(t, br[3].Err.Error(), "command.batch", "a batch inside a batch is refused")
	require.Equal(t, "330324-20261123-000002", br[4].Out.(*pb.Application).GetId())
	require.Equal(t, "330324-20261123-000003", res[1].(FSMResult).Out.(*pb.Application).GetId())
	require.Equal(t, uint64(4), st.Applied())

	// Replayed: nothing applied twice.
	head := st.FeedHead()
	res = fsm.ApplyBatch(logs)
	require.Equal(t, head, st.FeedHead())
	require.Len(t, res[0].(BatchResult), 5)

	// The same commands, an entry each: the same events.
	one := freshStore(t, "")
	defer one.Close()
	NewFSM(one).ApplyBatch(append(groupSetup(t), logOf(t, 3, acceptCmd(10)), logOf(t, 4, unknownMatterCmd(10)),
		logOf(t, 5, acceptCmd(11)), logOf(t, 6, acceptCmd(12))))
	require.True(t, sameFeeds(st, one))
	_, err := st.Verify()
	require.NoError(t, err)
}

// TestABatchEntryCutBetweenCommitsReplaysExactly: a member that committed
// only the first commands of a batch entry when it stopped (the store
// splits a batch too large for one commit) applies exactly the rest when
// the entry is replayed after its restart.
func TestABatchEntryCutBetweenCommitsReplaysExactly(t *testing.T) {
	dir := t.TempDir()
	st := freshStore(t, dir)
	NewFSM(st).ApplyBatch(groupSetup(t))
	cmds := []*pb.Command{acceptCmd(10), acceptCmd(11), acceptCmd(12), acceptCmd(13)}
	var parts [][]byte
	var first []LogEntry
	for i, c := range cmds {
		parts = append(parts, cmdBytes(t, c))
		if i < 2 {
			first = append(first, LogEntry{Index: 3, Part: i + 1, Parts: len(cmds), Cmd: c})
		}
	}
	_, errs := st.ApplyLogs(first)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, uint64(2), st.Applied(), "the entry counts as applied only with its last command")
	require.NoError(t, st.Close())

	st = freshStore(t, dir)
	defer st.Close()
	res := NewFSM(st).ApplyBatch([]*raft.Log{batchOf(t, 3, parts...)})[0].(BatchResult)
	require.Nil(t, res[0].Out, "applied before the restart: skipped")
	require.Nil(t, res[1].Out)
	require.Equal(t, "330324-20261123-000003", res[2].Out.(*pb.Application).GetId())
	require.Equal(t, "330324-20261123-000004", res[3].Out.(*pb.Application).GetId())
	require.Equal(t, uint64(3), st.Applied())

	whole := freshStore(t, "")
	defer whole.Close()
	NewFSM(whole).ApplyBatch(append(groupSetup(t), batchOf(t, 3, parts...)))
	require.True(t, sameFeeds(st, whole), "cut and replayed, the same events as applied at once")
}

// smallMemtableMember is a member's store with 16 MiB memtables, a
// quarter of a member's: badger's limit on one commit, a share of the
// memtable, falls within 6,000 commands.
func smallMemtableMember(t *testing.T) *Store {
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
	require.Greater(t, n*5, int(st.db.MaxBatchCount()), "the batch needs more than one commit")
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
	st.mu.Lock()
	require.Zero(t, st.state.partOf, "no entry left partly applied")
	st.mu.Unlock()
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
		subscribed <- st.db.Subscribe(ctx, func(kvs *badger.KVList) error {
			mu.Lock()
			defer mu.Unlock()
			for _, kv := range kvs.GetKv() {
				m := commits[kv.GetVersion()]
				if m == nil {
					m = &mark{}
					commits[kv.GetVersion()] = m
				}
				switch string(kv.GetKey()) {
				case metaFeedHead:
					m.head = beUint64(kv.GetValue())
				case metaApplied:
					m.applied = beUint64(kv.GetValue())
				case metaAppliedPart:
					m.partOf, m.partsDone = beUint64(kv.GetValue()[:8]), beUint64(kv.GetValue()[8:])
				}
			}
			return nil
		}, []bpb.Match{{Prefix: []byte("m/")}, {Prefix: []byte("zz/")}})
	}()
	// Subscribed once a write of its own is seen.
	require.Eventually(t, func() bool {
		require.NoError(t, st.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("zz/ping"), nil) }))
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
			require.ErrorIs(t, r.Err, ErrNotFound)
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
			require.ErrorIs(t, r.Err, ErrInvalidArgument)
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

// TestABatchCannotBeProposed: only the leader's batcher makes batches; a
// client's batch is refused at a member and at a single node alike.
func TestABatchCannotBeProposed(t *testing.T) {
	clock := &testClock{}
	clock.Set(at("2026-11-23", 9))
	m := startMember(t, clock, true, nil)
	batch := &pb.Command{NowMs: clock.Now().UnixMilli(), Op: &pb.Command_Batch{Batch: &pb.CommandBatch{Commands: [][]byte{cmdBytes(t, acceptCmd(10))}}}}
	cs := jiujinv1connect.NewClusterServiceClient(m.hc, m.URL())
	require.Eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, 10*time.Second, 10*time.Millisecond)
	_, err := cs.Propose(context.Background(), connect.NewRequest(&pb.ProposeRequest{Command: cmdBytes(t, batch)}))
	requireCode(t, err, connect.CodeInvalidArgument, "command.batch")

	st := freshStore(t, "")
	defer st.Close()
	_, err = st.Apply(context.Background(), batch)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Contains(t, err.Error(), "command.batch")
}

// FuzzFSMEntry feeds the state machine entries of arbitrary bytes, alone
// or as the two commands of a batch: it answers each command, counts a
// batch entry applied whatever its commands hold, and the store stays
// consistent with its events. A command of a later release halts it
// there: the batch entry is then not counted applied.
func FuzzFSMEntry(f *testing.F) {
	st := freshStore(f, "")
	f.Cleanup(func() { st.Close() })
	NewFSM(st).ApplyBatch(groupSetup(f))
	f.Add(cmdBytes(f, acceptCmd(10)), cmdBytes(f, unknownMatterCmd(10)), true)
	f.Add([]byte{0xff, 0x01}, []byte{}, false)
	f.Add(batchOf(f, 0, cmdBytes(f, acceptCmd(10))).Data, cmdBytes(f, acceptCmd(11)), true)
	f.Add(batchOf(f, 0, cmdBytes(f, acceptCmd(10)), []byte{0x0a}).Data, []byte(nil), false)
	f.Add(cmdBytes(f, acceptCmd(10)), laterCmd(f), true)
	index := st.Applied()
	f.Fuzz(func(t *testing.T, a, b []byte, batch bool) {
		index++
		l := &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: a}
		if batch {
			l = batchOf(t, index, a, b)
		}
		res := NewFSM(st).ApplyBatch([]*raft.Log{l})
		require.Len(t, res, 1)
		switch r := res[0].(type) {
		case BatchResult:
			if batch {
				require.Len(t, r, 2)
				if errors.Is(r[0].Err, ErrLaterRelease) || errors.Is(r[1].Err, ErrLaterRelease) {
					require.Less(t, st.Applied(), index, "halted at a later release's command")
					break
				}
				require.Equal(t, index, st.Applied(), "a batch entry is applied with its last command")
			}
		case FSMResult:
			require.False(t, batch)
		default:
			t.Fatalf("result %T", r)
		}
		_, err := st.Verify()
		require.NoError(t, err)
	})
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

// oldRelease answers cluster status as a member of an earlier release:
// it does not say it reads batch entries.
type oldRelease struct {
	jiujinv1connect.UnimplementedClusterServiceHandler
}

func (oldRelease) GetClusterStatus(context.Context, *connect.Request[pb.GetClusterStatusRequest]) (*connect.Response[pb.GetClusterStatusResponse], error) {
	return connect.NewResponse(&pb.GetClusterStatusResponse{State: "Follower"}), nil
}

// TestALeaderBatchesOnlyOnceEveryMemberReadsBatches: a member of an
// earlier release, or one never heard from, keeps the leader from
// batching; a member that said it reads batches and is down for a while
// does not.
func TestALeaderBatchesOnlyOnceEveryMemberReadsBatches(t *testing.T) {
	clock := &testClock{}
	clock.Set(at("2026-11-23", 9))
	a := startMember(t, clock, true, nil)
	b := startMember(t, clock, false, []string{a.URL()})
	require.Eventually(t, func() bool { return a.cluster.batching.Load() }, 20*time.Second, 20*time.Millisecond,
		"both members read batches: the leader batches")
	require.Eventually(t, func() bool { return b.cluster.batching.Load() }, 20*time.Second, 20*time.Millisecond,
		"the follower knows it too, should it be elected while the other is down")

	mux := http.NewServeMux()
	mux.Handle(jiujinv1connect.NewClusterServiceHandler(oldRelease{}))
	old := httptest.NewUnstartedServer(mux)
	old.Config.Protocols = new(http.Protocols)
	old.Config.Protocols.SetHTTP1(true)
	old.Config.Protocols.SetUnencryptedHTTP2(true)
	old.Start()
	defer old.Close()
	ctx := context.Background()
	c := a.cluster
	require.False(t, c.checkReaders(ctx, []string{b.URL(), old.URL}), "a member of an earlier release")
	require.True(t, c.checkReaders(ctx, []string{b.URL()}))
	require.False(t, c.checkReaders(ctx, []string{b.URL(), "http://127.0.0.1:1"}), "a member never heard from")
	require.NoError(t, b.Shutdown(ctx))
	require.True(t, c.checkReaders(ctx, []string{b.URL()}), "a member away counts as it last said")
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

	err := connectError(raftWriteError(res.err))
	require.ErrorIs(t, err, ErrLeaderChanged)
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err))
	require.Contains(t, err.Error(), "同一幂等键")
	require.NotErrorIs(t, err, ErrClosed)

	leaderOf(t, ms, l) // the others go on without it

	// A member shutting down is another matter: the write never went in.
	err = connectError(raftWriteError(raft.ErrRaftShutdown))
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err))
}
