package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
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

// cluster is a node's membership of a group.
type cluster struct {
	n     *Node
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
	downOnce sync.Once // shutdown: at a stop, or a halt (Node.halt)
}

// startRaft opens the raft log and snapshots in the data directory and
// joins or bootstraps the group. The raft log (openRaftLog) is kept apart
// from badger, which holds only the state machine's data and the applied
// index.
func (n *Node) startRaft(rc *RaftConfig) error {
	if n.cfg.Unit.Tier() != tiers.County {
		return invalid("raft", "只有县级节点可以组成集群")
	}
	if host, _, err := net.SplitHostPort(n.ln.Addr().String()); err != nil || net.ParseIP(host).IsUnspecified() {
		// A member's id is its URL, which the others call: it must be reachable.
		return invalid("listen", "集群成员须监听其他成员可达的 IP（不能是 0.0.0.0），实为 %s", n.ln.Addr())
	}
	dir := filepath.Join(n.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	hl := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: io.Discard})
	if n.cfg.RaftLog != nil {
		hl = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: n.cfg.RaftLog})
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
		return invalid("raft-listen", "%q 应为其他成员可达的 IP:端口（不能是 0.0.0.0）", rc.Listen)
	}
	// Advertised as bound: the address the other members reach.
	trans, err := raft.NewTCPTransportWithLogger(rc.Listen, nil, 3, 10*time.Second, hl)
	if err != nil {
		logs.Close()
		return fmt.Errorf("raft transport on %s: %w", rc.Listen, err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(n.URL())
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
		return invalid("bootstrap", "集群成员首次启动须 --bootstrap（首个成员）或 --join（其余成员）")
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
	if err := restoreAtStart(fsm, snaps, garbage, n.cfg.Logger); err != nil {
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
	n.cluster = &cluster{n: n, r: r, fsm: fsm, log: logs, trans: trans, hc: syncHTTPClient(rc.Transport),
		readers: map[string]bool{}, heard: map[string]*pb.GetClusterStatusResponse{}, answered: map[string]bool{}, stop: make(chan struct{})}
	n.cluster.b = newBatcher(r, n.cluster.batching.Load)
	fsm.onReach(n.cluster.b.reached)
	fsm.onHalt(n.halt)
	n.live.Store(n.cluster)
	go n.cluster.watchReaders()
	if rc.Bootstrap && !hasState {
		cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: trans.LocalAddr(), Suffrage: raft.Voter}}}
		if err := r.BootstrapCluster(cfg).Error(); err != nil {
			n.stopRaft()
			return fmt.Errorf("bootstrap: %w", err)
		}
		// The group takes this member's identity, as its log's first entry.
		go n.cluster.proposeIdentity()
	}
	if len(rc.Join) > 0 && !hasState {
		if err := n.cluster.join(rc.Join, string(trans.LocalAddr())); err != nil {
			n.stopRaft()
			return err
		}
	}
	return nil
}

