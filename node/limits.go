package node

import (
	"errors"
	"net"
	"net/http"
	gosync "sync"
	"time"

	"connectrpc.com/connect"

	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/sync"
)

// What a listener allows one connection and one caller.
const (
	// readTimeout bounds reading a request, headers and body: a body sent
	// a byte at a time is cut off.
	readTimeout = 30 * time.Second
	// writeTimeout bounds writing an answer; a long poll extends its own
	// by the longest wait it may ask for.
	writeTimeout = 30 * time.Second
	// idleTimeout closes a connection no request has used for this long.
	idleTimeout = 60 * time.Second
	// maxPollsPerCaller bounds the long polls one child (its certificate)
	// holds open at once: a child needs one.
	maxPollsPerCaller = 4
	// syncRate and syncBurst bound one child's sync calls a second. A
	// quiet child makes a few (one long poll, a push per change), but a
	// busy one pushes again as soon as a push is answered, and pulls again
	// as soon as a pull returns: a call per round trip each way, hundreds a
	// second on a LAN. At 50 a second `bench sync --tls` waited seconds for
	// its allowance (p99 1.8–2.9 s against 15 ms; docs/benchmarks.md).
	syncRate  = 500
	syncBurst = 1000
)

var pullPath = jiujinv1connect.SyncServicePullProcedure

// polls counts the long polls each child holds open, and what is left of
// each child's allowance of calls.
type polls struct {
	mu      gosync.Mutex
	n       map[string]int
	buckets map[string]*bucket
	// now is the allowance's clock (nil: the wall clock; tests stop it).
	now func() time.Time
}

// bucket is a token bucket: tokens refill at syncRate a second up to
// syncBurst.
type bucket struct {
	tokens float64
	at     time.Time
}

// allow takes a token of who's bucket at now.
func (p *polls) allow(who string, now time.Time) bool {
	if p.buckets == nil {
		p.buckets = map[string]*bucket{}
	}
	b := p.buckets[who]
	if b == nil {
		b = &bucket{tokens: syncBurst, at: now}
		p.buckets[who] = b
	}
	b.tokens = min(syncBurst, b.tokens+now.Sub(b.at).Seconds()*syncRate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limitSync wraps the sync service: a pull gets the write deadline of its
// wait; a child with a certificate past its rate of calls, or already
// holding maxPollsPerCaller long polls, is refused ResourceExhausted with
// Retry-After before its body is read. An insecure node (loopback, tests) limits no
// one: its callers cannot be told apart.
func (p *polls) limitSync(h http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, known := auth.PeerOf(r)
		if r.URL.Path == pullPath {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(sync.MaxPullWait + writeTimeout))
		}
		if !known {
			h.ServeHTTP(w, r)
			return
		}
		who := string(id.Unit)
		p.mu.Lock()
		now := time.Now
		if p.now != nil {
			now = p.now
		}
		if !p.allow(who, now()) {
			p.mu.Unlock()
			_ = ew.Write(w, r, throttled("同步调用过于频繁，请稍后再试"))
			return
		}
		if r.URL.Path != pullPath {
			p.mu.Unlock()
			h.ServeHTTP(w, r)
			return
		}
		if p.n == nil {
			p.n = map[string]int{}
		}
		if p.n[who] >= maxPollsPerCaller {
			p.mu.Unlock()
			_ = ew.Write(w, r, throttled("同一下级同时等待的拉取过多，请稍后再试"))
			return
		}
		p.n[who]++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			if p.n[who]--; p.n[who] == 0 {
				delete(p.n, who)
			}
			p.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// throttled refuses a child's call for its rate: ResourceExhausted with
// Retry-After, so that the child waits rather than halving its batches
// (sync.Throttled).
func throttled(msg string) *connect.Error {
	err := connect.NewError(connect.CodeResourceExhausted, errors.New(msg))
	err.Meta().Set("Retry-After", "1")
	return err
}

// A request's headers, and the streams of one HTTP/2 connection.
const (
	maxHeaderBytes = 64 << 10
	maxStreams     = 64
)

// localOnly serves h to callers on the node's own machine, and to a
// monitoring system holding a monitor certificate of the county.
func localOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if id, ok := auth.PeerOf(r); ok && id.Role == auth.RoleMonitor {
			h(w, r)
			return
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "仅限本机或持 monitor 证书的监控系统访问", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}
