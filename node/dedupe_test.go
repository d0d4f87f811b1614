package node

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/sync"
)

// TestRequestIDAppliesOnce feeds the state machine the same command twice
// under one request id: the repeat returns the first output and writes
// nothing. A refused command is not remembered; ids are pruned after their
// retention.
func TestRequestIDAppliesOnce(t *testing.T) {
	st := freshStore(t, "")
	defer st.Close()
	fsm := newFSM(st)
	withID := func(cmd *pb.Command, id string) *pb.Command {
		c := proto.CloneOf(cmd)
		c.RequestId = id
		return c
	}
	hour := func(h int) int64 { return at("2026-11-23", h).UnixMilli() }
	supplement := &pb.Command{NowMs: hour(11), Actor: "窗口", Op: &pb.Command_RequestSupplement{RequestSupplement: &pb.RequestSupplementRequest{
		Id: "330324-20261123-000001", Materials: []string{"近期一寸免冠证件照"}, Reason: "照片不清晰"}}}
	res := fsm.ApplyBatch([]*raft.Log{
		logOf(t, 1, groupIdentity),
		logOf(t, 2, &pb.Command{NowMs: hour(9), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}),
		logOf(t, 3, withID(acceptCmd(10), "a1")),
		logOf(t, 4, withID(acceptCmd(10), "a1")), // the same, in the same batch
		logOf(t, 5, withID(supplement, "s1")),
	})
	first := res[2].(cluster.FSMResult)
	require.NoError(t, first.Err)
	require.True(t, proto.Equal(first.Out, res[3].(cluster.FSMResult).Out), "the repeat answers with the first output")
	require.NoError(t, res[4].(cluster.FSMResult).Err)
	head := st.FeedHead()

	// A later batch: the repeat still writes nothing.
	res = fsm.ApplyBatch([]*raft.Log{logOf(t, 6, withID(acceptCmd(12), "a1")), logOf(t, 7, withID(supplement, "s1"))})
	require.Equal(t, first.Out.(*pb.Application).GetId(), res[0].(cluster.FSMResult).Out.(*pb.Application).GetId())
	require.NoError(t, res[1].(cluster.FSMResult).Err, "the supplement request is answered as it was the first time")
	require.Equal(t, head, st.FeedHead())
	n, _, err := st.ListApplications(rules.AppFilter{})
	require.NoError(t, err)
	require.Len(t, n, 1)

	// A refusal is not remembered: the same id may be tried again.
	res = fsm.ApplyBatch([]*raft.Log{logOf(t, 8, withID(supplement, "s2"))})
	require.ErrorIs(t, res[0].(cluster.FSMResult).Err, store.ErrFailedPrecondition, "already waiting for the supplement")
	res = fsm.ApplyBatch([]*raft.Log{
		logOf(t, 9, &pb.Command{NowMs: hour(13), Op: &pb.Command_Supply{Supply: &pb.SupplyMaterialsRequest{Id: "330324-20261123-000001", Materials: []string{"近期一寸免冠证件照"}}}}),
		logOf(t, 10, withID(supplement, "s2")),
	})
	require.NoError(t, res[1].(cluster.FSMResult).Err, "tried again after the refusal, and applied")

	// Too long an id is refused, naming the field.
	res = fsm.ApplyBatch([]*raft.Log{logOf(t, 11, withID(acceptCmd(14), strings.Repeat("x", 65)))})
	require.ErrorIs(t, res[0].(cluster.FSMResult).Err, store.ErrInvalidArgument)
	require.ErrorContains(t, res[0].(cluster.FSMResult).Err, "request_id")

	// Two hours later, a command with an id prunes the old ones: "a1" is
	// a new request again.
	late := withID(acceptCmd(10), "a1")
	late.NowMs = at("2026-11-23", 16).UnixMilli()
	prune := withID(acceptCmd(10), "p1")
	prune.NowMs = late.NowMs
	res = fsm.ApplyBatch([]*raft.Log{logOf(t, 12, prune), logOf(t, 13, late)})
	require.NoError(t, res[1].(cluster.FSMResult).Err)
	require.NotEqual(t, first.Out.(*pb.Application).GetId(), res[1].(cluster.FSMResult).Out.(*pb.Application).GetId())
}

