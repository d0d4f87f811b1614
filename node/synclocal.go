package node

import (
	"context"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// syncLocal is the node as the child's side of sync sees it: the store,
// with batches written through the node's writer.
type syncLocal struct{ n *Node }

func (l syncLocal) Self() *pb.Peer                              { return l.n.Store.Self() }
func (l syncLocal) FeedHead() uint64                            { return l.n.Store.FeedHead() }
func (l syncLocal) Changed() <-chan struct{}                    { return l.n.Store.Changed() }
func (l syncLocal) PullCursor() (*pb.Cursor, error)             { return l.n.Store.PullCursor() }
func (l syncLocal) BytesAfter(pos uint64) uint64                { return l.n.Store.BytesAfter(pos) }
func (l syncLocal) HasEvent(hash []byte) bool                   { return l.n.Store.HasEvent(hash) }
func (l syncLocal) Restored() bool                              { return l.n.Store.Restored() }
func (l syncLocal) Now() time.Time                              { return l.n.Store.Now() }
func (l syncLocal) PushCursor(child string) (*pb.Cursor, error) { return l.n.Store.PushCursor(child) }
func (l syncLocal) Acked(pos uint64) error                      { return l.n.Store.RecordAck(pos, l.n.Store.Now()) }
func (l syncLocal) AckedAbove(pos uint64, atMs int64) error {
	return l.n.Store.RecordAckAbove(pos, atMs)
}
func (l syncLocal) PushCursors() ([]*pb.Cursor, error)  { return l.n.Store.PushCursors() }
func (l syncLocal) QuarantinedFrom(child string) uint64 { return l.n.Store.QuarantinedFrom(child) }
func (l syncLocal) AckChanged() <-chan struct{}         { return l.n.Store.AckChanged() }
func (l syncLocal) UpstreamAcked(child string) (uint64, int64, error) {
	return l.n.Store.UpstreamAcked(child)
}
func (l syncLocal) CheckPeer(from *pb.Peer, pushed bool) error {
	return l.n.Store.CheckPeer(from, pushed)
}
func (l syncLocal) ReadFeed(after uint64, keep func(ev *pb.Event, from string) bool, maxEvents, maxBytes int) ([]*pb.Event, uint64, error) {
	return l.n.Store.ReadFeed(after, keep, maxEvents, maxBytes)
}

func (l syncLocal) Certificates(events []*pb.Event) ([][]byte, error) {
	return l.n.Store.Certificates(events)
}

// Ingest applies a batch from a sync peer and moves its cursor, durably.
func (l syncLocal) Ingest(ctx context.Context, from *pb.Peer, pushed bool, events []*pb.Event, certs [][]byte, last, head uint64) (*pb.PushResponse, error) {
	out, err := l.n.Apply(ctx, store.IngestCommand(l.n.Store.Now(), from, pushed, events, certs, last, head))
	if err != nil {
		return nil, err
	}
	return out.(*pb.PushResponse), nil
}

// unitName names a unit where the rules know its name ("" where they do
// not, or know no names at all).
func (n *Node) unitName(code string) string {
	if r, ok := any(n.Rules).(interface{ UnitName(code string) string }); ok {
		return r.UnitName(code)
	}
	return ""
}

// childStatus describes the node's children as their parent sees them
// (nil before the node serves, or on failure).
func (n *Node) childStatus() []*pb.ChildStatus {
	if n.parentSvc == nil {
		return nil
	}
	cs, err := n.parentSvc.Children()
	if err != nil {
		n.cfg.Logger.Warn("children status", "err", err)
		return nil
	}
	return cs
}
