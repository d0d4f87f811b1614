package node

import (
	"context"
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

// TestARevokedCertificateIsRefused: a revocation the CA signed, published
// by a county administrator, reaches every node; from its arrival the
// certificate gets no call served, and the events it signs after the
// revocation are quarantined, while those it signed before stand.
func TestARevokedCertificateIsRefused(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	townCert := issueBundle(t, ca, "330324101", auth.RoleNode)
	town := startTLSNode(t, "330324101", townCert, []string{county.URL()}, nil)
	other := startTLSNode(t, "330324102", issueBundle(t, ca, "330324102", auth.RoleNode), []string{county.URL()}, nil)
	ctx := context.Background()
	require.Eventually(t, func() bool { return town.Store.FeedHead() > 0 && other.Store.FeedHead() > 0 }, 10*time.Second, 20*time.Millisecond)

	serial := auth.Serial(townCert.Leaf)
	rev, err := ca.Revoke(serial, "设备丢失", county.clock.Now())
	require.NoError(t, err)

	// Not signed by the CA, or by the CA over other words: refused.
	forged := &pb.Revocation{Serial: serial, Unit: "330324101", Role: "node", Reason: "设备丢失", RevokedAtMs: rev.GetRevokedAtMs(),
		CaSignature: make([]byte, 64)}
	_, err = county.status.RevokeCertificate(ctx, connect.NewRequest(&pb.RevokeCertificateRequest{Revocation: forged}))
	requireCode(t, err, connect.CodeInvalidArgument, "ca_signature")
	changed := &pb.Revocation{Serial: serial, Unit: "330324101", Role: "node", Reason: "另一个理由", RevokedAtMs: rev.GetRevokedAtMs(),
		CaSignature: rev.GetCaSignature()}
	_, err = county.status.RevokeCertificate(ctx, connect.NewRequest(&pb.RevokeCertificateRequest{Revocation: changed}))
	requireCode(t, err, connect.CodeInvalidArgument, "ca_signature")

	res, err := county.status.RevokeCertificate(ctx, connect.NewRequest(&pb.RevokeCertificateRequest{Revocation: rev}))
	require.NoError(t, err)
	require.Equal(t, serial, res.Msg.GetRevocation().GetSerial())
	_, err = county.status.RevokeCertificate(ctx, connect.NewRequest(&pb.RevokeCertificateRequest{Revocation: rev}))
	requireCode(t, err, connect.CodeFailedPrecondition, "serial")
	trail, err := county.accts.ListAudit(ctx, connect.NewRequest(&pb.ListAuditRequest{}))
	require.NoError(t, err)
	require.Contains(t, trail.Msg.GetItems()[len(trail.Msg.GetItems())-1].GetSummary(), "吊销证书 "+serial+"（330324101 node）（设备丢失）")
	issued, err := ca.List()
	require.NoError(t, err)
	for _, c := range issued {
		require.Equal(t, c.Serial == serial, c.Revoked, c.Serial)
	}

	// It reaches the other township.
	require.Eventually(t, func() bool {
		revs, err := other.Rules.Revocations()
		return err == nil && revs[serial] != nil
	}, 10*time.Second, 20*time.Millisecond)

	// The revoked certificate's calls: refused on a new connection and on
	// one made before.
	revoked := nodeClient(t, townCert)
	_, err = jiujinv1connect.NewSyncServiceClient(revoked, county.URL()).PushCursor(ctx, connect.NewRequest(&pb.PushCursorRequest{
		Child: town.Store.Self()}))
	require.Error(t, err)
	_, err = jiujinv1connect.NewSyncServiceClient(town.syncClient, county.URL()).PushCursor(ctx, connect.NewRequest(&pb.PushCursorRequest{
		Child: town.Store.Self()}))
	require.Error(t, err, "the township's own link")

	// Events it signed before the revocation stand; after, quarantined.
	peer := town.Store.Self()
	ch := &chain{origin: peer.GetNodeId(), seq: 1 << 20}
	before := ch.event("330324101", rules.KindOrderPlaced, "order/330324101", &pb.TownshipOrder{Township: "330324101"})
	before.Hlc = uint64(county.clock.Now().Add(-time.Minute).UnixMilli()) << 16
	before.Hash = store.EventHash(before)
	after := ch.event("330324101", rules.KindOrderPlaced, "order/330324101x", &pb.TownshipOrder{Township: "330324101"})
	after.Hlc = uint64(county.clock.Now().Add(time.Minute).UnixMilli()) << 16
	after.Hash = store.EventHash(after)
	cur, err := county.Store.PushCursor(peer.GetNodeId())
	require.NoError(t, err)
	out, err := county.Store.Apply(ctx, store.IngestCommand(county.Store.Now(), peer, true,
		[]*pb.Event{signedBy(t, townCert, before), signedBy(t, townCert, after)}, [][]byte{townCert.Leaf.Raw}, cur.GetPosition()+1, 0))
	require.NoError(t, err)
	require.NotZero(t, out.(*pb.PushResponse).GetQuarantined())
	q, err := county.Store.Quarantine(5)
	require.NoError(t, err)
	seen := false
	for _, e := range q {
		switch e.GetEvent().GetSeq() {
		case after.GetSeq():
			seen = true
			require.Contains(t, e.GetReason(), "证书已被吊销")
		case before.GetSeq():
			require.NotContains(t, e.GetReason(), "吊销", "what it signed before the revocation stands")
		}
	}
	require.True(t, seen, "the event signed after the revocation is quarantined")
}
