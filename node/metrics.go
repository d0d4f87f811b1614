package node

import (
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// metricsHandler serves the node's figures in the Prometheus text format.
// No metric carries an identity number or a name: only counts.
func (n *Node) metricsHandler(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	gauge := func(name, help string, value any, labels ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		if len(labels) == 0 {
			fmt.Fprintf(&b, "%s %v\n", name, value)
		}
	}
	st := n.Store
	unit := string(st.Unit())
	gauge("go_goroutines", "Goroutines of the node's process.", runtime.NumGoroutine())
	gauge("jiujin_feed_head", "Last position of the node's feed (events held).", st.FeedHead())
	q, held := st.SyncCounts()
	fmt.Fprintf(&b, "# HELP jiujin_quarantined_events_total Events refused and kept aside, ever.\n# TYPE jiujin_quarantined_events_total counter\njiujin_quarantined_events_total %d\n", q)
	gauge("jiujin_held_back_events", "Events waiting for their predecessor to arrive.", held)
	if c, err := n.Rules.Counts(); err == nil {
		fmt.Fprintf(&b, "# HELP jiujin_applications Applications held by this node, by state.\n# TYPE jiujin_applications gauge\n")
		states := make([]string, 0, len(c.ByState))
		for s := range c.ByState {
			states = append(states, s)
		}
		sort.Strings(states)
		for _, s := range states {
			fmt.Fprintf(&b, "jiujin_applications{unit=%q,state=%q} %d\n", unit, s, c.ByState[s])
		}
		gauge("jiujin_overdue_applications", "Applications past their statutory limit and not decided.", c.Overdue)
	}
	links := n.linkStatus()
	if len(links) > 0 {
		fmt.Fprintf(&b, "# HELP jiujin_link_connected 1 if the last exchange with the parent succeeded.\n# TYPE jiujin_link_connected gauge\n")
		for _, l := range links {
			v := 0
			if l.GetConnected() {
				v = 1
			}
			fmt.Fprintf(&b, "jiujin_link_connected{direction=%q} %d\n", l.GetDirection(), v)
		}
		fmt.Fprintf(&b, "# HELP jiujin_link_events_behind Feed positions still to move (upper bound).\n# TYPE jiujin_link_events_behind gauge\n")
		for _, l := range links {
			fmt.Fprintf(&b, "jiujin_link_events_behind{direction=%q} %d\n", l.GetDirection(), l.GetEventsBehind())
		}
		fmt.Fprintf(&b, "# HELP jiujin_link_bytes_behind Feed bytes still to move (upper bound).\n# TYPE jiujin_link_bytes_behind gauge\n")
		for _, l := range links {
			fmt.Fprintf(&b, "jiujin_link_bytes_behind{direction=%q} %d\n", l.GetDirection(), l.GetBytesBehind())
		}
		fmt.Fprintf(&b, "# HELP jiujin_link_last_contact_seconds Unix time of the last successful exchange.\n# TYPE jiujin_link_last_contact_seconds gauge\n")
		for _, l := range links {
			fmt.Fprintf(&b, "jiujin_link_last_contact_seconds{direction=%q} %d\n", l.GetDirection(), l.GetLastContact().GetSeconds())
		}
	}
	childMetrics(&b, n.childStatus())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprint(w, b.String())
}

// childMetrics writes a parent's figures per child node, labelled by unit
// and node id (a unit whose node was replaced appears once per node).
func childMetrics(b *strings.Builder, kids []*pb.ChildStatus) {
	if len(kids) == 0 {
		return
	}
	series := []struct {
		name, help, typ string
		value           func(c *pb.ChildStatus) (uint64, bool)
	}{
		{"jiujin_child_connected", "1 if the child has a pull waiting here or called in the last 30 s.", "gauge",
			func(c *pb.ChildStatus) (uint64, bool) {
				if c.GetConnected() {
					return 1, true
				}
				return 0, true
			}},
		{"jiujin_child_last_contact_seconds", "Unix time of the child's last call or push here.", "gauge",
			func(c *pb.ChildStatus) (uint64, bool) {
				return uint64(c.GetLastContact().GetSeconds()), c.GetLastContact() != nil
			}},
		{"jiujin_child_push_position", "The child's feed position stored here (its push cursor).", "gauge",
			func(c *pb.ChildStatus) (uint64, bool) { return c.GetPushPosition(), true }},
		{"jiujin_child_pull_position", "This node's feed position the child has stored.", "gauge",
			func(c *pb.ChildStatus) (uint64, bool) { return c.GetPullPosition(), c.GetPullKnown() }},
		{"jiujin_child_events_to_pull", "Events here the child has yet to pull (an upper bound past 10000 positions).", "gauge",
			func(c *pb.ChildStatus) (uint64, bool) { return c.GetEventsToChild(), c.GetPullKnown() }},
		{"jiujin_child_events_waiting", "Events waiting at the child for this node, as it last said.", "gauge",
			func(c *pb.ChildStatus) (uint64, bool) { return c.GetEventsAtChild(), c.GetEventsAtChildKnown() }},
		{"jiujin_child_quarantined_events_total", "Events of the child quarantined here, ever.", "counter",
			func(c *pb.ChildStatus) (uint64, bool) { return c.GetQuarantined(), true }},
	}
	for _, s := range series {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", s.name, s.help, s.name, s.typ)
		for _, c := range kids {
			if v, ok := s.value(c); ok {
				fmt.Fprintf(b, "%s{unit=%q,node=%q} %d\n", s.name, c.GetUnit(), c.GetNodeId(), v)
			}
		}
	}
}
