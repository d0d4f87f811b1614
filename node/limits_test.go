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
)

func TestLongPollsPerChildAreCapped(t *testing.T) {
	county := startTestNode(t, "330324", "", nil)
	sc := syncClient(county)
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
	require.Eventually(t, func() bool {
		county.polls.mu.Lock()
		defer county.polls.mu.Unlock()
		return county.polls.n["addr:127.0.0.1"] == maxPollsPerCaller
	}, 5*time.Second, 10*time.Millisecond)
	err := pull(context.Background())
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err), "%v", err)
	// Others are still served.
	_, err = county.status.GetStatus(context.Background(), connect.NewRequest(&pb.GetStatusRequest{}))
	require.NoError(t, err)
	cancel()
	for i := 0; i < maxPollsPerCaller; i++ {
		<-done
	}
	require.Eventually(t, func() bool {
		county.polls.mu.Lock()
		defer county.polls.mu.Unlock()
		return len(county.polls.n) == 0
	}, 5*time.Second, 10*time.Millisecond, "a finished poll is counted off")
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
