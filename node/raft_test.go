package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/internal/testseed"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

var (
	logOf     = testseed.LogOf
	acceptCmd = testseed.AcceptCmd
)

func freshStore(t testing.TB, dir string) *solo {
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := openSolo(soloConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), Member: true})
	require.NoError(t, err)
	return st
}

var groupIdentity = &pb.Command{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_Identity{Identity: &pb.Identity{NodeId: "c0c0c0c0c0c0c0c0", Epoch: 7}}}

// TestFSMFedRawLogs feeds the state machine committed entries directly, as
// raft would, and checks the results, exact replay and determinism.
func TestFSMFedRawLogs(t *testing.T) {
	dir := t.TempDir()
	st := freshStore(t, dir)
	fsm := newFSM(st)
	logs := []*raft.Log{
		logOf(t, 1, groupIdentity),
		logOf(t, 2, &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}),
		logOf(t, 3, acceptCmd(10)),
		{Index: 4, Term: 1, Type: raft.LogCommand, Data: []byte{0xff, 0x01}}, // garbage
		{Index: 5, Term: 1, Type: raft.LogNoop},
		logOf(t, 6, acceptCmd(11)),
		logOf(t, 7, &pb.Command{NowMs: at("2026-11-23", 12).UnixMilli(), Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: "330324-20261123-000001", Approve: true}}}),
		logOf(t, 8, &pb.Command{NowMs: at("2026-11-23", 12).UnixMilli(), Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: "330324-20261123-000099", Approve: true}}}),
	}
	res := append(fsm.ApplyBatch(logs[:3]), fsm.ApplyBatch(logs[3:])...)
	require.NoError(t, res[2].(cluster.FSMResult).Err)
	require.Equal(t, "330324-20261123-000001", res[2].(cluster.FSMResult).Out.(*pb.Application).GetId())
	require.ErrorIs(t, res[3].(cluster.FSMResult).Err, store.ErrInvalidArgument, "a garbage entry is refused, alike everywhere")
	require.ErrorIs(t, res[7].(cluster.FSMResult).Err, store.ErrNotFound, "a refused command is a result, not a failure")
	require.Equal(t, rules.StateApproved, res[6].(cluster.FSMResult).Out.(*pb.Application).GetState())
	require.Equal(t, "c0c0c0c0c0c0c0c0", st.NodeID(), "the group's identity")
	require.Equal(t, uint64(8), st.Applied())
	evs, err := st.Events(0, 1000)
	require.NoError(t, err)
	for _, ev := range evs {
		require.Equal(t, "c0c0c0c0c0c0c0c0", ev.GetOrigin())
	}
	head := st.FeedHead()

	// Replayed after a restart: nothing applied twice.
	fsm.ApplyBatch(logs)
	require.Equal(t, head, st.FeedHead())
	require.NoError(t, st.Close())
	st = freshStore(t, dir)
	defer st.Close()
	require.Equal(t, uint64(8), st.Applied())
	require.Equal(t, "c0c0c0c0c0c0c0c0", st.NodeID())
	newFSM(st).ApplyBatch(logs)
	require.Equal(t, head, st.FeedHead())
	_, err = st.Verify()
	require.NoError(t, err)

	// Another member fed the same log holds the same events.
	other := freshStore(t, "")
	defer other.Close()
	newFSM(other).ApplyBatch(logs)
	evs2, err := other.Events(0, 1000)
	require.NoError(t, err)
	require.Equal(t, len(evs), len(evs2))
	for i := range evs {
		require.Equal(t, evs[i].GetHash(), evs2[i].GetHash(), "event %d", i)
	}
}

// member is one county store under raft, on an in-memory transport.
type member struct {
	st    *solo
	fsm   *cluster.FSM
	r     *raft.Raft
	trans *raft.InmemTransport
	addr  raft.ServerAddress
}

func makeCluster(t *testing.T, n int) []*member { return makeClusterWrapped(t, n, nil) }

