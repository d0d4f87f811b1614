package node

import (
	"context"
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
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
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
	Clock    Clock
	Logger   *slog.Logger
	// NoSync disables fsync; only benchmarks that say so use it.
	NoSync bool
	// Sync tunes the link to the parent (batch sizes, long-poll wait,
	// backoff); zero values take the defaults of package sync.
	Sync sync.Config
	// SyncTransport, if set, carries the link's requests (tests put a
	// fault-injecting layer here).
	SyncTransport http.RoundTripper
	// Raft makes a county node a member of a replicated group (nil: alone).
	Raft *RaftConfig
	// RaftLog receives raft's warnings (nil: discarded).
	RaftLog io.Writer
	// SweepEvery is how often the node withdraws, with a notice, the
	// applications it holds whose 容缺 materials are overdue (default 10
	// minutes; negative: never, for tests that sweep by hand).
	SweepEvery time.Duration

	bootID func() string // tests: a member restarted in another boot
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if _, err := tiers.Parse(string(c.Unit)); err != nil {
		return fmt.Errorf("unit: %w", err)
	}
	if c.Listen == "" {
		return invalid("listen", "未指定监听地址")
	}
	if c.DataDir == "" {
		return invalid("data", "未指定数据目录")
	}
	if c.Calendar == nil {
		return invalid("calendar", "未加载工作日历")
	}
	if c.Unit.Tier() == tiers.County && len(c.Parents) > 0 {
		return invalid("parent", "县级节点没有上级")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return nil
}

// Node is a running node: its store and its HTTP listener.
type Node struct {
	cfg   Config
	Store *Store
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
	cluster      *cluster
	// live is the cluster once built, for the handlers: they serve while
	// the member is still opening its raft log.
	live atomic.Pointer[cluster]
}

// MaxMessageBytes bounds every request body.
const MaxMessageBytes = 4 << 20

// Start opens the store, binds the listener and starts serving.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc := StoreConfig{Dir: cfg.DataDir, Unit: cfg.Unit, Calendar: cfg.Calendar, Clock: cfg.Clock, Logger: cfg.Logger, NoSync: cfg.NoSync}
	var prop *lateProposer
	if cfg.Raft != nil {
		// Writes go to the group's log; the proposer exists once raft runs.
		prop = &lateProposer{}
		sc.Proposer = prop
		// The raft log is the durable record: the store is tuned for that
		// (no fsync, values in the value log; member.go).
		sc.Member, sc.bootID = true, cfg.bootID
	}
	st, err := OpenStore(sc)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	n := &Node{cfg: cfg, Store: st, ln: ln, done: make(chan error, 1), linkDone: make(chan struct{})}
	if len(cfg.Parents) > 0 {
		lc := cfg.Sync
		lc.Local = st
		lc.ParentURLs = append([]string(nil), cfg.Parents...)
		lc.Logger = cfg.Logger
		lc.TooLarge = func(err error) bool { return errors.Is(err, ErrBatchTooLarge) }
		lc.HTTPClient = syncHTTPClient(cfg.SyncTransport)
		n.syncClient = lc.HTTPClient
		if n.Link, err = sync.NewLink(lc); err != nil {
			ln.Close()
			st.Close()
			return nil, invalid("parent", "%v", err)
		}
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c: connect clients multiplex on one connection
	reqCtx, stopRequests := context.WithCancel(context.Background())
	n.stopRequests = stopRequests
	n.srv = &http.Server{
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		Handler:           n.Handler(),
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
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
	if cfg.Raft != nil {
		if err := n.startRaft(cfg.Raft); err != nil {
			n.srv.Close()
			st.Close()
			return nil, err
		}
		prop.set(n.cluster)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stopLink = cancel
	go func() {
		defer close(n.linkDone)
		var wg gosync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); n.sweepLoop(ctx) }()
		if n.Link != nil {
			n.Link.Serve(ctx)
		}
		wg.Wait()
	}()
	if cfg.Unit.Tier() != tiers.County && len(cfg.Parents) == 0 {
		cfg.Logger.Warn("no parent configured: this node works alone and forwards nothing", "unit", cfg.Unit)
	}
	cfg.Logger.Info("node started", "unit", cfg.Unit, "tier", cfg.Unit.Tier().String(), "url", n.URL(), "node_id", st.NodeID())
	return n, nil
}

// Handler is the node's HTTP handler: the connect services, /metrics and
// /healthz.
func (n *Node) Handler() http.Handler {
	svc := &service{store: n.Store, started: time.Now(), version: buildVersion(), links: n.linkStatus}
	if n.cfg.Raft != nil {
		svc.barrier = func(ctx context.Context) error {
			c := n.live.Load()
			if c == nil {
				return fmt.Errorf("%w: 集群尚未启动", ErrClosed)
			}
			return c.readBarrier(ctx)
		}
	}
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(MaxMessageBytes),
		// Small answers are not worth compressing; sync batches are.
		connect.WithCompressMinBytes(4 << 10),
	}
	mux := http.NewServeMux()
	mux.Handle(jiujinv1connect.NewCatalogServiceHandler(svc, opts...))
	mux.Handle(jiujinv1connect.NewApplicationServiceHandler(svc, opts...))
	mux.Handle(jiujinv1connect.NewNodeServiceHandler(svc, opts...))
	mux.Handle(jiujinv1connect.NewDelegationServiceHandler(svc, opts...))
	mux.Handle(jiujinv1connect.NewClusterServiceHandler(&clusterService{n: n}, opts...))
	// Sync answers are compressed whatever their size: on a 4G link even a
	// lone event's answer is smaller gzipped (measured by bench sync).
	mux.Handle(jiujinv1connect.NewSyncServiceHandler(&syncService{store: n.Store, group: n.cfg.Raft != nil, barrier: svc.barrier},
		connect.WithReadMaxBytes(MaxMessageBytes), connect.WithCompressMinBytes(0)))
	mux.HandleFunc("/metrics", n.metricsHandler)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "ok %s %s\n", n.cfg.Unit, n.Store.NodeID())
	})
	return mux
}

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.ln.Addr().String() }

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
		n.cluster.shutdown()
	}
	n.stopRequests()
	err := n.srv.Shutdown(ctx)
	if cerr := n.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// lateProposer hands commands to the cluster once it runs.
