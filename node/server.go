package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/tiers"
)

// Version is the node's software version, shown by `jiujin status`.
var Version = "0.1.0"

// Config configures a Node.
type Config struct {
	Unit     tiers.Unit
	Listen   string // host:port; port 0 picks one
	DataDir  string
	Parent   string // parent node URL (used once sync runs)
	Calendar *delegation.Calendar
	Clock    Clock
	Logger   *slog.Logger
	// NoSync disables fsync; only benchmarks that say so use it.
	NoSync bool
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
	ln    net.Listener
	srv   *http.Server
	done  chan error
}

// MaxMessageBytes bounds every request body.
const MaxMessageBytes = 4 << 20

// Start opens the store, binds the listener and starts serving.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := OpenStore(StoreConfig{Dir: cfg.DataDir, Unit: cfg.Unit, Calendar: cfg.Calendar, Clock: cfg.Clock, Logger: cfg.Logger, NoSync: cfg.NoSync})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	n := &Node{cfg: cfg, Store: st, ln: ln, done: make(chan error, 1)}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c: connect clients multiplex on one connection
	n.srv = &http.Server{
		Handler:           n.Handler(),
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		err := n.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		n.done <- err
	}()
	cfg.Logger.Info("node started", "unit", cfg.Unit, "tier", cfg.Unit.Tier().String(), "url", n.URL(), "node_id", st.NodeID())
	return n, nil
}

// Handler is the node's HTTP handler: the connect services and /healthz.
func (n *Node) Handler() http.Handler {
	svc := &service{store: n.Store, started: time.Now(), version: Version}
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(MaxMessageBytes),
		// Small answers are not worth compressing; sync batches are.
		connect.WithCompressMinBytes(4 << 10),
	}
	mux := http.NewServeMux()
	mux.Handle(jiujinv1connect.NewCatalogServiceHandler(svc, opts...))
	mux.Handle(jiujinv1connect.NewApplicationServiceHandler(svc, opts...))
	mux.Handle(jiujinv1connect.NewNodeServiceHandler(svc, opts...))
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
	err := n.srv.Shutdown(ctx)
	if cerr := n.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Done reports the end of serving (nil after a clean shutdown).
func (n *Node) Done() <-chan error { return n.done }
