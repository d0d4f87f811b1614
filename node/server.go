// Package node is one jiujin node, wired: the store and its rules, the
// link to the parent, a county member's group, the connect handlers and
// the HTTP server that serves them, and /metrics. It holds no rule and no
// protocol of its own.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	gosync "sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/dgraph-io/badger/v4"
	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/node/web"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// Version is the node's release; `-ldflags "-X
// github.com/jiujin/jiujin/node.Version=..."` sets it at build time.
// `jiujin status` shows it with the commit the binary was built from (see
// fullVersion).
var Version = "0.1.0"

// fullVersion is Version and, when the build recorded it, the commit the
// binary was built from ("0.1.0+0123456789ab", ".modified" if the tree had
// uncommitted changes): members of a group that all say "0.1.0" may still
// run different code.
func fullVersion(bi *debug.BuildInfo) string {
	if bi == nil {
		return Version
	}
	var rev string
	var modified bool
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			rev = st.Value
		case "vcs.modified":
			modified = st.Value == "true"
		}
	}
	if rev == "" {
		return Version
	}
	v := Version + "+" + rev[:min(12, len(rev))]
	if modified {
		v += ".modified"
	}
	return v
}

func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return fullVersion(bi)
}

// Config configures a Node.
type Config struct {
	Unit    tiers.Unit
	Listen  string // host:port; port 0 picks one
	DataDir string
	// Parents are the parent node's URLs (its members, for a county
	// group); empty for a county. The node syncs with the first that
	// answers.
	Parents  []string
	Calendar *delegation.Calendar
	Clock    store.Clock
	Logger   *slog.Logger
	// NoSync disables fsync; only benchmarks that say so use it.
	NoSync bool
	// EncryptionKey (32 bytes) keeps the store encrypted at rest, its
	// backups and snapshots sealed (nil: plain).
	EncryptionKey []byte
	// Sync tunes the link to the parent (batch sizes, long-poll wait,
	// backoff); zero values take the defaults of package sync.
	Sync sync.Config
	// SyncTransport, if set, carries the link's requests (tests put a
	// fault-injecting layer here).
	SyncTransport http.RoundTripper
	// TLS is the node's certificate and the county CA it trusts: the
	// listener serves TLS 1.3 and node-to-node calls need a node
	// certificate. Nil only with Insecure.
	TLS *auth.Bundle
	// TLSDir is where TLS was loaded from: a renewed certificate is
	// written there ("": no renewal).
	TLSDir string
	// RenewEvery is how often the node looks at its certificate's age
	// (default an hour; negative: never).
	RenewEvery time.Duration
	// Insecure runs without certificates, on loopback addresses only (tests,
	// a developer's machine): every call is anonymous and may do anything.
	Insecure bool
	// SessionIdle and SessionAbsolute end an operator's session (defaults
	// 30 minutes idle, 12 hours in all).
	SessionIdle, SessionAbsolute time.Duration
	// Raft makes a county node a member of a replicated group (nil: alone).
	Raft *cluster.RaftConfig
	// RaftLog receives raft's warnings (nil: discarded).
	RaftLog io.Writer
	// SweepEvery is how often the node withdraws, with a notice, the
	// applications it holds whose 容缺 materials are overdue (default 10
	// minutes; negative: never, for tests that sweep by hand).
	SweepEvery time.Duration

	// BootID names the machine's boot (tests: a member restarted in
	// another boot); defaults to the kernel's.
	BootID func() string
	// Tune adjusts badger's options (tests: smaller files).
	Tune func(badger.Options) badger.Options
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if _, err := tiers.Parse(string(c.Unit)); err != nil {
		return fmt.Errorf("unit: %w", err)
	}
	if c.Listen == "" {
		return store.Invalid("listen", "未指定监听地址")
	}
	if c.DataDir == "" {
		return store.Invalid("data", "未指定数据目录")
	}
	if c.Calendar == nil {
		return store.Invalid("calendar", "未加载工作日历")
	}
	if c.Unit.Tier() == tiers.County && len(c.Parents) > 0 {
		return store.Invalid("parent", "县级节点没有上级")
	}
	if err := c.validateTrust(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// validateTrust checks that the node has a certificate for its unit and
// role, or runs insecure on loopback addresses only.
func (c *Config) validateTrust() error {
	switch {
	case c.TLS == nil && !c.Insecure:
		return store.Invalid("tls-dir", "未指定节点证书目录（--tls-dir）；仅在本机测试时可用 --insecure")
	case c.TLS != nil && c.Insecure:
		return store.Invalid("insecure", "已指定节点证书，不能同时 --insecure")
	case c.Insecure:
		addrs := []string{c.Listen}
		if c.Raft != nil {
			addrs = append(addrs, c.Raft.Listen)
		}
		for _, a := range addrs {
			if !loopback(a) {
				return store.Invalid("insecure", "--insecure 只能监听本机回环地址（127.0.0.1、::1、localhost），%q 不是", a)
			}
		}
		return nil
	}
	self := c.TLS.Self
	if self.Unit != c.Unit {
		return store.Invalid("tls-dir", "证书属于单位 %s，本节点是 %s", self.Unit, c.Unit)
	}
	if c.Raft != nil && self.Role != auth.RoleMember {
		return store.Invalid("tls-dir", "县级集群成员须持 member 证书（ca issue --role member），此证书是 %s", self.Role)
	}
	return nil
}

// loopback reports whether a listen address binds loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Node is a running node: its store and rules, and its HTTP listener.
type Node struct {
	cfg   Config
	Rules *rules.Rules
	Store *store.Store
	Link  *sync.Link // nil for a county
	ln    net.Listener
	srv   *http.Server
	done  chan error
	// halted: why the node stopped serving by itself (see halt).
	halted atomic.Pointer[error]

	stopLink context.CancelFunc
	linkDone chan struct{}
	// stopRequests ends long polls in flight when the node shuts down.
	stopRequests context.CancelFunc
	syncClient   *http.Client
	polls        polls
	cluster      *cluster.Cluster
	// live is the member once built, for the handlers: they serve while
	// it is still opening its raft log.
	live cluster.Live
	// accounts logs operators in and holds their sessions.
	accounts *auth.Accounts
	// parentSvc serves the node's children and describes them (synclocal.go).
	parentSvc *sync.Service
}

// MaxMessageBytes bounds every request body.
const MaxMessageBytes = 4 << 20

// Start opens the store, binds the listener and starts serving.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc := store.Config{Dir: cfg.DataDir, Unit: cfg.Unit, Clock: cfg.Clock, Logger: cfg.Logger, NoSync: cfg.NoSync, Tune: cfg.Tune,
		EncryptionKey: cfg.EncryptionKey}
	if cfg.Raft != nil {
		// The raft log is the durable record: the store is tuned for that
		// (no fsync, values in the value log; store/member.go).
		sc.Member, sc.BootID = true, cfg.BootID
	}
	if cfg.TLS != nil {
		// A node with a certificate signs what it writes and checks what
		// it receives.
		sg, err := auth.NewSigning(cfg.TLS)
		if err != nil {
			return nil, err
		}
		sc.Signing = sg
	}
	r, err := rules.Open(rules.Config{Store: sc, Calendar: cfg.Calendar})
	if err != nil {
		return nil, err
	}
	st := r.Store()
	if cfg.TLS != nil {
		cfg.TLS.SetRevocations(auth.RevocationsOf(r))
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	n := &Node{cfg: cfg, Rules: r, Store: st, ln: ln, done: make(chan error, 1), linkDone: make(chan struct{})}
	if len(cfg.Parents) > 0 {
		lc := cfg.Sync
		lc.Local = syncLocal{n}
		lc.ParentURLs = append([]string(nil), cfg.Parents...)
		lc.Logger = cfg.Logger
		lc.TooLarge = func(err error) bool { return errors.Is(err, store.ErrBatchTooLarge) }
		lc.Children = func() ([]*pb.ChildStatus, error) { return n.childStatus(), nil }
		lc.HTTPClient = sync.HTTPClient(n.transport(cfg.SyncTransport))
		n.syncClient = lc.HTTPClient
		if n.Link, err = sync.NewLink(lc); err != nil {
			ln.Close()
			st.Close()
			return nil, store.Invalid("parent", "%v", err)
		}
	}
	n.accounts = auth.NewAccounts(auth.AccountsConfig{Rules: r, Write: n.write, Insecure: cfg.Insecure,
		Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute, Now: st.Now, Logger: cfg.Logger})
	n.serve()
	if cfg.Raft != nil {
		if err := n.startCluster(); err != nil {
			n.srv.Close()
			st.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stopLink = cancel
	go func() {
		defer close(n.linkDone)
		var wg gosync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); n.sweepLoop(ctx) }()
		go func() { defer wg.Done(); n.renewLoop(ctx) }()
		if n.Link != nil {
			n.Link.Serve(ctx)
		}
		wg.Wait()
	}()
	if cfg.Insecure {
		cfg.Logger.Warn("insecure: no certificates, no logins; every call acts as 匿名（insecure） with every role — for tests and a developer's machine only")
	}
	if cfg.Unit.Tier() != tiers.County && len(cfg.Parents) == 0 {
		cfg.Logger.Warn("no parent configured: this node works alone and forwards nothing", "unit", cfg.Unit)
	}
	cfg.Logger.Info("node started", "unit", cfg.Unit, "tier", cfg.Unit.Tier().String(), "url", n.URL(), "node_id", st.NodeID())
	return n, nil
}

// serve starts the HTTP server on the bound listener.
func (n *Node) serve() {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	if n.cfg.TLS != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true) // h2c: connect clients multiplex on one connection
	}
	reqCtx, stopRequests := context.WithCancel(context.Background())
	n.stopRequests = stopRequests
	n.srv = &http.Server{
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		Handler:           n.Handler(),
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// A child holds a few long polls and a push at a time, a console
		// page a handful of calls: a connection needs no more streams.
		HTTP2:    &http.HTTP2Config{MaxConcurrentStreams: maxStreams},
		ErrorLog: slog.NewLogLogger(n.cfg.Logger.Handler(), slog.LevelWarn),
	}
	ln := n.ln
	if n.cfg.TLS != nil {
		n.srv.TLSConfig = n.cfg.TLS.ServerConfig()
		n.srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		ln = tls.NewListener(ln, n.srv.TLSConfig)
	}
	go func() {
		err := n.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
			if h := n.halted.Load(); h != nil {
				err = *h
			}
		}
		n.done <- err
	}()
}