// loseFirstProposeAnswer lets Propose calls through but loses the answer
// to the first one: the leader has committed the write, the member that
// handed it over does not know.
type loseFirstProposeAnswer struct {
	base http.RoundTripper
	lost atomic.Bool
	// meanwhile, if set, runs after the leader answered and before the
	// answer is lost.
	meanwhile func()
}

func (l *loseFirstProposeAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.base.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/Propose") && l.lost.CompareAndSwap(false, true) {
		res.Body.Close()
		if l.meanwhile != nil {
			l.meanwhile()
		}
		return nil, errors.New("connection reset (injected)")
	}
	return res, err
}

// TestHandedOverWriteAppliesOnce: a follower hands an acceptance to the
// leader and loses the answer, so it hands it over again; and the same
// when, meanwhile, the leadership passes to the follower itself, which
// must then propose the command under the same request id. Either way:
// one application, and the window gets it.
func TestHandedOverWriteAppliesOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		elected bool
	}{
		{"the answer is lost", false},
		{"the answer is lost and the follower is elected", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := &testClock{t: at("2026-11-23", 10)}
			m1 := startMember(t, clock, true, nil)
			eventually(t, func() bool { return clusterStatus(t, m1).GetLeader() == m1.URL() }, "the first member leads")
			lossy := &loseFirstProposeAnswer{base: sync.HTTPClient(nil).Transport}
			m2 := startMemberWith(t, clock, &cluster.RaftConfig{Join: []string{m1.URL()}, Transport: lossy})
			members := []*testNode{m1, m2}
			if tc.elected {
				members = append(members, startMember(t, clock, false, []string{m1.URL()}))
			}
			eventually(t, func() bool { return len(clusterStatus(t, m2).GetMembers()) == len(members) }, "all members")
			_, err := m1.catalog.ImportCatalog(ctx, req(seedCatalog(t)))
			require.NoError(t, err)
			if tc.elected {
				lossy.meanwhile = func() {
					c := m2.cluster
					require.NoError(t, m1.cluster.Raft().LeadershipTransferToServer(raft.ServerID(m2.URL()), c.Transport().LocalAddr()).Error())
					eventually(t, func() bool { return c.Raft().State() == raft.Leader }, "the follower is elected")
				}
			}

			a := m2.accept(t, acceptReq())
			require.True(t, lossy.lost.Load(), "the first answer was lost")
			for _, m := range members {
				eventually(t, func() bool { return appOn(m, a.GetId()) != nil }, "the application reaches %s", m.URL())
				as, _, err := m.Rules.ListApplications(rules.AppFilter{})
				require.NoError(t, err)
				require.Len(t, as, 1, "one application at %s", m.URL())
			}
		})
	}
}

// TestIdempotencyKeyAtANode: a client's write repeated with the same key is
// answered as the first time; another key is another write.
func TestIdempotencyKeyAtANode(t *testing.T) {
	ctx := context.Background()
	n := startTestNode(t, "330324", "", nil)
	_, err := n.catalog.ImportCatalog(ctx, req(seedCatalog(t)))
	require.NoError(t, err)
	call := func(key string) *pb.Application {
		r := req(acceptReq())
		r.Header().Set(rpc.IdempotencyHeader, key)
		res, err := n.apps.AcceptApplication(ctx, r)
		require.NoError(t, err)
		return res.Msg.GetApplication()
	}
	a, b, c := call("k1"), call("k1"), call("k2")
	require.Equal(t, a.GetId(), b.GetId())
	require.NotEqual(t, a.GetId(), c.GetId())
	as, _, err := n.Rules.ListApplications(rules.AppFilter{})
	require.NoError(t, err)
	require.Len(t, as, 2)

	r := req(acceptReq())
	r.Header().Set(rpc.IdempotencyHeader, strings.Repeat("k", 70))
	_, err = n.apps.AcceptApplication(ctx, r)
	requireCode(t, err, 3 /* invalid_argument */, "request_id")

	// The same key for another request: refused, not answered as the
	// first, and nothing is written.
	other := acceptReq()
	other.Applicant.Name = "李建国"
	r = req(other)
	r.Header().Set(rpc.IdempotencyHeader, "k1")
	_, err = n.apps.AcceptApplication(ctx, r)
	requireCode(t, err, connect.CodeFailedPrecondition, "Idempotency-Key")
	as, _, err = n.Rules.ListApplications(rules.AppFilter{})
	require.NoError(t, err)
	require.Len(t, as, 2)
}
