package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// RaftConfig makes a county node a member of a replicated group.
type RaftConfig struct {
	// Listen is the raft transport's address (host:port; port 0 picks one).
	Listen string
	// Bootstrap starts a new group with this member alone (first start only).
	Bootstrap bool
	// Join lists members' URLs to join through (any member will do).
	Join []string
	// Timeouts; zero takes raft's defaults.
	HeartbeatTimeout, ElectionTimeout time.Duration
	// SnapshotThreshold: entries between snapshots (default 8192).
	SnapshotThreshold uint64
	// ValueLogGarbage: bytes of the store's value log it no longer reads
	// above which a start loads the store from the last snapshot, dropping
	// them (member.go); 0 takes DefaultValueLogGarbage, negative never.
	ValueLogGarbage int64
	// Transport, if set, carries this member's calls to the others
	// (handing writes to the leader, read index, join); tests put a
	// fault-injecting layer here.
	Transport http.RoundTripper
}

// Config is what a member takes from its node.
type Config struct {
	Raft  RaftConfig
	Store *store.Store
	// Addr is the node's bound listener; URL is its base URL, the
	// member's id in the group (the others call it).
	Addr    net.Addr
	URL     string
	DataDir string
	// Version is the node's release, told to the other members.
	Version string
	// Halt stops the node: the member cannot go on (FSM.Halted).
	Halt func(error)
	// Live is told of the member as soon as it is built, before it has
	// joined, so that the node's handlers serve it while it starts.
	Live   *Live
	Logger *slog.Logger
	// RaftLog receives raft's warnings (nil: discarded).
	RaftLog io.Writer
	// HTTPClient builds the client for calls to the other members.
	HTTPClient func(http.RoundTripper) *http.Client
	// TLS, if set, is the member's certificate: raft then runs over
	// mutual TLS with the other members' member certificates (nil: plain
	// TCP, for an insecure node on loopback).
	TLS *auth.Bundle
}

// Live holds a node's member once built (nil before, and after a start
// that failed).
type Live struct{ p atomic.Pointer[Cluster] }

// Get is the member, or nil.
func (l *Live) Get() *Cluster { return l.p.Load() }

// Cluster is a node's membership of its county's group.
type Cluster struct {
	cfg   Config
	st    *store.Store
	r     *raft.Raft
	fsm   *FSM
	log   raftLog
	trans *raft.NetworkTransport
	b     *batcher     // what this member proposes while leading
	hc    *http.Client // to the other members
	// readTerm is the last term in which this member, leading, committed
	// a barrier for reads.
	readTerm atomic.Uint64
	// readers: whether each member has said it reads batch entries;
	// batching: every member of the configuration has.
	readersMu sync.Mutex
	readers   map[string]bool
	// heard: what each member said of itself when last asked, and
	// whether it answered then (for the cluster status).
	heard    map[string]*pb.GetClusterStatusResponse
	answered map[string]bool
	batching atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	downOnce sync.Once // Shutdown: at a stop, or a halt
}

