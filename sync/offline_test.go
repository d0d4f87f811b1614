package sync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
)

// TestBackoffProbesAtMostEveryFiveSeconds: however long the link has been
// down, a child tries its parent again within 3.5–5 s, at uniformly
// spread times, and a configured maximum above that is cut to it.
func TestBackoffProbesAtMostEveryFiveSeconds(t *testing.T) {
	b := NewBackoff(100*time.Millisecond, ProbeMax, 42)
	var atCap []time.Duration
	for i := 0; i < 2000; i++ { // hours of failures
		w := b.Next()
		require.Less(t, w, ProbeMax, "wait %d", i)
		if i >= 6 { // 100 ms · 2⁶ > 5 s: at the cap from the seventh
			require.GreaterOrEqual(t, w, 3500*time.Millisecond, "wait %d", i)
			atCap = append(atCap, w)
		}
	}
	// Spread over the window, not bunched: each tenth of it gets its share.
	var tenths [10]int
	for _, w := range atCap {
		tenths[int((w-3500*time.Millisecond)*10/(1500*time.Millisecond))]++
	}
	for i, n := range tenths {
		require.InDelta(t, len(atCap)/10, n, float64(len(atCap))/20, "tenth %d of 3.5–5 s: %v", i, tenths)
	}

	l, err := NewLink(Config{Local: fakeSelf{}, ParentURLs: []string{"http://a"}, HTTPClient: http.DefaultClient, BackoffMax: 30 * time.Second})
	require.NoError(t, err)
	require.Equal(t, ProbeMax, l.cfg.BackoffMax, "a longer maximum is cut to the probe's")
	l, err = NewLink(Config{Local: fakeSelf{}, ParentURLs: []string{"http://a"}, HTTPClient: http.DefaultClient})
	require.NoError(t, err)
	require.Equal(t, ProbeMax, l.cfg.BackoffMax, "the default")
	require.NotZero(t, l.cfg.Seed, "seeded from the node id")
	other, err := NewLink(Config{Local: fakeSelf{id: "another"}, ParentURLs: []string{"http://a"}, HTTPClient: http.DefaultClient})
	require.NoError(t, err)
	require.NotEqual(t, l.cfg.Seed, other.cfg.Seed, "two villages do not retry in step")
}

// fakeSelf is a Local that only says who it is.
type fakeSelf struct {
	Local
	id string
}

func (f fakeSelf) Self() *pb.Peer {
	return &pb.Peer{Unit: "330324101201", NodeId: "node-" + f.id, Epoch: 1}
}

// TestExplainPutsLinkErrorsInChinese: what a village worker reads of a
// link's failure, with the technical detail after.
func TestExplainPutsLinkErrorsInChinese(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	ln.Close()
	c := jiujinv1connect.NewSyncServiceClient(HTTPClient(nil), url)
	_, err = c.PushCursor(context.Background(), connect.NewRequest(&pb.PushCursorRequest{}))
	require.Error(t, err)
	refused := fmt.Errorf("push cursor: %w", err)
	got := Explain(refused)
	require.True(t, strings.HasPrefix(got, "无法连接上级节点（连接被拒绝"), got)
	require.True(t, strings.HasSuffix(got, "："+refused.Error()), "the detail after: %s", got)
	require.Contains(t, got, "connection refused")

	ft := NewFaultTransport(http.DefaultTransport, 1)
	ft.Set(Faults{Cut: true})
	_, err = jiujinv1connect.NewSyncServiceClient(&http.Client{Transport: ft}, url).Pull(context.Background(), connect.NewRequest(&pb.PullRequest{}))
	require.True(t, strings.HasPrefix(Explain(fmt.Errorf("pull: %w", err)), "无法连接上级节点（链路中断）："), Explain(err))

	for _, tt := range []struct {
		err  error
		want string
	}{
		{connect.NewError(connect.CodePermissionDenied, errors.New("child.unit: 证书属于 330324101202")), "上级节点拒绝了本节点（证书或单位不符）："},
		{fmt.Errorf("push: %w", connect.NewError(connect.CodeFailedPrecondition, errors.New("acked_position"))), "上级节点拒绝了这一批"},
		{fmt.Errorf("pull: 330324102: %w", errNotParent), "对方不是本单位的上级节点"},
		{fmt.Errorf("read feed: %w: %w", errLocal, errors.New("disk")), "本节点读写自己的数据出错"},
		{fmt.Errorf("push: %w", connect.NewError(connect.CodeUnavailable, errors.New("no leader"))), "上级节点暂不可用："},
		{errors.New("something else"), "与上级同步出错：something else"},
	} {
		require.True(t, strings.HasPrefix(Explain(tt.err), tt.want), "%v: %s", tt.err, Explain(tt.err))
	}
	require.Empty(t, Explain(nil))
}