// startCluster makes this county node a member of its group, once it
// serves: the others call it at its URL while it joins.
func (n *Node) startCluster() error {
	c, err := cluster.Start(cluster.Config{Raft: *n.cfg.Raft, Store: n.Store, Addr: n.ln.Addr(), URL: n.URL(),
		DataDir: n.cfg.DataDir, Version: buildVersion(), Halt: n.halt, Live: &n.live, Logger: n.cfg.Logger,
		RaftLog: n.cfg.RaftLog, TLS: n.cfg.TLS,
		HTTPClient: func(rt http.RoundTripper) *http.Client { return sync.HTTPClient(n.transport(rt)) }})
	if err != nil {
		return err
	}
	n.cluster = c
	return nil
}

// Apply runs a command through the node's writer: its store, or for a
// member of a county group the group's log (the store then applies what
// the log commits).
func (n *Node) Apply(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	if n.cfg.Raft == nil {
		return n.Store.Apply(ctx, cmd)
	}
	c := n.live.Get()
	if c == nil {
		return nil, fmt.Errorf("%w: 集群尚未启动", store.ErrClosed)
	}
	return c.Propose(ctx, cmd)
}

// write is the writer of the node's own commands (a window's, an
// administrator's): refused while the node's clock is more than
// store.MaxClockSkew from its parent's, for every event it would write
// would carry the wrong time (and, ahead, be quarantined upstream).
func (n *Node) write(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	if n.Link != nil {
		if skew, ok := n.Link.ClockSkew(); ok && (skew > store.MaxClockSkew || skew < -store.MaxClockSkew) {
			way := "快"
			if skew < 0 {
				way, skew = "慢", -skew
			}
			return nil, store.Precondition("clock", "本机时钟比上级%s %s，超过允许的 %s：请校准本机时间（开启 NTP 自动对时）后再办理；校准前本节点不写入任何事项",
				way, skew.Round(time.Second), store.MaxClockSkew)
		}
	}
	return n.Apply(ctx, cmd)
}

