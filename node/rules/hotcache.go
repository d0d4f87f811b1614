package rules

import (
	"strings"
	"sync"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// hotCache keeps, decoded, the records every acceptance reads: the
// delegations (all of them, by matter) and the matters. Without it each
// acceptance scans and decodes every delegation record, and in a batch
// each scan first sorts all the batch's pending writes.
//
// It is filled only from what is in badger (committed, or flushed into
// the batch's transaction), emptied for a kind whenever a record of that
// kind is staged, and emptied entirely when a commit fails or the store
// is restored: it never holds what the store does not.
type hotCache struct {
	mu      sync.Mutex
	dels    map[string][]*pb.Delegation // by matter; nil: not loaded
	matters map[string]*pb.Matter       // by code, as stored
	units   map[string]*pb.Unit         // by code; nil: not loaded
}

func (c *hotCache) reset() {
	c.mu.Lock()
	c.dels, c.matters, c.units = nil, nil, nil
	c.mu.Unlock()
}

// staged is told of every record key a write stages.
func (c *hotCache) staged(key string) {
	switch {
	case strings.HasPrefix(key, recDelegation):
		c.mu.Lock()
		c.dels = nil
		c.mu.Unlock()
	case strings.HasPrefix(key, recMatter):
		c.mu.Lock()
		delete(c.matters, strings.TrimPrefix(key, recMatter))
		c.mu.Unlock()
	case strings.HasPrefix(key, recUnit):
		c.mu.Lock()
		c.units = nil
		c.mu.Unlock()
	}
}

func (c *hotCache) delegations(matter string) ([]*pb.Delegation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dels == nil {
		return nil, false
	}
	return c.dels[matter], true
}

func (c *hotCache) setDelegations(all []*pb.Delegation) {
	m := map[string][]*pb.Delegation{}
	for _, d := range all {
		m[d.GetMatterCode()] = append(m[d.GetMatterCode()], d)
	}
	c.mu.Lock()
	c.dels = m
	c.mu.Unlock()
}

func (c *hotCache) matter(code string) (*pb.Matter, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.matters[code]
	return m, ok
}

func (c *hotCache) setMatter(code string, m *pb.Matter) {
	c.mu.Lock()
	if c.matters == nil {
		c.matters = map[string]*pb.Matter{}
	}
	c.matters[code] = m
	c.mu.Unlock()
}
