package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// newTestCA is a county CA in a temporary directory.
func newTestCA(t *testing.T, county string) *auth.CA {
	t.Helper()
	ca, err := auth.InitCA(filepath.Join(t.TempDir(), "ca"), tiers.MustParse(county), time.Now())
	require.NoError(t, err)
	return ca
}

// issueBundle issues a certificate for 127.0.0.1 and loads it as a node does.
func issueBundle(t *testing.T, ca *auth.CA, unit string, role auth.Role) *auth.Bundle {
	t.Helper()
	cert, key, err := ca.Issue(auth.IssueRequest{Unit: tiers.MustParse(unit), Role: role, Hosts: []string{"127.0.0.1"}, Now: time.Now()})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "tls")
	require.NoError(t, auth.WriteNodeDir(dir, ca.CertPEM(), cert, key))
	b, err := auth.LoadBundle(dir, time.Now())
	require.NoError(t, err)
	return b
}

// startTLSNode starts a node serving TLS with its certificate; its test
// clients trust the CA and present no certificate, as the CLI does. A
// lone county node's clients call as "tester", a worker, admin and
// auditor.
func startTLSNode(t *testing.T, unit string, b *auth.Bundle, parents []string, rc *cluster.RaftConfig) *testNode {
	t.Helper()
	dir := t.TempDir()
	clock := &testClock{t: at("2026-11-23", 10)}
	if rc != nil {
		rc.Listen, rc.HeartbeatTimeout, rc.ElectionTimeout = "127.0.0.1:0", 200*time.Millisecond, 200*time.Millisecond
	}
	n, err := Start(Config{TLS: b, Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: dir, Parents: parents,
		Calendar: seedCalendar(t), Clock: clock, Logger: quietLogger(), Raft: rc,
		Sync: sync.Config{PullWait: 200 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}})
	require.NoError(t, err)
	hc := &http.Client{Transport: sync.Transport(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: b.Pool})}
	tn := wrapTestNodeWith(t, n, clock, dir, hc)
	if tiers.MustParse(unit).Tier() == tiers.County && rc == nil {
		tn.signIn(t, tn, "tester", rules.RoleWorker, rules.RoleAdmin, rules.RoleAuditor)
	}
	return tn
}

// restartTLSNode starts a stopped TLS node again on its address and data.
func restartTLSNode(t *testing.T, old *testNode) *testNode {
	t.Helper()
	cfg := old.cfg
	cfg.Listen = old.Addr().String()
	var n *Node
	require.Eventually(t, func() bool {
		var err error
		n, err = Start(cfg)
		return err == nil
	}, 5*time.Second, 50*time.Millisecond, "the address is free again")
	return wrapTestNodeWith(t, n, old.clock, old.dir, old.hc)
}

