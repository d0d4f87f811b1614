package node

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/sync"
)

func TestLongPollsPerChildAreCapped(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	sc := jiujinv1connect.NewSyncServiceClient(nodeClient(t, issueBundle(t, ca, fakeTown, auth.RoleNode)), county.URL())
	child := &pb.Peer{Unit: fakeTown, NodeId: "f00d", Epoch: 7}
	pull := func(ctx context.Context) error {
		_, err := sc.Pull(ctx, connect.NewRequest(&pb.PullRequest{Child: child, WaitMs: 5000}))
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, maxPollsPerCaller)
	for i := 0; i < maxPollsPerCaller; i++ {
		go func() { done <- pull(ctx) }()
	}
	polling := func() int {
		county.polls.mu.Lock()
		defer county.polls.mu.Unlock()
		return county.polls.n[fakeTown]
	}
	require.Eventually(t, func() bool { return polling() == maxPollsPerCaller }, 5*time.Second, 10*time.Millisecond)
	err := pull(context.Background())
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err), "%v", err)
	// Others are still served.
	_, err = county.status.GetStatus(context.Background(), connect.NewRequest(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	cancel()
	for i := 0; i < maxPollsPerCaller; i++ {
		<-done
	}
	require.Eventually(t, func() bool { return polling() == 0 }, 5*time.Second, 10*time.Millisecond, "a finished poll is counted off")
}

func TestSyncCallsPerChildAreRateLimited(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	sc := jiujinv1connect.NewSyncServiceClient(nodeClient(t, issueBundle(t, ca, fakeTown, auth.RoleNode)), county.URL())
	other := jiujinv1connect.NewSyncServiceClient(nodeClient(t, issueBundle(t, ca, "330324101", auth.RoleNode)), county.URL())
	call := func(c jiujinv1connect.SyncServiceClient, unit string) error {
		_, err := c.PushCursor(context.Background(), connect.NewRequest(&pb.PushCursorRequest{Child: &pb.Peer{Unit: unit, NodeId: "n", Epoch: 1}}))
		return err
	}
	// The allowance's clock stands still: nothing refills.
	stopped := time.Now()
	county.polls.now = func() time.Time { return stopped }
	for i := 0; i < syncBurst; i++ {
		require.NoError(t, call(sc, fakeTown), "call %d is within the burst", i)
	}
	err := call(sc, fakeTown)
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err), "a child past its allowance is refused: %v", err)
	require.True(t, sync.Throttled(err), "with Retry-After: the child waits, its batches stay whole: %v", err)
	require.Contains(t, sync.Explain(err), "上级节点限流")
	stopped = stopped.Add(time.Second / syncRate)
	require.NoError(t, call(sc, fakeTown), "a token refills at the rate")
	require.NoError(t, call(other, "330324101"), "another child is not")
}

func TestAnInsecureNodeCapsNoOne(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	errs := make(chan error, maxPollsPerCaller+2)
	for i := 0; i < maxPollsPerCaller+2; i++ {
		go func() {
			_, err := syncClient(county).Pull(context.Background(), connect.NewRequest(&pb.PullRequest{
				Child: &pb.Peer{Unit: fakeTown, NodeId: "f00d", Epoch: 7}, WaitMs: 500}))
			errs <- err
		}()
	}
	for i := 0; i < maxPollsPerCaller+2; i++ {
		require.NoError(t, <-errs)
	}
}

// TestAGzipBombIsRefused: a push whose body inflates far past the message
// limit is refused without being inflated whole, and nothing is stored.
func TestAGzipBombIsRefused(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	before := county.Store.FeedHead()
	msg, err := proto.Marshal(&pb.PushRequest{Child: &pb.Peer{Unit: fakeTown, NodeId: "f00d", Epoch: 7}})
	require.NoError(t, err)
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	_, err = zw.Write(msg)
	require.NoError(t, err)
	// A field of 64 MiB of zeros: tag 15 (bytes), length, then zeros.
	_, err = zw.Write([]byte{0x7a, 0x80, 0x80, 0x80, 0x20})
	require.NoError(t, err)
	zero := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		_, err = zw.Write(zero)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.Less(t, body.Len(), 1<<20, "the bomb is small on the wire")
	req, err := http.NewRequest(http.MethodPost, county.URL()+jiujinv1connect.SyncServicePushProcedure, &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := county.hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "resource_exhausted")
	require.Equal(t, before, county.Store.FeedHead())
}

func TestMetricsAreForTheNodesOwnMachine(t *testing.T) {
	h := localOnly(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	for addr, want := range map[string]int{"127.0.0.1:4000": 200, "[::1]:4000": 200, "10.0.0.5:4000": 403, "garbage": 403} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h(w, r)
		require.Equal(t, want, w.Code, addr)
	}
}
