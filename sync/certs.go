package sync

import (
	"crypto/sha256"
	gosync "sync"
)

// told remembers which signers' certificates the node at the other end
// of a link holds, so that each crosses the link once rather than with
// every batch. It errs only one way: a certificate it is unsure of is
// sent again.
type told struct {
	mu      gosync.Mutex
	known   map[[32]byte]bool
	pending map[[32]byte]bool
	// pendingPos: the pending certificates went with the batch that ends
	// at this position of the sender's feed.
	pendingPos uint64
}

// unsent are the certificates the other end may lack; they are pending,
// with the batch ending at pos, until stored (see stored).
func (t *told) unsent(certs [][]byte, pos uint64) [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out [][]byte
	pending := map[[32]byte]bool{}
	for _, der := range certs {
		h := sha256.Sum256(der)
		if !t.known[h] {
			out = append(out, der)
			pending[h] = true
		}
	}
	t.pending, t.pendingPos = pending, pos
	return out
}

// stored: the other end has stored the sender's feed up to pos, and so
// the certificates that went with the batch ending there.
func (t *told) stored(pos uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 || pos < t.pendingPos {
		return
	}
	if t.known == nil {
		t.known = map[[32]byte]bool{}
	}
	for h := range t.pending {
		t.known[h] = true
	}
	t.pending = nil
}

// toldChildren is a parent's told for each child node.
type toldChildren struct {
	mu gosync.Mutex
	m  map[string]*told
}

func (c *toldChildren) of(nodeID string) *told {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*told{}
	}
	t := c.m[nodeID]
	if t == nil {
		t = &told{}
		c.m[nodeID] = t
	}
	return t
}