// Handler is the node's HTTP handler: the connect services, /metrics and
// /healthz.
func (n *Node) Handler() http.Handler {
	var barrier func(ctx context.Context) error
	var live *cluster.Live
	if n.cfg.Raft != nil {
		live = &n.live
		barrier = func(ctx context.Context) error {
			c := n.live.Get()
			if c == nil {
				return fmt.Errorf("%w: 集群尚未启动", store.ErrClosed)
			}
			return c.ReadBarrier(ctx)
		}
	}
	// Sync answers are compressed whatever their size: on a 4G link even a
	// lone event's answer is smaller gzipped (measured by bench sync).
	parent := sync.NewService(sync.ServiceConfig{Local: syncLocal{n}, Group: n.cfg.Raft != nil, Barrier: barrier,
		ConnectError: rpc.ConnectError, Caller: caller, Logger: n.cfg.Logger, UnitName: n.unitName})
	n.parentSvc = parent
	svc := rpc.New(rpc.Config{Rules: n.Rules, Write: n.write, Barrier: barrier, Links: n.linkStatus, Children: parent.Children,
		Version: buildVersion(), Started: time.Now(), TLS: n.cfg.TLS, Accounts: n.accounts})
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(MaxMessageBytes),
		// Small answers are not worth compressing; sync batches are.
		connect.WithCompressMinBytes(4 << 10),
	}
	// People's services: every call authenticated and authorized in one place.
	people := append(opts[:len(opts):len(opts)], connect.WithInterceptors(n.accounts.Interceptor(), svc.Names()))
	mux := http.NewServeMux()
	mux.Handle(jiujinv1connect.NewAccountServiceHandler(svc, people...))
	mux.Handle(jiujinv1connect.NewCatalogServiceHandler(svc, people...))
	mux.Handle(jiujinv1connect.NewUnitServiceHandler(svc, people...))
	mux.Handle(jiujinv1connect.NewApplicationServiceHandler(svc, people...))
	mux.Handle(jiujinv1connect.NewNodeServiceHandler(svc, people...))
	mux.Handle(jiujinv1connect.NewDelegationServiceHandler(svc, people...))
	mux.Handle(jiujinv1connect.NewEnrollServiceHandler(svc, people...))
	mux.Handle(n.guard(jiujinv1connect.NewClusterServiceHandler(cluster.NewService(live, n.Store, n.URL(), buildVersion()), opts...))(auth.RoleMember))
	syncPath, syncHandler := n.guard(jiujinv1connect.NewSyncServiceHandler(parent,
		connect.WithReadMaxBytes(MaxMessageBytes), connect.WithCompressMinBytes(0)))(auth.RoleNode, auth.RoleMember)
	mux.Handle(syncPath, n.polls.limitSync(syncHandler))
	// The console: every other path, under the same accounts and roles.
	console, err := web.New(web.Config{Rules: n.Rules, Service: svc, Accounts: n.accounts, Links: n.linkStatus, Logger: n.cfg.Logger})
	if err != nil {
		panic(err) // the embedded templates are the binary's own
	}
	mux.Handle("/", console)
	mux.HandleFunc("/backup", n.backupHandler)
	mux.HandleFunc("/metrics", localOnly(n.metricsHandler))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		security := "tls"
		if n.cfg.Insecure {
			security = "insecure"
		}
		fmt.Fprintf(w, "ok %s %s %s\n", n.cfg.Unit, n.Store.NodeID(), security)
	})
	return mux
}