// stopRaft undoes a start that failed after raft started: raft, its
// transport (the port is free again) and its log stop before the store
// closes under them.
func (n *Node) stopRaft() {
	n.live.Store(nil)
	n.cluster.shutdown()
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
		files, live, err := fsm.store.valueLogUse(garbage)
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

func (c *cluster) proposeIdentity() {
	id := &pb.Identity{NodeId: c.n.Store.NodeID(), Epoch: c.n.Store.Epoch()}
	for i := 0; i < 100; i++ {
		if c.r.State() == raft.Leader {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.Propose(ctx, &pb.Command{NowMs: c.n.Store.Now().UnixMilli(), Actor: "集群", Op: &pb.Command_Identity{Identity: id}})
			cancel()
			if err == nil {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.n.cfg.Logger.Error("could not record the group's identity")
}

func (c *cluster) client(url string) jiujinv1connect.ClusterServiceClient {
	return jiujinv1connect.NewClusterServiceClient(c.hc, url)
}

// join asks the members given, one after the other, to add this one.
func (c *cluster) join(urls []string, raftAddr string) error {
	var last error
	for try := 0; try < 20; try++ {
		for _, u := range urls {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.client(u).JoinCluster(ctx, connect.NewRequest(&pb.JoinClusterRequest{Id: c.n.URL(), Address: raftAddr}))
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
func (c *cluster) Propose(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	out, _, err := c.propose(ctx, cmd)
	return out, err
}

// raftWriteError says what a write refused by raft means to its client.
// Not-leader is not among them: propose hands the command on instead.
func raftWriteError(err error) error {
	if errors.Is(err, raft.ErrLeadershipLost) {
		// Appended, perhaps replicated: the next leader may commit it.
		return fmt.Errorf("%w: 主节点在这次写入提交途中换了，写入可能已生效也可能没有：请用同一幂等键（Idempotency-Key）再提交一次，同一键只生效一次", ErrLeaderChanged)
	}
	// Shutting down (ErrRaftShutdown), or anything raft adds later.
	return fmt.Errorf("%w: 这次写入未能提交（%v）：请稍后用同一幂等键再提交一次", ErrClosed, err)
}

// propose returns the command's output and the log index it was applied at.
func (c *cluster) propose(ctx context.Context, cmd *pb.Command) (proto.Message, uint64, error) {
	if _, ok := cmd.GetOp().(*pb.Command_Batch); ok {
		// Only the batcher makes batches, of commands proposed one by one.
		return nil, 0, invalid("command.batch", "成批命令只能由主节点把各自提交的命令合成，不能直接提交")
	}
	if fromLaterRelease(cmd) {
		// Handed over by a member of a later release: in the log, this
		// release's members would halt at it (FSM.ApplyBatch).
		return nil, 0, precondition("command.op", "本成员的版本读不懂这条命令（来自更新的版本），未写入日志：请先把集群各成员升级到同一版本")
	}
	if cmd.GetOp() == nil {
		return nil, 0, invalid("command.op", "命令为空")
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
				return nil, 0, fmt.Errorf("%w: 集群暂无主节点", ErrClosed)
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
		for c.n.Store.Applied() < res.Msg.GetIndex() {
			select {
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			case <-c.n.Store.Changed():
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

func (c *cluster) shutdown() {
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

// clusterService serves ClusterService.
type clusterService struct{ n *Node }

func (h *clusterService) raft() (*cluster, error) {
	c := h.n.live.Load()
	switch {
	case c == nil && h.n.cfg.Raft != nil:
		// Still opening its raft log after a restart: a member forwarding
		// a write here must try again, not take this for a refusal.
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("本成员正在启动，尚未加入集群"))
	case c == nil:
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("本节点不在集群中"))
	}
	return c, nil
}

func (h *clusterService) GetClusterStatus(ctx context.Context, req *connect.Request[pb.GetClusterStatusRequest]) (*connect.Response[pb.GetClusterStatusResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	f := c.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, connectError(err)
	}
	_, leader := c.r.LeaderWithID()
	res := &pb.GetClusterStatusResponse{Leader: string(leader), State: c.r.State().String(), Applied: h.n.Store.Applied(), Id: h.n.URL()}
	fmt.Sscan(c.r.Stats()["last_snapshot_index"], &res.SnapshotIndex)
	res.SnapshotsInstalled = c.fsm.installed.Load()
	res.Reads, res.Version = []string{logReadsBatch}, buildVersion()
	if res.ValueLogBytes, err = h.n.Store.ValueLogBytes(); err != nil {
		return nil, connectError(fmt.Errorf("value log of the store: %w", err))
	}
	for _, s := range f.Configuration().Servers {
		suffrage := "voter"
		if s.Suffrage != raft.Voter {
			suffrage = "nonvoter"
		}
		m := &pb.Member{Id: string(s.ID), Address: string(s.Address), Suffrage: suffrage, Leader: s.ID == leader}
		c.describe(m)
		res.Members = append(res.Members, m)
	}
	return connect.NewResponse(res), nil
}

// leaderClient is the leader's ClusterService, for a member that is not
// the leader (nil at the leader itself).
func (c *cluster) leaderClient() (jiujinv1connect.ClusterServiceClient, error) {
	if c.r.State() == raft.Leader {
		return nil, nil
	}
	_, leader := c.r.LeaderWithID()
	if leader == "" {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("集群暂无主节点"))
	}
	return c.client(string(leader)), nil
}

func (h *clusterService) JoinCluster(ctx context.Context, req *connect.Request[pb.JoinClusterRequest]) (*connect.Response[pb.JoinClusterResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	if lc, err := c.leaderClient(); err != nil || lc != nil {
		if err != nil {
			return nil, err
		}
		return lc.JoinCluster(ctx, req)
	}
	if err := c.r.AddVoter(raft.ServerID(req.Msg.GetId()), raft.ServerAddress(req.Msg.GetAddress()), 0, 10*time.Second).Error(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&pb.JoinClusterResponse{}), nil
}

func (h *clusterService) RemoveMember(ctx context.Context, req *connect.Request[pb.RemoveMemberRequest]) (*connect.Response[pb.RemoveMemberResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	if lc, err := c.leaderClient(); err != nil || lc != nil {
		if err != nil {
			return nil, err
		}
		return lc.RemoveMember(ctx, req)
	}
	f := c.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	var ids []string
	for _, s := range f.Configuration().Servers {
		ids = append(ids, string(s.ID))
	}
	if !slices.Contains(ids, req.Msg.GetId()) {
		// raft takes an unknown id as done: say it is not a member.
		return nil, connectError(notFound("id", "%s 不是集群成员（成员：%s）", req.Msg.GetId(), strings.Join(ids, "、")))
	}
	if err := c.r.RemoveServer(raft.ServerID(req.Msg.GetId()), 0, 10*time.Second).Error(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&pb.RemoveMemberResponse{}), nil
}

func (h *clusterService) Propose(ctx context.Context, req *connect.Request[pb.ProposeRequest]) (*connect.Response[pb.ProposeResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	if c.r.State() != raft.Leader {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("不是主节点"))
	}
	cmd := &pb.Command{}
	if err := proto.Unmarshal(req.Msg.GetCommand(), cmd); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("command: %w", err))
	}
	out, index, err := c.propose(ctx, cmd)
	if err != nil {
		return nil, connectError(err)
	}
	res := &pb.ProposeResponse{Index: index}
	if out != nil {
		if res.Result, err = anypb.New(out); err != nil {
			return nil, connectError(err)
		}
	}
	return connect.NewResponse(res), nil
}

func (h *clusterService) ReadIndex(ctx context.Context, req *connect.Request[pb.ReadIndexRequest]) (*connect.Response[pb.ReadIndexResponse], error) {
	c, err := h.raft()
	if err != nil {
		return nil, err
	}
	index, err := c.leaderReadIndex()
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&pb.ReadIndexResponse{Index: index}), nil
}

// leaderReadIndex is, at the leader, how far a linearizable read must see
// the log applied: every write any client has been told of. A write told
// of by this leader was applied here before the answer went out. A write
// told of by an earlier leader is older than any entry of this term, so
// the first read of a term waits for one (a barrier) to be committed and
// applied. Then a round of heartbeats confirms that no newer leader has
// been answering; the store's applied index is the read index.
func (c *cluster) leaderReadIndex() (uint64, error) {
	if c.r.State() != raft.Leader {
		return 0, errors.New("不是主节点")
	}
	if term := c.r.CurrentTerm(); c.readTerm.Load() != term {
		if err := c.r.Barrier(5 * time.Second).Error(); err != nil {
			return 0, err
		}
		c.readTerm.Store(term)
	}
	index := c.n.Store.Applied()
	if err := c.r.VerifyLeader().Error(); err != nil {
		return 0, err
	}
	return index, nil
}

// readBarrier makes a read at this member linearizable: it learns the
// read index (from itself if it leads, else from the leader) and waits
// until it has applied that far.
func (c *cluster) readBarrier(ctx context.Context) error {
	for {
		index, err := c.readIndex(ctx)
		if err == nil {
			for c.n.Store.Applied() < index {
				select {
				case <-ctx.Done():
					return fmt.Errorf("%w: %v", ErrClosed, ctx.Err())
				case <-c.n.Store.Changed():
				case <-time.After(5 * time.Millisecond):
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: 集群暂无主节点，无法保证读到最新状态", ErrClosed)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *cluster) readIndex(ctx context.Context) (uint64, error) {
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
func newRequestID() string { return fmt.Sprintf("m:%x", randomBytes(12)) }

// logReadsBatch is what a member says, in its cluster status, when its
// state machine reads entries holding a CommandBatch.
const logReadsBatch = "batch"

// watchReaders keeps asking the other members which entries they read: a member of an earlier release cannot read a
// batch entry and would refuse it, parting from the others, so the
// batcher batches only once every member has said it reads them.
func (c *cluster) watchReaders() {
	for {
		// Every member asks, so that one elected while another is down
		// knows what that one said before.
		if f := c.r.GetConfiguration(); f.Error() == nil {
			var ids []string
			for _, s := range f.Configuration().Servers {
				if string(s.ID) != c.n.URL() {
					ids = append(ids, string(s.ID))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.batching.Store(c.checkReaders(ctx, ids))
			cancel()
		}
		wait := 2 * time.Second
		if c.r.State() == raft.Leader && !c.batching.Load() {
			wait = 200 * time.Millisecond // a member not heard from yet
		}
		select {
		case <-c.stop:
			return
		case <-time.After(wait):
		}
	}
}

// checkReaders asks each member (by its id, its URL) which entries it
// reads and reports whether all read batch entries. A member that does
// not answer counts as it last did; one never heard from, as not.
func (c *cluster) checkReaders(ctx context.Context, ids []string) bool {
	answers := make([]*pb.GetClusterStatusResponse, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			if res, err := c.client(id).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{})); err == nil {
				answers[i] = res.Msg
			}
		})
	}
	wg.Wait()
	c.readersMu.Lock()
	defer c.readersMu.Unlock()
	all := true
	for i, id := range ids {
		a := answers[i]
		if a != nil {
			c.readers[id] = slices.Contains(a.GetReads(), logReadsBatch)
			c.heard[id] = &pb.GetClusterStatusResponse{Version: a.GetVersion(), State: a.GetState(), Applied: a.GetApplied()}
		}
		c.answered[id] = a != nil
		all = all && c.readers[id]
	}
	return all
}

// describe fills in a member of the status with what it said of itself
// when last asked (this member: itself, now).
func (c *cluster) describe(m *pb.Member) {
	if m.GetId() == c.n.URL() {
		m.Version, m.State, m.Applied, m.Answered = buildVersion(), c.r.State().String(), c.n.Store.Applied(), true
		return
	}
	c.readersMu.Lock()
	defer c.readersMu.Unlock()
	if h := c.heard[m.GetId()]; h != nil {
		m.Version, m.State, m.Applied = h.GetVersion(), h.GetState(), h.GetApplied()
	}
	m.Answered = c.answered[m.GetId()]
}
