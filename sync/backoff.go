package sync

import (
	"context"
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

// Backoff is jittered exponential backoff that resets on success: after n
// failures in a row it waits a random time in [d/2, d), d = Min·2ⁿ capped
// at Max, so many villages that lost the same link do not come back at once.
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
	if d > b.Max {
		d = b.Max
	}
	b.failures++
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
