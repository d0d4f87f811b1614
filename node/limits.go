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
	// maxPollsPerCaller bounds the long polls one child (its certificate,
	// or its address on an insecure node) holds open at once: a child
	// needs one.
	maxPollsPerCaller = 4
)

var pullPath = jiujinv1connect.SyncServicePullProcedure

// polls counts the long polls each caller holds open.
type polls struct {
	mu gosync.Mutex
	n  map[string]int
}

// limitPolls wraps the sync service: a pull gets the write deadline of its
// wait, and a caller already holding maxPollsPerCaller is refused
// ResourceExhausted, before its body is read.
func (p *polls) limitPolls(h http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != pullPath {
			h.ServeHTTP(w, r)
			return
		}
		who := callerKey(r)
		p.mu.Lock()
		if p.n == nil {
			p.n = map[string]int{}
		}
		if p.n[who] >= maxPollsPerCaller {
			p.mu.Unlock()
			_ = ew.Write(w, r, connect.NewError(connect.CodeResourceExhausted, errors.New("同一下级同时等待的拉取过多，请稍后再试")))
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
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(sync.MaxPullWait + writeTimeout))
		h.ServeHTTP(w, r)
	})
}

// callerKey names who calls: the unit of its node certificate, or else
// its address.
func callerKey(r *http.Request) string {
	if id, ok := auth.PeerOf(r); ok {
		return "unit:" + string(id.Unit)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

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