// makeClusterWrapped is makeCluster with each member's state machine
// wrapped by wrap (nil: none).
func makeClusterWrapped(t *testing.T, n int, wrap func(*cluster.FSM) raft.FSM) []*member {
	var ms []*member
	var servers []raft.Server
	for i := 0; i < n; i++ {
		addr, trans := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("m%d", i)))
		ms = append(ms, &member{st: freshStore(t, ""), trans: trans, addr: addr})
		servers = append(servers, raft.Server{ID: raft.ServerID(addr), Address: addr, Suffrage: raft.Voter})
	}
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
	for _, m := range ms {
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(m.addr)
		conf.HeartbeatTimeout, conf.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
		conf.LeaderLeaseTimeout, conf.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
		conf.SnapshotThreshold, conf.TrailingLogs, conf.SnapshotInterval = 40, 10, 50*time.Millisecond
		conf.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}, Name: string(m.addr)})
		logs := raft.NewInmemStore()
		// The file snapshot store, as in production: raft's in-memory one
		// lets a snapshot be read while it is still being written.
		snaps, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 2, conf.Logger)
		require.NoError(t, err)
		m.fsm = newFSM(m.st)
		var fsm raft.FSM = m.fsm
		if wrap != nil {
			fsm = wrap(m.fsm)
		}
		r, err := raft.NewRaft(conf, fsm, logs, logs, snaps, m.trans)
		require.NoError(t, err)
		m.r = r
	}
	require.NoError(t, ms[0].r.BootstrapCluster(raft.Configuration{Servers: servers}).Error())
	t.Cleanup(func() {
		for _, m := range ms {
			m.r.Shutdown().Error()
			m.st.Close()
		}
	})
	return ms
}

