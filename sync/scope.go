// Package sync moves events between a node and its parent: store-and-forward
// along the county-township-village tree, always started by the child. It
// knows events, scopes, feeds and cursors, nothing of applications.
//
// A child runs one Link to its parent: a push loop that sends the parent
// what it should hold and a pull loop (long poll) that fetches what the
// child should hold. Both are supervised Serve(ctx) error loops that retry
// with jittered exponential backoff; a cut link only delays.
package sync

import (
	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// ReachesSubtree reports whether an event with scope s is for unit u or
// some unit below it: what u must hold to serve itself or relay down.
func ReachesSubtree(s *pb.Scope, u tiers.Unit) bool {
	for _, x := range s.GetUnits() {
		if u.Contains(tiers.Unit(x)) {
			return true
		}
	}
	for _, x := range s.GetSubtrees() {
		if tiers.Unit(x).Contains(u) || u.Contains(tiers.Unit(x)) {
			return true
		}
	}
	return false
}

// LeavesSubtree reports whether an event with scope s is for some unit
// outside u's subtree: what u must hand to its parent.
func LeavesSubtree(s *pb.Scope, u tiers.Unit) bool {
	for _, x := range s.GetUnits() {
		if !u.Contains(tiers.Unit(x)) {
			return true
		}
	}
	for _, x := range s.GetSubtrees() {
		if !u.Contains(tiers.Unit(x)) {
			return true
		}
	}
	return false
}

// Holds reports whether unit u itself is meant to hold an event of scope s.
func Holds(s *pb.Scope, u tiers.Unit) bool {
	for _, x := range s.GetUnits() {
		if tiers.Unit(x) == u {
			return true
		}
	}
	for _, x := range s.GetSubtrees() {
		if tiers.Unit(x).Contains(u) {
			return true
		}
	}
	return false
}
