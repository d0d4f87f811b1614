package sync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	gosync "sync"
	"sync/atomic"
	"time"
)

// ErrLinkCut is what a request over a cut link fails with.
var ErrLinkCut = errors.New("link cut")

// Faults describes how a link misbehaves. Probabilities are per request;
// the randomness comes from a seeded source, so a schedule replays.
type Faults struct {
	Cut          bool          // every request fails at once
	DropRequest  float64       // the request never reaches the parent
	DropResponse float64       // the parent handles it, the answer is lost
	Duplicate    float64       // the request is sent twice
	Reorder      float64       // a duplicate is held back and delivered later
	MaxDelay     time.Duration // each request waits a random time up to this
	// Shaping: bandwidth in bytes per second (0: unlimited) and round-trip
	// time added to each request.
	Bandwidth int
	RTT       time.Duration
}

// FaultTransport is an http.RoundTripper between a child and its parent
// that injects the faults it is set to, and counts what crosses it.
type FaultTransport struct {
	Base http.RoundTripper

	mu     gosync.Mutex
	faults Faults
	rng    *rand.Rand
	// up and down serialize shaped transfers in each direction: a
	// full-duplex link, one pipe each way.
	up, down gosync.Mutex

	BytesSent     atomic.Int64 // request bodies that left
	BytesReceived atomic.Int64 // response bodies that arrived
	Requests      atomic.Int64
	Failed        atomic.Int64
	late          gosync.WaitGroup
}

// NewFaultTransport wraps base with a fault schedule seeded by seed.
func NewFaultTransport(base http.RoundTripper, seed uint64) *FaultTransport {
	return &FaultTransport{Base: base, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

// Set changes the faults from now on.
func (t *FaultTransport) Set(f Faults) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = f
}

// Heal removes every fault.
func (t *FaultTransport) Heal() { t.Set(Faults{}) }

// Wait waits for held-back duplicates still to be delivered.
func (t *FaultTransport) Wait() { t.late.Wait() }

type draw struct {
	f                      Faults
	dropReq, dropResp, dup bool
	reorder                bool
	delay, lateBy          time.Duration
}

func (t *FaultTransport) roll() draw {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := draw{f: t.faults}
	d.dropReq = t.rng.Float64() < d.f.DropRequest
	d.dropResp = t.rng.Float64() < d.f.DropResponse
	d.dup = t.rng.Float64() < d.f.Duplicate
	d.reorder = t.rng.Float64() < d.f.Reorder
	if d.f.MaxDelay > 0 {
		d.delay = time.Duration(t.rng.Int64N(int64(d.f.MaxDelay)))
		d.lateBy = time.Duration(t.rng.Int64N(int64(d.f.MaxDelay))) + d.f.MaxDelay
	}
	return d
}

// RoundTrip sends the request through the faults.
func (t *FaultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.Requests.Add(1)
	d := t.roll()
	fail := func(err error) (*http.Response, error) {
		t.Failed.Add(1)
		return nil, err
	}
	if d.f.Cut {
		return fail(ErrLinkCut)
	}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return fail(err)
		}
		body = b
	}
	clone := func() *http.Request {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		return r
	}
	if d.delay > 0 && !sleepCtx(req, d.delay) {
		return fail(req.Context().Err())
	}
	if d.dropReq {
		return fail(ErrLinkCut)
	}
	if d.dup {
		// A second copy, sent now or (reordered) after later requests.
		r := clone().WithContext(context.Background())
		t.late.Add(1)
		go func() {
			defer t.late.Done()
			if d.reorder {
				time.Sleep(d.lateBy)
			}
			if resp, err := t.Base.RoundTrip(r); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	t.shape(req, len(body), &t.up)
	t.BytesSent.Add(int64(len(body)))
	resp, err := t.Base.RoundTrip(clone())
	if err != nil {
		return fail(err)
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fail(err)
	}
	t.shape(req, len(rb), &t.down)
	t.BytesReceived.Add(int64(len(rb)))
	if d.dropResp {
		return fail(ErrLinkCut)
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	resp.ContentLength = int64(len(rb))
	return resp, nil
}

// shape delays a transfer of n bytes by the link's bandwidth and half its
// round trip, one transfer at a time in each direction.
func (t *FaultTransport) shape(req *http.Request, n int, pipe *gosync.Mutex) {
	t.mu.Lock()
	f := t.faults
	t.mu.Unlock()
	if f.Bandwidth <= 0 && f.RTT <= 0 {
		return
	}
	d := f.RTT / 2
	if f.Bandwidth > 0 {
		d += time.Duration(float64(n) / float64(f.Bandwidth) * float64(time.Second))
	}
	pipe.Lock()
	defer pipe.Unlock()
	sleepCtx(req, d)
}

func sleepCtx(req *http.Request, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-req.Context().Done():
		return false
	}
}