func leaderOf(t *testing.T, ms []*member, except *member) *member {
	var l *member
	require.Eventually(t, func() bool {
		for _, m := range ms {
			if m != except && m.r.State() == raft.Leader {
				l = m
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "a leader is elected")
	return l
}

// propose follows the leader as a client would: an entry refused because
// the member is not (or no longer) the leader is proposed again to the
// current one. (After a lost leadership the entry may or may not have been
// committed; callers count with that.)
func propose(t *testing.T, ms []*member, except *member, cmd *pb.Command) cluster.FSMResult {
	b, err := proto.Marshal(cmd)
	require.NoError(t, err)
	for try := 0; try < 20; try++ {
		l := leaderOf(t, ms, except)
		f := l.r.Apply(b, 5*time.Second)
		err := f.Error()
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		require.NoError(t, err)
		return f.Response().(cluster.FSMResult)
	}
	t.Fatal("no leader took the entry")
	return cluster.FSMResult{}
}

// feeds is what sameFeeds reads: a store, alone or with its rules.
type feeds interface {
	FeedHead() uint64
	Events(from uint64, limit int) ([]*pb.Event, error)
}

func sameFeeds(a, b feeds) bool {
	if a.FeedHead() != b.FeedHead() {
		return false
	}
	ea, err1 := a.Events(0, 1<<20)
	eb, err2 := b.Events(0, 1<<20)
	if err1 != nil || err2 != nil || len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		if string(ea[i].GetHash()) != string(eb[i].GetHash()) {
			return false
		}
	}
	return true
}

// TestRaftGroupKeepsOneFeed: three members over the real FSM; the leader
// is cut off, the others go on, and the old leader, far behind, catches up
// from a snapshot. Every member ends with the same feed, event for event.
func TestRaftGroupKeepsOneFeed(t *testing.T) {
	ms := makeCluster(t, 3)
	require.NoError(t, propose(t, ms, nil, groupIdentity).Err)
	require.NoError(t, propose(t, ms, nil, &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}).Err)
	for i := 0; i < 10; i++ {
		require.NoError(t, propose(t, ms, nil, acceptCmd(10)).Err)
	}
	l := leaderOf(t, ms, nil)
	for _, m := range ms {
		require.Eventually(t, func() bool { return sameFeeds(l.st, m.st) }, 10*time.Second, 10*time.Millisecond)
	}

	// Cut the leader off; the two others elect a new one and go on.
	old := l
	old.trans.DisconnectAll()
	for _, m := range ms {
		if m != old {
			m.trans.Disconnect(old.addr)
		}
	}
	for i := 0; i < 60; i++ { // past the snapshot threshold: logs are truncated
		res := propose(t, ms, old, acceptCmd(11))
		require.NoError(t, res.Err)
	}
	l = leaderOf(t, ms, old)
	require.NoError(t, l.r.Snapshot().Error())

	// Back: it cannot replay truncated logs and installs a snapshot.
	for _, m := range ms {
		if m != old {
			old.trans.Connect(m.addr, m.trans)
			m.trans.Connect(old.addr, old.trans)
		}
	}
	for _, m := range ms {
		if !waitFor(20*time.Second, func() bool { return sameFeeds(leaderOf(t, ms, nil).st, m.st) }) {
			for _, x := range ms {
				t.Logf("%s: state %s head %d applied %d stats %v", x.addr, x.r.State(), x.st.FeedHead(), x.st.Applied(), x.r.Stats())
			}
			t.Fatalf("member %s did not catch up", m.addr)
		}
	}
	require.NotEqual(t, "0", old.r.Stats()["last_snapshot_index"], "the old leader installed a snapshot (Restore), not a log replay")
	require.Equal(t, "c0c0c0c0c0c0c0c0", old.st.NodeID())
	require.Equal(t, l.st.Applied(), old.st.Applied())
	for _, m := range ms {
		_, err := m.st.Verify()
		require.NoError(t, err)
	}
	as, total, err := old.st.ListApplications(rules.AppFilter{Limit: 1000})
	require.NoError(t, err)
	require.GreaterOrEqual(t, total, 70, "every acknowledged acceptance (a lost leadership may add one)")
	require.NotEmpty(t, as)
}

// testWriter sends raft's error log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// TestAFailedSnapshotLoadHaltsTheMember: a snapshot that cannot be loaded
// whole leaves the store half loaded (and marked so): the state machine
// stops applying and tells the node, which stops the member, for its
// restart to clear the store and load the snapshot again.
func TestAFailedSnapshotLoadHaltsTheMember(t *testing.T) {
	src := freshStore(t, "")
	newFSM(src).ApplyBatch([]*raft.Log{logOf(t, 1, groupIdentity),
		logOf(t, 2, &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}),
		logOf(t, 3, acceptCmd(10))})
	var snap bytes.Buffer
	require.NoError(t, src.Backup(&snap))
	require.NoError(t, src.Close())

	dir := t.TempDir()
	st := freshStore(t, dir)
	fsm := newFSM(st)
	var told error
	fsm.OnHalt(func(err error) { told = err })
	err := fsm.Restore(io.NopCloser(io.MultiReader(bytes.NewReader(snap.Bytes()[:snap.Len()-1]), iotest.ErrReader(io.ErrUnexpectedEOF))))
	require.ErrorIs(t, err, store.ErrHalfRestored)
	require.ErrorIs(t, told, store.ErrHalfRestored, "the node is told")
	require.ErrorIs(t, fsm.Halted(), store.ErrHalfRestored)
	out := fsm.ApplyBatch([]*raft.Log{logOf(t, 4, acceptCmd(11))})
	require.ErrorIs(t, out[0].(cluster.FSMResult).Err, store.ErrHalfRestored, "nothing more is applied")
	require.FileExists(t, filepath.Join(dir, store.RestoreMark))
	require.NoError(t, st.Close())

	// Restarted: cleared, and the snapshot loads whole.
	st = freshStore(t, dir)
	require.Zero(t, st.Applied())
	fsm = newFSM(st)
	require.NoError(t, fsm.Restore(io.NopCloser(bytes.NewReader(snap.Bytes()))))
	require.NoError(t, fsm.Halted())
	require.Equal(t, uint64(3), st.Applied())
	require.NoFileExists(t, filepath.Join(dir, store.RestoreMark))
	require.NoError(t, st.Close())
}