// nodeClient is an HTTP client presenting b's certificate, as nodes call
// one another.
func nodeClient(t *testing.T, b *auth.Bundle) *http.Client {
	hc := sync.HTTPClient(sync.Transport(b.ClientConfig()))
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

func TestATreeSyncsOverMutualTLS(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	require.True(t, strings.HasPrefix(county.URL(), "https://"))
	town := startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	county.importSeed(t)
	town.signIn(t, county, "town.worker", rules.RoleWorker)
	require.Eventually(t, func() bool {
		res, err := town.catalog.ListMatters(context.Background(), connect.NewRequest(&pb.ListMattersRequest{}))
		return err == nil && len(res.Msg.GetMatters()) > 0
	}, 10*time.Second, 50*time.Millisecond, "the catalog reaches the township over mTLS")

	resp, err := county.hc.Get(county.URL() + "/healthz")
	require.NoError(t, err)
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	require.Contains(t, line, " tls")
}

func TestNodeToNodeServicesNeedANodeCertificate(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	ctx := context.Background()

	// The CLI's client: it trusts the CA and has no certificate.
	_, err := jiujinv1connect.NewSyncServiceClient(county.hc, county.URL()).Pull(ctx, connect.NewRequest(&pb.PullRequest{
		Child: &pb.Peer{Unit: "330324101", NodeId: "a", Epoch: 1}}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)
	_, err = jiujinv1connect.NewClusterServiceClient(county.hc, county.URL()).RemoveMember(ctx, connect.NewRequest(&pb.RemoveMemberRequest{Id: "x"}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)
	// What operators call is served (accounts and roles are checked there).
	_, err = county.status.GetStatus(ctx, connect.NewRequest(&pb.GetStatusRequest{}))
	require.NoError(t, err)

	// A node certificate is not a member's: no cluster service.
	town := nodeClient(t, issueBundle(t, ca, "330324101", auth.RoleNode))
	_, err = jiujinv1connect.NewClusterServiceClient(town, county.URL()).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "%v", err)

	// A certificate of another county's CA gets no handshake.
	stranger := nodeClient(t, issueBundle(t, newTestCA(t, "330324"), "330324101", auth.RoleNode))
	stranger.Transport.(*http.Transport).TLSClientConfig.RootCAs = county.Node.cfg.TLS.Pool
	stranger.Transport.(*http.Transport).TLSClientConfig.VerifyConnection = nil
	_, err = jiujinv1connect.NewSyncServiceClient(stranger, county.URL()).Pull(ctx, connect.NewRequest(&pb.PullRequest{
		Child: &pb.Peer{Unit: "330324101", NodeId: "a", Epoch: 1}}))
	// TLS 1.3: the server's refusal of the client's certificate arrives
	// after the client's first write, as a failed handshake or a closed
	// connection; never as an answer of the service.
	require.Error(t, err)
	require.NotContains(t, []connect.Code{connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeFailedPrecondition}, connect.CodeOf(err), "%v", err)
}

func TestAChildSpeaksForItsOwnUnitOnly(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	ctx := context.Background()
	// A valid certificate of township 330324103 (fakeTown).
	hostile := jiujinv1connect.NewSyncServiceClient(nodeClient(t, issueBundle(t, ca, fakeTown, auth.RoleNode)), county.URL())

	other := &pb.Peer{Unit: "330324101", NodeId: "b0b", Epoch: 1}
	_, err := hostile.Pull(ctx, connect.NewRequest(&pb.PullRequest{Child: other}))
	requireCode(t, err, connect.CodePermissionDenied, "child.unit")
	_, err = hostile.PushCursor(ctx, connect.NewRequest(&pb.PushCursorRequest{Child: other}))
	requireCode(t, err, connect.CodePermissionDenied, "child.unit")

	// Events of another township's applications, sent as that township.
	_, ch := fakeChild("f00d")
	key := appKey("330324101-20261123-000001")
	acc := ch.event("330324101", rules.KindAppAccepted, key, acceptedAt("330324101", "330324"))
	_, err = hostile.Push(ctx, connect.NewRequest(&pb.PushRequest{Child: other, Events: []*pb.Event{acc}, LastPosition: 1}))
	requireCode(t, err, connect.CodePermissionDenied, "child.unit")

	// The same events sent under its own name are quarantined, not applied.
	self := &pb.Peer{Unit: fakeTown, NodeId: "f00d", Epoch: 1}
	res, err := hostile.Push(ctx, connect.NewRequest(&pb.PushRequest{Child: self, Events: []*pb.Event{acc}, LastPosition: 1}))
	require.NoError(t, err)
	require.Equal(t, uint32(1), res.Msg.GetQuarantined())
	require.Zero(t, res.Msg.GetApplied())
	_, err = county.apps.GetApplication(ctx, connect.NewRequest(&pb.GetApplicationRequest{Id: "330324101-20261123-000001"}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

func TestRaftSpeaksOnlyToMemberCertificates(t *testing.T) {
	ca := newTestCA(t, "330324")
	first := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleMember), nil, &cluster.RaftConfig{Bootstrap: true})
	memberClient := nodeClient(t, issueBundle(t, ca, "330324", auth.RoleMember))
	status := func() *pb.GetClusterStatusResponse {
		res, err := jiujinv1connect.NewClusterServiceClient(memberClient, first.URL()).GetClusterStatus(context.Background(), connect.NewRequest(&pb.GetClusterStatusRequest{}))
		require.NoError(t, err)
		return res.Msg
	}
	require.Eventually(t, func() bool { return status().GetLeader() != "" }, 10*time.Second, 20*time.Millisecond)

	// A second member joins over mTLS: raft between members works.
	second := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleMember), nil, &cluster.RaftConfig{Join: []string{first.URL()}})
	require.Eventually(t, func() bool { return len(status().GetMembers()) == 2 }, 10*time.Second, 20*time.Millisecond)
	_ = second

	raftAddr := first.Node.cluster.Transport().LocalAddr()
	// A node certificate of the county, and no certificate at all: no
	// handshake, so no raft message is read.
	for name, certs := range map[string][]tls.Certificate{
		"a node certificate": {issueBundle(t, ca, "330324", auth.RoleNode).Cert},
		"no certificate":     nil,
	} {
		conn, err := tls.Dial("tcp", string(raftAddr), &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: certs})
		if err == nil {
			// TLS 1.3: the server's verdict on the client arrives with the first read.
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Write([]byte{0}) // rpcAppendEntries, a body would follow
			if err == nil {
				_, err = conn.Read(make([]byte, 1))
			}
			conn.Close()
		}
		require.Error(t, err, name)
	}
	// Plain TCP: raft's framing in clear is never read as a command.
	conn, err := net.Dial("tcp", string(raftAddr))
	require.NoError(t, err)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Write([]byte{0, 0x81, 0xa4, 'T', 'e', 'r', 'm', 0xcd, 0x03, 0xe8})
	_, err = conn.Read(make([]byte, 1))
	require.Error(t, err)
	conn.Close()
	require.Len(t, status().GetMembers(), 2, "the group unchanged")
}

func TestTrustIsConfigured(t *testing.T) {
	ca := newTestCA(t, "330324")
	base := func() Config {
		return Config{Unit: tiers.MustParse("330324101"), Listen: "127.0.0.1:0", DataDir: t.TempDir(), Calendar: seedCalendar(t)}
	}
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"neither certificate nor insecure", func(c *Config) {}, "tls-dir:"},
		{"both", func(c *Config) { c.Insecure, c.TLS = true, issueBundle(t, ca, "330324101", auth.RoleNode) }, "insecure:"},
		{"insecure beyond loopback", func(c *Config) { c.Insecure, c.Listen = true, "0.0.0.0:0" }, "insecure:"},
		{"another unit's certificate", func(c *Config) { c.TLS = issueBundle(t, ca, "330324102", auth.RoleNode) }, "tls-dir:"},
		{"a member without a member certificate", func(c *Config) {
			c.Unit, c.TLS, c.Raft = "330324", issueBundle(t, ca, "330324", auth.RoleNode), &cluster.RaftConfig{Listen: "127.0.0.1:0", Bootstrap: true}
		}, "member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			err := c.Validate()
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(rpc.ConnectError(err)))
		})
	}
}