// URL is the node's base URL.
func (n *Node) URL() string {
	if n.cfg.TLS != nil {
		return "https://" + n.ln.Addr().String()
	}
	return "http://" + n.ln.Addr().String()
}

// guard serves a node-to-node service (path, handler as connect-go
// returns them) only to callers with a node certificate of roles; an
// insecure node serves it to anyone.
func (n *Node) guard(path string, h http.Handler) func(roles ...auth.Role) (string, http.Handler) {
	return func(roles ...auth.Role) (string, http.Handler) {
		if n.cfg.TLS == nil {
			return path, h
		}
		return path, auth.Guard(h, n.cfg.TLS, n.cfg.Logger, roles...)
	}
}

// caller is the unit whose node certificate made the call of ctx.
func caller(ctx context.Context) (tiers.Unit, bool) {
	id, ok := auth.Peer(ctx)
	return id.Unit, ok
}

// transport carries the node's calls to other nodes: HTTP/2 over TLS with
// its certificate, or h2c when insecure; inner, if set, instead (tests put
// a fault-injecting layer there, over a transport of their own).
func (n *Node) transport(inner http.RoundTripper) http.RoundTripper {
	if inner != nil {
		return inner
	}
	var tc *tls.Config
	if n.cfg.TLS != nil {
		tc = n.cfg.TLS.ClientConfig()
	}
	return sync.Transport(tc)
}

