package node

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
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
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprint(w, b.String())
}