// Start opens the raft log and snapshots in the data directory and joins
// or bootstraps the group. The raft log (openRaftLog) is kept apart from
// badger, which holds only the state machine's data and the applied index.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cluster{cfg: cfg, st: cfg.Store}
	if err := c.start(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start() error {
	rc, n := &c.cfg.Raft, &c.cfg
	if n.Store.Unit().Tier() != tiers.County {
		return store.Invalid("raft", "只有县级节点可以组成集群")
	}
	if host, _, err := net.SplitHostPort(n.Addr.String()); err != nil || net.ParseIP(host).IsUnspecified() {
		// A member's id is its URL, which the others call: it must be reachable.
		return store.Invalid("listen", "集群成员须监听其他成员可达的 IP（不能是 0.0.0.0），实为 %s", n.Addr)
	}
	dir := filepath.Join(n.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	hl := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: io.Discard})
	if n.RaftLog != nil {
		hl = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: n.RaftLog})
	}
	logs, err := openRaftLog(dir, hl)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), 2, hl)
	if err != nil {
		logs.Close()
		return err
	}
	if host, _, err := net.SplitHostPort(rc.Listen); err != nil || net.ParseIP(host) == nil || net.ParseIP(host).IsUnspecified() {
		logs.Close()
		return store.Invalid("raft-listen", "%q 应为其他成员可达的 IP:端口（不能是 0.0.0.0）", rc.Listen)
	}
	// Advertised as bound: the address the other members reach.
	trans, err := newTransport(rc.Listen, n.TLS, hl)
	if err != nil {
		logs.Close()
		return fmt.Errorf("raft transport on %s: %w", rc.Listen, err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(n.URL)
	conf.Logger = hl
	// A county's members share a LAN: detect a dead leader in half a
	// second rather than raft's default second. The leader's lease (how
	// long it leads without hearing from a majority) is as long: reads are
	// confirmed by a round of heartbeats, not by the lease, so a longer
	// lease costs nothing there, and a quarter second stepped a busy
	// leader down (a member's store flushing its memtable on a loaded box
	// kept heartbeats unanswered for 250–262 ms in `bench county`).
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	// Gather concurrent writes into one log append and one FSM batch.
	conf.BatchApplyCh, conf.MaxAppendEntries = true, 256
	if rc.HeartbeatTimeout > 0 {
		conf.HeartbeatTimeout, conf.LeaderLeaseTimeout = rc.HeartbeatTimeout, rc.HeartbeatTimeout
	}
	if rc.ElectionTimeout > 0 {
		conf.ElectionTimeout = rc.ElectionTimeout
	}
	if rc.SnapshotThreshold > 0 {
		// Snapshot after so many entries, keep as many behind it, and look
		// often: a member further behind installs a snapshot.
		conf.SnapshotThreshold, conf.TrailingLogs, conf.SnapshotInterval = rc.SnapshotThreshold, rc.SnapshotThreshold, 2*time.Second
	}
	hasState, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		logs.Close()
		trans.Close()
		return err
	}
	if !hasState && !rc.Bootstrap && len(rc.Join) == 0 {
		logs.Close()
		trans.Close()
		return store.Invalid("bootstrap", "集群成员首次启动须 --bootstrap（首个成员）或 --join（其余成员）")
	}
	fsm := NewFSM(n.Store)
	// A restart does not reload the whole store from the last snapshot, as
	// raft would by itself: the store keeps its applied index with its
	// data, and raft replays the log from the snapshot on, which the store
	// skips up to that index. Only a store behind the snapshot (badger does
	// not fsync in a group, so a power cut may take its last writes, and
	// the log before the snapshot may be gone) is loaded from it first.
	conf.NoSnapshotRestoreOnStart = true
	garbage := rc.ValueLogGarbage
	if garbage == 0 {
		garbage = DefaultValueLogGarbage
	}
	if err := restoreAtStart(fsm, snaps, garbage, n.Logger); err != nil {
		logs.Close()
		trans.Close()
		return err
	}
	// Recent entries are served from memory when followers are sent them.
	cached, err := raft.NewLogCache(1024, logs)
	if err != nil {
		logs.Close()
		trans.Close()
		return err
	}
	r, err := raft.NewRaft(conf, fsm, cached, logs, snaps, trans)
	if err != nil {
		logs.Close()
		trans.Close()
		return fmt.Errorf("start raft: %w", err)
	}
	c.r, c.fsm, c.log, c.trans, c.hc = r, fsm, logs, trans, n.HTTPClient(rc.Transport)
	c.readers, c.heard, c.answered = map[string]bool{}, map[string]*pb.GetClusterStatusResponse{}, map[string]bool{}
	c.stop = make(chan struct{})
	c.b = newBatcher(r, c.batching.Load)
	fsm.onReach(c.b.reached)
	fsm.OnHalt(n.Halt)
	n.Live.p.Store(c)
	go c.watchReaders()
	go c.logChanges()
	if rc.Bootstrap && !hasState {
		cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: trans.LocalAddr(), Suffrage: raft.Voter}}}
		if err := r.BootstrapCluster(cfg).Error(); err != nil {
			c.stopRaft()
			return fmt.Errorf("bootstrap: %w", err)
		}
		// The group takes this member's identity, as its log's first entry.
		go c.proposeIdentity()
	}
	if len(rc.Join) > 0 && !hasState {
		if err := c.join(rc.Join, string(trans.LocalAddr())); err != nil {
			c.stopRaft()
			return err
		}
	}
	return nil
}

