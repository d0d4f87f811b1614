package sync

import (
	"fmt"
	"math"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// The child's side of "where do my events stand upstream": it notes what
// its parent acknowledged, and what its parent says the county holds, so
// that an application can say 未送达上级 / 已送达乡镇 / 已送达县级; and it
// tells its parent how many events still wait here for it.

// keepUp is what this node pushes to its parent (of node id parentID):
// every event written in its subtree whose scope leaves it, but none that
// came from the parent (see pushLoop).
func (l *Link) keepUp(parentID string) func(ev *pb.Event, from string) bool {
	return func(ev *pb.Event, from string) bool {
		return from != parentID && l.unit.Contains(tiers.Unit(ev.GetUnit())) && LeavesSubtree(ev.GetScope(), l.unit)
	}
}

// acknowledged notes the parent's answer: it holds this node's feed up to
// acked, and its own parent up to above (since aboveMs).
func (l *Link) acknowledged(acked, above uint64, aboveMs int64) error {
	if err := l.cfg.Local.Acked(acked); err != nil {
		return fmt.Errorf("record ack: %w: %w", errLocal, err)
	}
	return l.aboveAcked(above, aboveMs)
}

// aboveAcked notes how far the parent's parent holds this node's feed;
// only a node with a grandparent (a village) keeps it, for its parent is
// the one to ask.
func (l *Link) aboveAcked(above uint64, aboveMs int64) error {
	if l.unit.Parent().Parent() == "" || above == 0 {
		return nil
	}
	if err := l.cfg.Local.AckedAbove(above, aboveMs); err != nil {
		return fmt.Errorf("record upstream ack: %w: %w", errLocal, err)
	}
	return nil
}

// pendingScan bounds how many feed entries a count of events still to
// push looks at; past it, the rest of the feed counts whole (an upper
// bound).
const pendingScan = 10000

// pendingAfter counts the events after feed position pos that keep
// selects, looking at no more than pendingScan entries.
func (l *Link) pendingAfter(pos uint64, keep func(ev *pb.Event, from string) bool) uint64 {
	head := l.cfg.Local.FeedHead()
	if pos >= head {
		return 0
	}
	var n uint64
	count := func(ev *pb.Event, from string) bool {
		if keep(ev, from) {
			n++
		}
		return false // read nothing: only count
	}
	last, err := pos, error(nil)
	for last < head && last-pos < pendingScan && err == nil {
		var next uint64
		_, next, err = l.cfg.Local.ReadFeed(last, count, pendingScan/20, math.MaxInt)
		if next <= last {
			break
		}
		last = next
	}
	if err != nil {
		return head - pos // unknown: at most the whole stretch
	}
	return n + (head - min(head, last))
}

// sent notes how far the push loop has sent or passed over the feed:
// what lies before it is at the parent, or not for it.
func (l *Link) sent(pos uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sentUpTo, l.sentKnown = pos, true
}

// pendingPush is what a pull tells the parent of the events waiting here
// for it (nil: the push loop has not reached the parent since the link
// started). Counted from where the push loop stands, it costs nothing
// while the loop keeps up.
func (l *Link) pendingPush() *uint64 {
	l.mu.Lock()
	from, known, parent := l.sentUpTo, l.sentKnown, l.parent
	l.mu.Unlock()
	if !known || parent == nil {
		return nil
	}
	n := l.pendingAfter(from, l.keepUp(parent.GetNodeId()))
	return &n
}
