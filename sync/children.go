package sync

import (
	"sort"
	gosync "sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// The parent's view of its children, for `jiujin status` and /metrics:
// what their push cursors here say (durable), and what their calls since
// this node started said (in memory).

// childSeen is what a parent has seen of one child node since it started.
type childSeen struct {
	unit     string
	epoch    uint64
	lastCall time.Time // the node's clock (Parent.Now)
	lastReal time.Time // the wall clock, for "connected"
	polling  int       // pulls waiting here now
	pulled   uint64    // the position its last pull asked after
	pullSeen bool
	pending  uint64 // events waiting at the child, as it said
	pendSeen bool
	pendAt   time.Time
	kids     []*pb.ChildStatus // its own children, as it last said
	kidsAt   time.Time
	// toldAbove: how far this node's parent holds the child's feed, as
	// last told to it (a long poll ends early when there is more to tell).
	toldAbove uint64
}

type children struct {
	mu   gosync.Mutex
	seen map[string]*childSeen
}

// called notes a child's call; f, if set, updates what was seen of it.
func (c *children) called(child *pb.Peer, now time.Time, f func(s *childSeen)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]*childSeen{}
	}
	s := c.seen[child.GetNodeId()]
	if s == nil {
		s = &childSeen{}
		c.seen[child.GetNodeId()] = s
	}
	s.unit, s.epoch, s.lastCall, s.lastReal = child.GetUnit(), child.GetEpoch(), now, time.Now()
	if f != nil {
		f(s)
	}
}

// toldAbove is how far above the child was last told its feed is held.
func (c *children) toldAbove(nodeID string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.seen[nodeID]; s != nil {
		return s.toldAbove
	}
	return 0
}

// tellAbove notes what a child is told of its feed held above.
func (c *children) tellAbove(nodeID string, pos uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.seen[nodeID]; s != nil {
		s.toldAbove = pos
	}
}

// reported notes how many events a child says still wait there for this
// node.
func (c *children) reported(child *pb.Peer, now time.Time, pending *uint64) {
	if pending == nil {
		c.called(child, now, nil)
		return
	}
	c.called(child, now, func(s *childSeen) { s.pending, s.pendSeen, s.pendAt = *pending, true, now })
}

// connectedWithin: a child that called this recently is taken as
// connected even with no pull waiting here (between two long polls).
const connectedWithin = 30 * time.Second

// countScan bounds how many feed entries a count of the events a child
// has yet to pull looks at; past it the rest of the feed counts whole.
const countScan = 10000

// Children describes every child this node knows: those with a push
// cursor here and those that called since it started, by unit, most
// recently seen first.
func (h *Service) Children() ([]*pb.ChildStatus, error) {
	cursors, err := h.store.PushCursors()
	if err != nil {
		return nil, err
	}
	out := map[string]*pb.ChildStatus{}
	for _, c := range cursors {
		cs := &pb.ChildStatus{Unit: c.GetUnit(), NodeId: c.GetNodeId(), Epoch: c.GetEpoch(), PushPosition: c.GetPosition()}
		if c.GetAtMs() != 0 {
			cs.LastContact = timestamppb.New(time.UnixMilli(c.GetAtMs()))
		}
		out[c.GetNodeId()] = cs
	}
	h.kids.mu.Lock()
	seen := make(map[string]childSeen, len(h.kids.seen))
	for id, s := range h.kids.seen {
		seen[id] = *s
	}
	h.kids.mu.Unlock()
	for id, s := range seen {
		cs := out[id]
		if cs == nil {
			cs = &pb.ChildStatus{NodeId: id}
			out[id] = cs
		}
		cs.Unit, cs.Epoch = s.unit, s.epoch
		if cs.LastContact == nil || s.lastCall.After(cs.LastContact.AsTime()) {
			cs.LastContact = timestamppb.New(s.lastCall)
		}
		cs.Connected = s.polling > 0 || time.Since(s.lastReal) < connectedWithin
		cs.PullPosition, cs.PullKnown = s.pulled, s.pullSeen
		if s.pullSeen {
			cs.EventsToChild, cs.EventsToChildExact = h.toChild(id, tiers.Unit(s.unit), s.pulled)
		}
		if s.pendSeen {
			cs.EventsAtChild, cs.EventsAtChildKnown, cs.EventsAtChildAt = s.pending, true, timestamppb.New(s.pendAt)
		}
		if !s.kidsAt.IsZero() {
			cs.Children, cs.ChildrenAt = s.kids, timestamppb.New(s.kidsAt)
		}
	}
	list := make([]*pb.ChildStatus, 0, len(out))
	for id, cs := range out {
		cs.Quarantined = h.store.QuarantinedFrom(id)
		if h.cfg.UnitName != nil && cs.GetUnit() != "" {
			cs.UnitName = h.cfg.UnitName(cs.GetUnit())
		}
		for _, k := range cs.GetChildren() {
			if h.cfg.UnitName != nil && k.GetUnitName() == "" {
				k.UnitName = h.cfg.UnitName(k.GetUnit())
			}
		}
		list = append(list, cs)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.GetUnit() != b.GetUnit() {
			return a.GetUnit() < b.GetUnit()
		}
		return a.GetLastContact().AsTime().After(b.GetLastContact().AsTime())
	})
	return list, nil
}

// toChild counts the events of this node's feed after pos that a child
// of unit u (node id) is still to pull; false: the count stopped early
// and the rest of the feed counts whole.
func (h *Service) toChild(id string, u tiers.Unit, pos uint64) (uint64, bool) {
	head := h.store.FeedHead()
	var n uint64
	count := func(ev *pb.Event, from string) bool {
		if from != id && ReachesSubtree(ev.GetScope(), u) {
			n++
		}
		return false
	}
	last := pos
	for last < head && last-pos < countScan {
		_, next, err := h.store.ReadFeed(last, count, countScan/20, MaxBatchBytes)
		if err != nil || next <= last {
			return n + (head - last), false
		}
		last = next
	}
	return n + (head - min(head, last)), last >= head
}

// maxGrandchildren bounds the children a child may tell of (a township has
// some tens of villages).
const maxGrandchildren = 1000

// onlyBelow keeps what a child tells of its own children: units right
// below it, nothing nested further.
func onlyBelow(u tiers.Unit, kids []*pb.ChildStatus) []*pb.ChildStatus {
	var out []*pb.ChildStatus
	for _, k := range kids {
		if tiers.Unit(k.GetUnit()).Parent() != u || k.GetUnit() == string(u) {
			continue
		}
		k.Children, k.ChildrenAt = nil, nil
		out = append(out, k)
	}
	return out
}