// stopRaft undoes a start that failed after raft started: raft, its
// transport (the port is free again) and its log stop before the store
// closes under them.
func (c *Cluster) stopRaft() {
	c.cfg.Live.p.Store(nil)
	c.Shutdown()
}

// DefaultValueLogGarbage is RaftConfig.ValueLogGarbage's default.
const DefaultValueLogGarbage = 1 << 30

// restoreAtStart loads the newest snapshot into the store if the store has
// not applied the entries it covers, or if the store's value log holds more
// than garbage bytes it no longer reads (garbage < 0: never): loading a
// snapshot drops the value log and writes only what is live.
func restoreAtStart(fsm *FSM, snaps raft.SnapshotStore, garbage int64, logger *slog.Logger) error {
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	if len(metas) == 0 {
		return nil
	}
	if fsm.store.Applied() >= metas[0].Index {
		if garbage < 0 {
			return nil
		}
		files, live, err := fsm.store.ValueLogUse(garbage)
		if err != nil {
			return fmt.Errorf("measure value log: %w", err)
		}
		if files-live <= garbage {
			return nil
		}
		logger.Warn("store reloaded from its last snapshot, to drop what its value log holds and no longer reads",
			"value_log_mib", files>>20, "live_mib", live>>20, "snapshot_index", metas[0].Index)
	}
	_, rc, err := snaps.Open(metas[0].ID)
	if err != nil {
		return fmt.Errorf("open snapshot %s: %w", metas[0].ID, err)
	}
	return fsm.Restore(rc)
}

