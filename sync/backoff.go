package sync

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Clock is the time source of the loops; tests inject their own.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ProbeMax is the longest a link waits between two tries to reach its
// parent: a village cut off for a day still finds its township within
// seconds of its return. The wait at the cap is drawn from [0.7, 1) of it
// (3.5–5 s), so the villages of a township that comes back do not call it
// all at once.
const ProbeMax = 5 * time.Second

// Backoff is jittered exponential backoff that resets on success: after n
// failures in a row it waits a random time in [d/2, d), d = Min·2ⁿ, while
// d is below Max; from then on a random time in [0.7·Max, Max). Many
// villages that lost the same link do not come back at once, and none
// waits longer than Max.
type Backoff struct {
	Min, Max time.Duration
	Clock    Clock
	Rand     *rand.Rand
	failures int
}

// NewBackoff returns a backoff with the given bounds and seed.
func NewBackoff(min, max time.Duration, seed uint64) *Backoff {
	return &Backoff{Min: min, Max: max, Clock: systemClock{}, Rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Next returns how long to wait after one more failure.
func (b *Backoff) Next() time.Duration {
	d := b.Min
	for i := 0; i < b.failures && d < b.Max; i++ {
		d *= 2
	}
	b.failures++
	if d >= b.Max {
		// At the cap: a probe every 0.7–1 × Max, uniformly.
		lo := b.Max * 7 / 10
		if span := b.Max - lo; span > 0 {
			return lo + time.Duration(b.Rand.Int64N(int64(span)))
		}
		return b.Max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(b.Rand.Int64N(int64(half)))
}

// Reset forgets the failures: the next wait starts at Min again.
func (b *Backoff) Reset() { b.failures = 0 }

// Failures is how many failures in a row there have been.
func (b *Backoff) Failures() int { return b.failures }

// Wait sleeps for Next(), or until ctx ends.
func (b *Backoff) Wait(ctx context.Context) error {
	select {
	case <-b.Clock.After(b.Next()):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// seedOf is a jitter seed drawn from a name (a node id, a loop's
// direction): nodes, and the two loops of one link, draw apart.
func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}
