package node

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// TestACertificateRenewsOverTheSyncLink: a township two thirds through its
// certificate's life asks the county for the next over its link, in a
// request signed with the certificate it has; once the CA's holder has
// signed, the new certificate comes down the link, is put in force (the
// next handshake presents it, the next event is signed with it, and the
// county takes those) and written to the node's TLS directory.
func TestACertificateRenewsOverTheSyncLink(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)

	// A certificate of one day, issued 20 hours ago.
	cert, key, err := ca.Issue(auth.IssueRequest{Unit: "330324101", Role: auth.RoleNode, Hosts: []string{"127.0.0.1"},
		Now: time.Now().Add(-20 * time.Hour), Days: 1})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "tls")
	require.NoError(t, auth.WriteNodeDir(dir, ca.CertPEM(), cert, key))
	b, err := auth.LoadBundle(dir, time.Now())
	require.NoError(t, err)
	old := auth.Serial(b.Leaf)
	clock := &testClock{t: at("2026-11-23", 10)}
	data := t.TempDir()
	n, err := Start(Config{TLS: b, TLSDir: dir, RenewEvery: 50 * time.Millisecond, Unit: tiers.MustParse("330324101"),
		Listen: "127.0.0.1:0", DataDir: data, Parents: []string{county.URL()}, Calendar: seedCalendar(t), Clock: clock, Logger: quietLogger(),
		Sync: sync.Config{PullWait: 200 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}})
	require.NoError(t, err)
	town := wrapTestNodeWith(t, n, clock, data, &http.Client{Transport: sync.Transport(county.hc.Transport.(*http.Transport).TLSClientConfig)})

	// The request reaches the county; the CA's holder signs it.
	var pending *pb.Enrollment
	for deadline := time.Now().Add(10 * time.Second); pending == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		res, err := county.status.ListEnrollments(context.Background(), connect.NewRequest(&pb.ListEnrollmentsRequest{PendingOnly: true}))
		require.NoError(t, err)
		if len(res.Msg.GetEnrollments()) > 0 {
			pending = res.Msg.GetEnrollments()[0]
		}
	}
	require.NotNil(t, pending, "the request reaches the county; quarantined there: %s", quarantineReasons(t, county))
	require.True(t, pending.GetRenewal())
	require.Equal(t, "330324101", pending.GetReceivedBy())
	der, refused, err := ca.SignEnrollment(pending, time.Now())
	require.NoError(t, err)
	require.Empty(t, refused)
	_, err = county.status.AnswerEnrollment(context.Background(), connect.NewRequest(&pb.AnswerEnrollmentRequest{Id: pending.GetId(), Certificate: der}))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return auth.Serial(b.Current().Leaf) != old }, 10*time.Second, 20*time.Millisecond,
		"the renewed certificate is in force")
	onDisk, err := auth.LoadBundle(dir, time.Now())
	require.NoError(t, err)
	require.Equal(t, auth.Serial(b.Current().Leaf), auth.Serial(onDisk.Leaf), "and in the TLS directory")
	require.True(t, onDisk.Leaf.NotAfter.After(b.Leaf.NotAfter))

	// What the township writes from now on is signed with the new key, and
	// the county takes it.
	town.signIn(t, county, "sunwei", rules.RoleWorker)
	require.Eventually(t, func() bool {
		trail, err := county.accts.ListAudit(context.Background(), connect.NewRequest(&pb.ListAuditRequest{Login: "sunwei"}))
		require.NoError(t, err)
		for _, it := range trail.Msg.GetItems() {
			if it.GetKind() == rules.KindSignIn {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the township's login, signed with the renewed certificate, reaches the county")
}