func (c *Cluster) proposeIdentity() {
	id := &pb.Identity{NodeId: c.st.NodeID(), Epoch: c.st.Epoch()}
	for i := 0; i < 100; i++ {
		if c.r.State() == raft.Leader {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.Propose(ctx, &pb.Command{NowMs: c.st.Now().UnixMilli(), Actor: "集群", Op: &pb.Command_Identity{Identity: id}})
			cancel()
			if err == nil {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.cfg.Logger.Error("could not record the group's identity")
}

func (c *Cluster) client(url string) jiujinv1connect.ClusterServiceClient {
	return jiujinv1connect.NewClusterServiceClient(c.hc, url)
}

// join asks the members given, one after the other, to add this one.
func (c *Cluster) join(urls []string, raftAddr string) error {
	var last error
	for try := 0; try < 20; try++ {
		for _, u := range urls {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.client(u).JoinCluster(ctx, connect.NewRequest(&pb.JoinClusterRequest{Id: c.cfg.URL, Address: raftAddr}))
			cancel()
			if err == nil {
				return nil
			}
			last = err
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("join through %v: %w", urls, last)
}

// Propose puts a command in the group's log and returns its result once
// committed and applied here: at the leader directly, from a follower by
// handing it to the leader.
func (c *Cluster) Propose(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	out, _, err := c.propose(ctx, cmd)
	return out, err
}

// raftWriteError says what a write refused by raft means to its client.
// Not-leader is not among them: propose hands the command on instead.
func raftWriteError(err error) error {
	if errors.Is(err, raft.ErrLeadershipLost) {
		// Appended, perhaps replicated: the next leader may commit it.
		return fmt.Errorf("%w: 主节点在这次写入提交途中换了，写入可能已生效也可能没有：请用同一幂等键（Idempotency-Key）再提交一次，同一键只生效一次", store.ErrLeaderChanged)
	}
	// Shutting down (ErrRaftShutdown), or anything raft adds later.
	return fmt.Errorf("%w: 这次写入未能提交（%v）：请稍后用同一幂等键再提交一次", store.ErrClosed, err)
}

// propose returns the command's output and the log index it was applied at.
func (c *Cluster) propose(ctx context.Context, cmd *pb.Command) (proto.Message, uint64, error) {
	if _, ok := cmd.GetOp().(*pb.Command_Batch); ok {
		// Only the batcher makes batches, of commands proposed one by one.
		return nil, 0, store.Invalid("command.batch", "成批命令只能由主节点把各自提交的命令合成，不能直接提交")
	}
	if fromLaterRelease(cmd) {
		// Handed over by a member of a later release: in the log, this
		// release's members would halt at it (FSM.ApplyBatch).
		return nil, 0, store.Precondition("command.op", "本成员的版本读不懂这条命令（来自更新的版本），未写入日志：请先把集群各成员升级到同一版本")
	}
	if cmd.GetOp() == nil {
		return nil, 0, store.Invalid("command.op", "命令为空")
	}
	b, err := proto.Marshal(cmd)
	if err != nil {
		return nil, 0, err
	}
	// What is handed to the leader carries a request id: if the answer is
	// lost, the command is handed over again and must not apply twice.
	var fwd []byte
	for {
		if c.r.State() == raft.Leader {
			data := b
			if fwd != nil {
				// Handed to an earlier leader already (this member has
				// since been elected): it may be in the log, so it keeps
				// its request id.
				data = fwd
			}
			res := c.b.propose(data)
			if err := res.err; err != nil {
				if errors.Is(err, raft.ErrNotLeader) {
					continue
				}
				return nil, 0, raftWriteError(err)
			}
			return res.Out, res.index, res.Err
		}
		_, leader := c.r.LeaderWithID()
		if leader == "" {
			select {
			case <-ctx.Done():
				return nil, 0, fmt.Errorf("%w: 集群暂无主节点", store.ErrClosed)
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		if fwd == nil {
			withID := proto.CloneOf(cmd)
			if withID.GetRequestId() == "" {
				withID.RequestId = newRequestID()
			}
			if fwd, err = proto.Marshal(withID); err != nil {
				return nil, 0, err
			}
		}
		res, err := c.client(string(leader)).Propose(ctx, connect.NewRequest(&pb.ProposeRequest{Command: fwd}))
		if err != nil {
			var ce *connect.Error
			if errors.As(err, &ce) && ce.Code() != connect.CodeUnavailable && ce.Code() != connect.CodeUnknown {
				return nil, 0, ce // the command's own refusal, as the leader said it
			}
			select {
			case <-ctx.Done():
				return nil, 0, err
			case <-time.After(50 * time.Millisecond):
				continue // the leader changed or is going: ask again
			}
		}
		// Read your own write: wait until this member has applied it.
		for c.st.Applied() < res.Msg.GetIndex() {
			select {
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			case <-c.st.Changed():
			case <-time.After(20 * time.Millisecond):
			}
		}
		if res.Msg.GetResult() == nil {
			return nil, res.Msg.GetIndex(), nil
		}
		out, err := res.Msg.GetResult().UnmarshalNew()
		return out, res.Msg.GetIndex(), err
	}
}

// Shutdown leaves the group: raft, its transport and its log stop.
func (c *Cluster) Shutdown() {
	c.downOnce.Do(func() {
		if c.r.State() == raft.Leader {
			// A planned stop hands the leadership over first: the group
			// does not wait out an election timeout.
			c.r.LeadershipTransfer().Error()
		}
		c.stopOnce.Do(func() { close(c.stop) })
		c.b.close()
		c.r.Shutdown().Error()
		c.hc.CloseIdleConnections()
		c.trans.Close()
		c.log.Close()
	})
}

// leaderClient is the leader's ClusterService, for a member that is not
// the leader (nil at the leader itself).
func (c *Cluster) leaderClient() (jiujinv1connect.ClusterServiceClient, error) {
	if c.r.State() == raft.Leader {
		return nil, nil
	}
	_, leader := c.r.LeaderWithID()
	if leader == "" {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("集群暂无主节点"))
	}
	return c.client(string(leader)), nil
}

// leaderReadIndex is, at the leader, how far a linearizable read must see
// the log applied: every write any client has been told of. A write told
// of by this leader was applied here before the answer went out. A write
// told of by an earlier leader is older than any entry of this term, so
// the first read of a term waits for one (a barrier) to be committed and
// applied. Then a round of heartbeats confirms that no newer leader has
// been answering; the store's applied index is the read index.
func (c *Cluster) leaderReadIndex() (uint64, error) {
	if c.r.State() != raft.Leader {
		return 0, errors.New("不是主节点")
	}
	if term := c.r.CurrentTerm(); c.readTerm.Load() != term {
		if err := c.r.Barrier(5 * time.Second).Error(); err != nil {
			return 0, err
		}
		c.readTerm.Store(term)
	}
	index := c.st.Applied()
	if err := c.r.VerifyLeader().Error(); err != nil {
		return 0, err
	}
	return index, nil
}

// ReadBarrier makes a read at this member linearizable: it learns the
// read index (from itself if it leads, else from the leader) and waits
// until it has applied that far.
func (c *Cluster) ReadBarrier(ctx context.Context) error {
	for {
		index, err := c.readIndex(ctx)
		if err == nil {
			for c.st.Applied() < index {
				select {
				case <-ctx.Done():
					return fmt.Errorf("%w: %v", store.ErrClosed, ctx.Err())
				case <-c.st.Changed():
				case <-time.After(5 * time.Millisecond):
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: 集群暂无主节点，无法保证读到最新状态", store.ErrClosed)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) readIndex(ctx context.Context) (uint64, error) {
	if c.r.State() == raft.Leader {
		return c.leaderReadIndex()
	}
	_, leader := c.r.LeaderWithID()
	if leader == "" {
		return 0, errors.New("集群暂无主节点")
	}
	res, err := c.client(string(leader)).ReadIndex(ctx, connect.NewRequest(&pb.ReadIndexRequest{}))
	if err != nil {
		return 0, err
	}
	return res.Msg.GetIndex(), nil
}

// newRequestID is a random id for a command handed to the leader (a
// client's key is "c:" and its own).
func newRequestID() string { return fmt.Sprintf("m:%x", rand.Text()[:20]) }

// Leading tells whether this member leads the group now.
func (c *Cluster) Leading() bool { return c.r.State() == raft.Leader }

// Raft is the member's raft instance (status pages and tests look at it).
func (c *Cluster) Raft() *raft.Raft { return c.r }

// Transport is the member's raft transport.
func (c *Cluster) Transport() *raft.NetworkTransport { return c.trans }

// Batching tells whether every member has said it reads batch entries, so
// that the leader's batcher may gather commands into one.
func (c *Cluster) Batching() bool { return c.batching.Load() }

// CheckReaders asks the members at these URLs which entries they read and
// reports whether all read batch entries, as the leader does before it
// batches (see checkReaders). It records their answers as that does.
func (c *Cluster) CheckReaders(ctx context.Context, urls []string) bool {
	return c.checkReaders(ctx, urls)
}

// LogStore is the member's raft log, for reading what it holds (tests,
// diagnostics); writes go through raft.
func (c *Cluster) LogStore() raft.LogStore { return c.log }

// newTransport is raft's network: mutual TLS between members when the
// member has a certificate, plain TCP on loopback otherwise.
func newTransport(listen string, b *auth.Bundle, hl hclog.Logger) (*raft.NetworkTransport, error) {
	if b == nil {
		return raft.NewTCPTransportWithLogger(listen, nil, 3, 10*time.Second, hl)
	}
	stream, err := auth.NewStreamLayer(listen, b)
	if err != nil {
		return nil, err
	}
	return raft.NewNetworkTransportWithLogger(stream, 3, 10*time.Second, hl), nil
}
