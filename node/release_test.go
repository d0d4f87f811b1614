package node

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/store"
)

// laterCmd is a command of a later release: its op is a field (999) this
// release does not know.
func laterCmd(t testing.TB) []byte {
	b := cmdBytes(t, &pb.Command{NowMs: at("2026-11-23", 10).UnixMilli(), Actor: "窗口"})
	b = protowire.AppendTag(b, 999, protowire.BytesType)
	return protowire.AppendBytes(b, []byte("新的命令"))
}

// TestAMemberHaltsAtACommandOfALaterRelease: the state machine applies
// what comes before a command it cannot read, then nothing, and says so
// once; after a restart it stops at the same command, applying nothing
// twice.
func TestAMemberHaltsAtACommandOfALaterRelease(t *testing.T) {
	dir := t.TempDir()
	st := freshStore(t, dir)
	fsm := newFSM(st)
	var told []error
	fsm.OnHalt(func(err error) { told = append(told, err) })
	setup := groupSetup(t)
	fsm.ApplyBatch(setup)
	logs := []*raft.Log{
		logOf(t, 3, acceptCmd(10)),
		batchOf(t, 4, cmdBytes(t, acceptCmd(10)), laterCmd(t), cmdBytes(t, acceptCmd(11))),
		logOf(t, 5, acceptCmd(11)),
	}
	check := func(res []any) {
		t.Helper()
		require.Len(t, res, 3)
		require.NoError(t, res[0].(cluster.FSMResult).Err)
		br := res[1].(cluster.BatchResult)
		require.Len(t, br, 3)
		require.NoError(t, br[0].Err)
		require.ErrorIs(t, br[1].Err, store.ErrLaterRelease)
		require.Contains(t, br[1].Err.Error(), "第 4 条日志的第 2 条命令")
		require.ErrorIs(t, br[2].Err, store.ErrLaterRelease)
		require.ErrorIs(t, res[2].(cluster.FSMResult).Err, store.ErrLaterRelease)
	}
	check(fsm.ApplyBatch(logs))
	require.Len(t, told, 1)
	require.ErrorIs(t, fsm.Halted(), store.ErrLaterRelease)
	require.Equal(t, uint64(3), st.Applied(), "entry 4 is not applied: it stops at its second command")
	head := st.FeedHead()
	// Raft counts entries 4 and 5 as applied; a snapshot filed under 5
	// would hold 3.
	_, err := fsm.Snapshot()
	require.ErrorIs(t, err, store.ErrLaterRelease, "no snapshot once halted")

	// Halted: what comes later is not applied either.
	res := fsm.ApplyBatch([]*raft.Log{logOf(t, 6, acceptCmd(12))})
	require.ErrorIs(t, res[0].(cluster.FSMResult).Err, store.ErrLaterRelease)
	require.Equal(t, uint64(3), st.Applied())
	require.Equal(t, head, st.FeedHead())
	require.Len(t, told, 1, "told once")

	// Restarted, the log replayed from its start: the same stop, nothing
	// applied twice.
	require.NoError(t, st.Close())
	st = freshStore(t, dir)
	defer st.Close()
	again := newFSM(st)
	res = again.ApplyBatch(append(append([]*raft.Log{}, setup...), logs...))
	check(res[len(setup):])
	require.ErrorIs(t, again.Halted(), store.ErrLaterRelease)
	require.Equal(t, uint64(3), st.Applied())
	require.Equal(t, head, st.FeedHead(), "the commands before the stop were not applied again")
	_, err = st.Verify()
	require.NoError(t, err)

	// An entry that is the later command itself.
	other := freshStore(t, "")
	defer other.Close()
	newFSM(other).ApplyBatch(setup)
	res = newFSM(other).ApplyBatch([]*raft.Log{{Index: 3, Term: 1, Type: raft.LogCommand, Data: laterCmd(t)}})
	require.ErrorIs(t, res[0].(cluster.FSMResult).Err, store.ErrLaterRelease)
	require.Contains(t, res[0].(cluster.FSMResult).Err.Error(), "第 3 条日志是更新版本的命令")
	require.Equal(t, uint64(2), other.Applied())
}

// TestALaterCommandIsNotProposed: a command this release cannot read, or
// an empty one, is refused before the log, naming the field.
func TestALaterCommandIsNotProposed(t *testing.T) {
	clock := &testClock{}
	clock.Set(at("2026-11-23", 9))
	m := startMember(t, clock, true, nil)
	require.Eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, 10*time.Second, 10*time.Millisecond)
	c := m.live.Get()
	identityLogged(t, c)
	cs := jiujinv1connect.NewClusterServiceClient(m.hc, m.URL())
	before := c.Raft().LastIndex()
	_, err := cs.Propose(context.Background(), connect.NewRequest(&pb.ProposeRequest{Command: laterCmd(t)}))
	requireCode(t, err, connect.CodeFailedPrecondition, "command.op")
	_, err = cs.Propose(context.Background(), connect.NewRequest(&pb.ProposeRequest{Command: cmdBytes(t, &pb.Command{NowMs: 1})}))
	requireCode(t, err, connect.CodeInvalidArgument, "command.op")
	require.Equal(t, before, c.Raft().LastIndex(), "nothing went into the log")
}

// identityLogged waits until the log of a bootstrapped member holds the
// group's identity, which the member proposes by itself once it leads:
// after that, only what a test proposes goes into the log.
func identityLogged(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	require.Eventually(t, func() bool {
		for i := c.Raft().LastIndex(); i > 0; i-- {
			var l raft.Log
			if c.LogStore().GetLog(i, &l) != nil || l.Type != raft.LogCommand {
				continue
			}
			var cmd pb.Command
			if proto.Unmarshal(l.Data, &cmd) != nil {
				continue
			}
			cmds := [][]byte{l.Data}
			if cmd.GetBatch() != nil {
				cmds = cmd.GetBatch().GetCommands()
			}
			for _, b := range cmds {
				var one pb.Command
				if proto.Unmarshal(b, &one) == nil && one.GetIdentity() != nil {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the group's identity in the log")
}

// TestAMemberMeetingALaterCommandStops: a member whose log holds a
// command of a later release stops serving, and says why.
func TestAMemberMeetingALaterCommandStops(t *testing.T) {
	clock := &testClock{}
	clock.Set(at("2026-11-23", 9))
	m := startMember(t, clock, true, nil)
	require.Eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, 10*time.Second, 10*time.Millisecond)
	c := m.live.Get()
	// Put there as a leader of the later release would.
	f := c.Raft().Apply(laterCmd(t), 5*time.Second)
	require.NoError(t, f.Error())
	require.ErrorIs(t, f.Response().(cluster.FSMResult).Err, store.ErrLaterRelease)
	select {
	case err := <-m.Done():
		require.ErrorIs(t, err, store.ErrLaterRelease)
		require.Contains(t, err.Error(), "请把本成员升级")
	case <-time.After(10 * time.Second):
		t.Fatal("the member goes on serving")
	}
	_, err := jiujinv1connect.NewClusterServiceClient(m.hc, m.URL()).GetClusterStatus(context.Background(), req(&pb.GetClusterStatusRequest{}))
	require.Error(t, err, "no longer served")
	require.Equal(t, raft.Shutdown, c.Raft().State(), "out of the group")
}
