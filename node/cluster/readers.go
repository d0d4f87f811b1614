package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// Which entries each member reads: the leader batches commands into one
// log entry only once every member has said it reads batch entries.

// logReadsBatch is what a member says, in its cluster status, when its
// state machine reads entries holding a CommandBatch.
const logReadsBatch = "batch"

// watchReaders keeps asking the other members which entries they read: a member of an earlier release cannot read a
// batch entry and would refuse it, parting from the others, so the
// batcher batches only once every member has said it reads them.
func (c *Cluster) watchReaders() {
	for {
		// Every member asks, so that one elected while another is down
		// knows what that one said before.
		if f := c.r.GetConfiguration(); f.Error() == nil {
			var ids []string
			for _, s := range f.Configuration().Servers {
				if string(s.ID) != c.cfg.URL {
					ids = append(ids, string(s.ID))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.batching.Store(c.checkReaders(ctx, ids))
			cancel()
		}
		wait := 2 * time.Second
		if c.r.State() == raft.Leader && !c.batching.Load() {
			wait = 200 * time.Millisecond // a member not heard from yet
		}
		select {
		case <-c.stop:
			return
		case <-time.After(wait):
		}
	}
}

// checkReaders asks each member (by its id, its URL) which entries it
// reads and reports whether all read batch entries. A member that does
// not answer counts as it last did; one never heard from, as not.
func (c *Cluster) checkReaders(ctx context.Context, ids []string) bool {
	answers := make([]*pb.GetClusterStatusResponse, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			if res, err := c.client(id).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{})); err == nil {
				answers[i] = res.Msg
			}
		})
	}
	wg.Wait()
	c.readersMu.Lock()
	defer c.readersMu.Unlock()
	all := true
	for i, id := range ids {
		a := answers[i]
		if a != nil {
			c.readers[id] = slices.Contains(a.GetReads(), logReadsBatch)
			c.heard[id] = &pb.GetClusterStatusResponse{Version: a.GetVersion(), State: a.GetState(), Applied: a.GetApplied()}
		}
		c.answered[id] = a != nil
		all = all && c.readers[id]
	}
	return all
}

// describe fills in a member of the status with what it said of itself
// when last asked (this member: itself, now).
func (c *Cluster) describe(m *pb.Member) {
	if m.GetId() == c.cfg.URL {
		m.Version, m.State, m.Applied, m.Answered = c.cfg.Version, c.r.State().String(), c.st.Applied(), true
		return
	}
	c.readersMu.Lock()
	defer c.readersMu.Unlock()
	if h := c.heard[m.GetId()]; h != nil {
		m.Version, m.State, m.Applied = h.GetVersion(), h.GetState(), h.GetApplied()
	}
	m.Answered = c.answered[m.GetId()]
}
