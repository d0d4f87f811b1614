package node

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/store"
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
	fsm := newFSM(st)
	fsm.ApplyBatch(groupSetup(t))
	nested := cmdBytes(t, &pb.Command{Op: &pb.Command_Batch{Batch: &pb.CommandBatch{Commands: [][]byte{cmdBytes(t, acceptCmd(10))}}}})
	logs := []*raft.Log{
		batchOf(t, 3, cmdBytes(t, acceptCmd(10)), cmdBytes(t, unknownMatterCmd(10)), []byte{0xff, 0x01}, nested, cmdBytes(t, acceptCmd(11))),
		logOf(t, 4, acceptCmd(12)),
	}
	res := fsm.ApplyBatch(logs)
	br, ok := res[0].(cluster.BatchResult)
	require.True(t, ok, "a batch entry answers a cluster.BatchResult, got %T", res[0])
	require.Len(t, br, 5)
	require.NoError(t, br[0].Err)
	require.Equal(t, "330324-20261123-000001", br[0].Out.(*pb.Application).GetId())
	require.ErrorIs(t, br[1].Err, store.ErrNotFound, "an unknown matter refuses only its own command")
	require.ErrorIs(t, br[2].Err, store.ErrInvalidArgument, "an unreadable command is refused, alike on every member")
	require.ErrorIs(t, br[3].Err, store.ErrInvalidArgument)
	require.Contains(t, br[3].Err.Error(), "command.batch", "a batch inside a batch is refused")
	require.Equal(t, "330324-20261123-000002", br[4].Out.(*pb.Application).GetId())
	require.Equal(t, "330324-20261123-000003", res[1].(cluster.FSMResult).Out.(*pb.Application).GetId())
	require.Equal(t, uint64(4), st.Applied())

	// Replayed: nothing applied twice.
	head := st.FeedHead()
	res = fsm.ApplyBatch(logs)
	require.Equal(t, head, st.FeedHead())
	require.Len(t, res[0].(cluster.BatchResult), 5)

	// The same commands, an entry each: the same events.
	one := freshStore(t, "")
	defer one.Close()
	newFSM(one).ApplyBatch(append(groupSetup(t), logOf(t, 3, acceptCmd(10)), logOf(t, 4, unknownMatterCmd(10)),
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
	newFSM(st).ApplyBatch(groupSetup(t))
	cmds := []*pb.Command{acceptCmd(10), acceptCmd(11), acceptCmd(12), acceptCmd(13)}
	var parts [][]byte
	var first []store.LogEntry
	for i, c := range cmds {
		parts = append(parts, cmdBytes(t, c))
		if i < 2 {
			first = append(first, store.LogEntry{Index: 3, Part: i + 1, Parts: len(cmds), Cmd: c})
		}
	}
	_, errs := st.ApplyLogs(first)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, uint64(2), st.Applied(), "the entry counts as applied only with its last command")
	require.NoError(t, st.Close())

	st = freshStore(t, dir)
	defer st.Close()
	res := newFSM(st).ApplyBatch([]*raft.Log{batchOf(t, 3, parts...)})[0].(cluster.BatchResult)
	require.Nil(t, res[0].Out, "applied before the restart: skipped")
	require.Nil(t, res[1].Out)
	require.Equal(t, "330324-20261123-000003", res[2].Out.(*pb.Application).GetId())
	require.Equal(t, "330324-20261123-000004", res[3].Out.(*pb.Application).GetId())
	require.Equal(t, uint64(3), st.Applied())

	whole := freshStore(t, "")
	defer whole.Close()
	newFSM(whole).ApplyBatch(append(groupSetup(t), batchOf(t, 3, parts...)))
	require.True(t, sameFeeds(st, whole), "cut and replayed, the same events as applied at once")
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
	require.ErrorIs(t, err, store.ErrInvalidArgument)
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
	newFSM(st).ApplyBatch(groupSetup(f))
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
		res := newFSM(st).ApplyBatch([]*raft.Log{l})
		require.Len(t, res, 1)
		switch r := res[0].(type) {
		case cluster.BatchResult:
			if batch {
				require.Len(t, r, 2)
				if errors.Is(r[0].Err, store.ErrLaterRelease) || errors.Is(r[1].Err, store.ErrLaterRelease) {
					require.Less(t, st.Applied(), index, "halted at a later release's command")
					break
				}
				require.Equal(t, index, st.Applied(), "a batch entry is applied with its last command")
			}
		case cluster.FSMResult:
			require.False(t, batch)
		default:
			t.Fatalf("result %T", r)
		}
		_, err := st.Verify()
		require.NoError(t, err)
	})
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
	require.Eventually(t, func() bool { return a.cluster.Batching() }, 20*time.Second, 20*time.Millisecond,
		"both members read batches: the leader batches")
	require.Eventually(t, func() bool { return b.cluster.Batching() }, 20*time.Second, 20*time.Millisecond,
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
	require.False(t, c.CheckReaders(ctx, []string{b.URL(), old.URL}), "a member of an earlier release")
	require.True(t, c.CheckReaders(ctx, []string{b.URL()}))
	require.False(t, c.CheckReaders(ctx, []string{b.URL(), "http://127.0.0.1:1"}), "a member never heard from")
	require.NoError(t, b.Shutdown(ctx))
	require.True(t, c.CheckReaders(ctx, []string{b.URL()}), "a member away counts as it last said")
}
