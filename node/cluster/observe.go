package cluster

import "github.com/hashicorp/raft"

// logChanges logs the group's elections and changes of membership at
// this member, as the audit of a county's IT department asks.
func (c *Cluster) logChanges() {
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.PeerObservation:
			return true
		}
		return false
	})
	c.r.RegisterObserver(obs)
	defer c.r.DeregisterObserver(obs)
	for {
		select {
		case <-c.stop:
			return
		case o := <-ch:
			switch d := o.Data.(type) {
			case raft.LeaderObservation:
				c.cfg.Logger.Info("county group: leader", "leader", string(d.LeaderID), "address", string(d.LeaderAddr))
			case raft.PeerObservation:
				what := "joined"
				if d.Removed {
					what = "removed"
				}
				c.cfg.Logger.Info("county group: member "+what, "member", string(d.Peer.ID), "address", string(d.Peer.Address))
			}
		}
	}
}
