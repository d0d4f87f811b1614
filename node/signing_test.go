package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

// signedBy is ev signed with b's key, as b's node signs what it writes.
func signedBy(t *testing.T, b *auth.Bundle, ev *pb.Event) *pb.Event {
	t.Helper()
	sg, err := auth.NewSigning(b)
	require.NoError(t, err)
	ev.SigAlg, ev.Signer, ev.Signature = sg.Sign(ev.GetHash())
	return ev
}

// quarantineReasons are the reasons n gives for what it quarantined.
func quarantineReasons(t *testing.T, n *testNode) string {
	t.Helper()
	st, err := n.status.GetStatus(context.Background(), connect.NewRequest(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	var out []string
	for _, q := range st.Msg.GetRecentQuarantine() {
		out = append(out, q.GetReason())
	}
	return strings.Join(out, "\n")
}

// TestEventsAreSigned: a node with a certificate signs what it writes; a
// parent applies a child's event only with a good signature by a
// certificate of the county's CA for the event's unit, and quarantines
// the rest with the reason; so does a child for what it pulls.
func TestEventsAreSigned(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	ctx := context.Background()

	// What the county writes itself is signed by its certificate.
	evs, _, err := county.Store.ReadFeed(0, func(*pb.Event, string) bool { return true }, 1, 1<<20)
	require.NoError(t, err)
	require.Equal(t, auth.SigAlg, evs[0].GetSigAlg())
	require.Equal(t, store.Fingerprint(county.Node.cfg.TLS.Leaf.Raw), evs[0].GetSigner())

	town := issueBundle(t, ca, fakeTown, auth.RoleNode)
	hostile := jiujinv1connect.NewSyncServiceClient(nodeClient(t, town), county.URL())
	peer := &pb.Peer{Unit: fakeTown, NodeId: "f00d", Epoch: 1}
	ch := &chain{origin: "f00d"}
	n := 0
	app := func() *pb.Event {
		n++
		id := fakeTown + "-20261123-00000" + string(rune('0'+n))
		a := acceptedAt(fakeTown, "330324")
		a.Application.Id = id
		return ch.event(fakeTown, rules.KindAppAccepted, appKey(id), a)
	}
	var acked uint64
	send := func(ev *pb.Event, certs ...[]byte) *pb.PushResponse {
		t.Helper()
		res, err := hostile.Push(ctx, connect.NewRequest(&pb.PushRequest{Child: peer, Events: []*pb.Event{ev}, Certificates: certs,
			AfterPosition: acked, LastPosition: acked + 1, AckedPosition: acked}))
		require.NoError(t, err)
		acked = res.Msg.GetAckedPosition()
		return res.Msg
	}

	// Signed by the township's own certificate, sent with it: applied.
	res := send(signedBy(t, town, app()), town.Leaf.Raw)
	require.Equal(t, uint32(1), res.GetApplied(), "%v", res)

	other := issueBundle(t, ca, "330324101", auth.RoleNode)
	second := issueBundle(t, ca, fakeTown, auth.RoleNode)
	stranger := issueBundle(t, newTestCA(t, "330324"), fakeTown, auth.RoleNode)
	tampered := signedBy(t, town, app())
	tampered.Actor = "冒名"
	tampered.Hash = store.EventHash(tampered)
	for name, tc := range map[string]struct {
		ev    *pb.Event
		certs [][]byte
		want  string
	}{
		"unsigned":                     {app(), nil, "事件未签名"},
		"changed after signing":        {tampered, nil, "签名无效"},
		"another unit's certificate":   {signedBy(t, other, app()), [][]byte{other.Leaf.Raw}, "签名证书属于单位 330324101"},
		"a certificate not sent":       {signedBy(t, second, app()), nil, "未知"},
		"another CA's certificate":     {signedBy(t, stranger, app()), [][]byte{stranger.Leaf.Raw}, "不是本县证书颁发机构签发"},
		"a certificate that is no key": {signedBy(t, town, app()), [][]byte{[]byte("not a certificate")}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.want == "" {
				// A junk certificate beside the right one, already known:
				// the event is good.
				res := send(tc.ev, tc.certs...)
				require.Equal(t, uint32(1), res.GetApplied(), "%v", res)
				return
			}
			res := send(tc.ev, tc.certs...)
			require.Equal(t, uint32(1), res.GetQuarantined(), "%v", res)
			require.Zero(t, res.GetApplied())
			require.Contains(t, quarantineReasons(t, county), tc.want)
		})
	}

	// A child checks what it pulls: an event in the county's name signed
	// by a township's key is quarantined there too.
	child := startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	require.Eventually(t, func() bool { return child.Store.FeedHead() > 0 }, 10*time.Second, 20*time.Millisecond)
	parent := county.Store.Self()
	cur, err := child.Store.PullCursor()
	require.NoError(t, err)
	forged := (&chain{origin: parent.GetNodeId(), seq: 1 << 20}).event("330324", rules.KindDelegationGranted, "delegation/D-999999",
		&pb.Delegation{Id: "D-999999"})
	out, err := child.Store.Apply(ctx, store.IngestCommand(child.Store.Now(), parent, false,
		[]*pb.Event{signedBy(t, town, forged)}, [][]byte{town.Leaf.Raw}, cur.GetPosition(), cur.GetPosition()))
	require.NoError(t, err)
	require.Equal(t, uint32(1), out.(*pb.PushResponse).GetQuarantined())
	q, err := child.Store.Quarantine(1)
	require.NoError(t, err)
	require.Contains(t, q[0].GetReason(), "签名证书属于单位 "+fakeTown)
}
