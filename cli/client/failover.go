package client

import (
	"net/http"
	"net/url"
	"sync/atomic"
)

// memberFailover sends each request to the current member of a county
// group and moves on to the next when one cannot be reached or answers
// Unavailable (503); the retry interceptor then asks again there, under
// the same idempotency key.
type memberFailover struct {
	base http.RoundTripper
	urls []*url.URL
	cur  atomic.Uint64
}

func (t *memberFailover) RoundTrip(r *http.Request) (*http.Response, error) {
	i := t.cur.Load()
	u := t.urls[i%uint64(len(t.urls))]
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	res, err := t.base.RoundTrip(r)
	if err != nil || res.StatusCode == http.StatusServiceUnavailable {
		t.cur.CompareAndSwap(i, i+1)
	}
	return res, err
}