type lateProposer struct {
	mu gosync.Mutex
	c  *cluster
}

func (p *lateProposer) set(c *cluster) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c = c
}

func (p *lateProposer) Propose(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("%w: 集群尚未启动", ErrClosed)
	}
	return c.Propose(ctx, cmd)
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
			if c := n.live.Load(); c != nil && c.r.State() != raft.Leader {
				continue // in a group, the leader sweeps for all
			}
			out, err := n.Store.Apply(ctx, &pb.Command{NowMs: n.Store.Now().UnixMilli(), Actor: "系统", Op: &pb.Command_Sweep{Sweep: &pb.Sweep{}}})
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

// syncHTTPClient speaks h2c to the parent: one connection carries the
// long-poll pull and the pushes.
func syncHTTPClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		protocols := new(http.Protocols)
		protocols.SetUnencryptedHTTP2(true)
		rt = &http.Transport{
			Protocols:   protocols,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		}
	}
	return &http.Client{Transport: rt}
}

// halt stops serving because the node cannot go on (a county member met
// a command of a later release in its log): Done reports err.
func (n *Node) halt(err error) {
	n.cfg.Logger.Error("本节点已停止", "err", err)
	if n.halted.CompareAndSwap(nil, &err) {
		go func() { // not on the state machine's goroutine: raft waits for it
			if n.cluster != nil {
				// Out of the group: a member that applies nothing must not
				// lead, nor count towards a quorum that leads.
				n.cluster.shutdown()
			}
			n.srv.Close()
		}()
	}
}

// Done reports the end of serving (nil after a clean shutdown, the error
// if the node had to stop).
func (n *Node) Done() <-chan error { return n.done }
