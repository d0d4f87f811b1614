package sync

import (
	"context"
	"errors"
	"net/http"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// quietParent is a township whose feed grows with events for other
// children, and whose own parent acknowledges on demand; it counts how
// often a waiting pull asks how far above the child is held.
type quietParent struct {
	Parent // what the pull does not use
	mu     gosync.Mutex
	head   uint64
	above  uint64
	change chan struct{}
	acked  chan struct{}
	reads  atomic.Int64
}

func newQuietParent() *quietParent {
	return &quietParent{change: make(chan struct{}), acked: make(chan struct{})}
}

func (p *quietParent) Self() *pb.Peer                             { return &pb.Peer{Unit: "330324101", NodeId: "town"} }
func (p *quietParent) Now() time.Time                             { return time.Now() }
func (p *quietParent) CheckPeer(*pb.Peer, bool) error             { return nil }
func (p *quietParent) Certificates([]*pb.Event) ([][]byte, error) { return nil, nil }
func (p *quietParent) BytesAfter(uint64) uint64                   { return 0 }
func (p *quietParent) FeedHead() uint64                           { p.mu.Lock(); defer p.mu.Unlock(); return p.head }
func (p *quietParent) Changed() <-chan struct{}                   { p.mu.Lock(); defer p.mu.Unlock(); return p.change }
func (p *quietParent) AckChanged() <-chan struct{}                { p.mu.Lock(); defer p.mu.Unlock(); return p.acked }
func (p *quietParent) ReadFeed(after uint64, _ func(*pb.Event, string) bool, _, _ int) ([]*pb.Event, uint64, error) {
	return nil, p.FeedHead(), nil // nothing for this child
}
func (p *quietParent) UpstreamAcked(string) (uint64, int64, error) {
	p.reads.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.above, 1, nil
}

// commit adds an event for another child.
func (p *quietParent) commit() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.head++
	close(p.change)
	p.change = make(chan struct{})
}

// ack is the county acknowledging the township's feed up to what holds
// the child's events up to pos.
func (p *quietParent) ack(pos uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.above = pos
	close(p.acked)
	p.acked = make(chan struct{})
}

// TestAWaitingPullAsksAboveOnlyWhenTheCountyAcknowledges: commits for other
// children wake a child's long poll without a read of the relay log each
// (at a township with fifteen villages that was a read per village per
// event); an acknowledgement from the county that moves what the child
// holds above ends the poll at once, telling it.
func TestAWaitingPullAsksAboveOnlyWhenTheCountyAcknowledges(t *testing.T) {
	p := newQuietParent()
	h := NewService(ServiceConfig{Local: p})
	type answer struct {
		res *connect.Response[pb.PullResponse]
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := h.Pull(context.Background(), connect.NewRequest(&pb.PullRequest{
			Child: &pb.Peer{Unit: "330324101201", NodeId: "vill"}, WaitMs: 20000}))
		done <- answer{res, err}
	}()
	require.Eventually(t, func() bool { return p.reads.Load() == 1 }, 5*time.Second, time.Millisecond, "read once as the poll starts")
	for range 50 {
		p.commit()
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, int64(1), p.reads.Load(), "fifty commits for other children read nothing above")
	select {
	case a := <-done:
		t.Fatalf("the poll ended with nothing to tell: %v %v", a.res, a.err)
	default:
	}
	p.ack(7)
	select {
	case a := <-done:
		require.NoError(t, a.err)
		require.Equal(t, uint64(7), a.res.Msg.GetUpstreamAckedPosition(), "the child hears at once")
		require.Empty(t, a.res.Msg.GetEvents())
	case <-time.After(5 * time.Second):
		t.Fatal("the county's acknowledgement did not end the poll")
	}

	// What it was told is remembered: the next poll waits again.
	go func() {
		res, err := h.Pull(context.Background(), connect.NewRequest(&pb.PullRequest{
			Child: &pb.Peer{Unit: "330324101201", NodeId: "vill"}, After: p.FeedHead(), WaitMs: 300}))
		done <- answer{res, err}
	}()
	start := time.Now()
	a := <-done
	require.NoError(t, a.err)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "nothing new to tell: the poll waited")
	require.Equal(t, uint64(7), a.res.Msg.GetUpstreamAckedPosition())
}

// TestARateRefusalKeepsTheBatchWhole: a parent's refusal for too many
// calls (ResourceExhausted with Retry-After) is waited out, and said as
// such; one for too large a batch halves it.
func TestARateRefusalKeepsTheBatchWhole(t *testing.T) {
	l, err := NewLink(Config{Local: fakeSelf{}, ParentURLs: []string{"http://a"}, HTTPClient: http.DefaultClient, MaxEvents: 400})
	require.NoError(t, err)
	rate := connect.NewError(connect.CodeResourceExhausted, errors.New("同步调用过于频繁，请稍后再试"))
	rate.Meta().Set("Retry-After", "1")
	l.sized(rate)
	require.Equal(t, 400, l.batchSize(), "refused for its rate")
	require.True(t, Throttled(rate))
	require.True(t, strings.HasPrefix(Explain(rate), "上级节点限流"), Explain(rate))
	big := connect.NewError(connect.CodeResourceExhausted, errors.New("batch too large"))
	l.sized(big)
	require.Equal(t, 200, l.batchSize(), "refused for its size")
	require.False(t, Throttled(big))
	require.True(t, strings.HasPrefix(Explain(big), "一批事件过大"), Explain(big))
}
