package store

// SystemActor is the actor of a command the node gives itself (the sweep, a
// sync batch, an automatic receipt or forwarding): an event it writes
// names the node, as SystemActorOf(node id).
const SystemActor = "系统"

// SystemActorOf is how an event written by node itself names its actor.
func SystemActorOf(nodeID string) string { return "系统（节点 " + nodeID + "）" }

// legacyActors are what automatic events said before they named their
// node; history shows them as SystemActorOf their origin.
var legacyActors = map[string]bool{
	"sync": true, SystemActor: true, "系统自动接收": true, "系统自动转报": true, "系统自动答复": true, "并联办理汇总": true,
}

// DisplayActor is the actor of a stored event as people read it: an
// automatic event of an earlier release (actor "sync", "系统", …, with no
// operator login) reads as SystemActorOf its origin.
func DisplayActor(actor, login, origin string) string {
	if login == "" && legacyActors[actor] {
		return SystemActorOf(origin)
	}
	return actor
}