// Addr is the bound address.
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// Shutdown stops accepting requests, lets those in flight finish (until ctx
// ends), and closes the store.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopLink()
	<-n.linkDone
	if n.syncClient != nil {
		// Let the parent see this connection close now, not at its idle timeout.
		n.syncClient.CloseIdleConnections()
	}
	if n.cluster != nil {
		// Out of the group first: a stopping member must not lead.
		n.cluster.Shutdown()
	}
	n.stopRequests()
	err := n.srv.Shutdown(ctx)
	n.accounts.Wait()
	if cerr := n.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// sweepLoop runs the 容缺 sweep now and then.
func (n *Node) sweepLoop(ctx context.Context) {
	every := n.cfg.SweepEvery
	if every < 0 {
		return
	}
	if every == 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c := n.live.Get(); c != nil && !c.Leading() {
				continue // in a group, the leader sweeps for all
			}
			out, err := n.Apply(ctx, &pb.Command{NowMs: n.Store.Now().UnixMilli(), Actor: store.SystemActor, Op: &pb.Command_Sweep{Sweep: &pb.Sweep{}}})
			if err != nil {
				n.cfg.Logger.Warn("sweep failed", "err", err)
			} else if l := out.(*pb.ListApplicationsResponse); l.GetTotal() > 0 {
				n.cfg.Logger.Info("容缺材料逾期：已自动告知撤回", "applications", l.GetTotal())
			}
		}
	}
}

func (n *Node) linkStatus() []*pb.LinkStatus {
	if n.Link == nil {
		return nil
	}
	return n.Link.Status()
}

// halt stops serving because the node cannot go on (a county member met
// a command of a later release in its log): Done reports err.
func (n *Node) halt(err error) {
	n.cfg.Logger.Error("本节点已停止", "err", err)
	if n.halted.CompareAndSwap(nil, &err) {
		go func() { // not on the state machine's goroutine: raft waits for it
			if c := n.live.Get(); c != nil {
				// Out of the group: a member that applies nothing must not
				// lead, nor count towards a quorum that leads.
				c.Shutdown()
			}
			n.srv.Close()
		}()
	}
}

// Done reports the end of serving (nil after a clean shutdown, the error
// if the node had to stop).
func (n *Node) Done() <-chan error { return n.done }
