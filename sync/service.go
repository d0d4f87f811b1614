package sync

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Sync batch bounds a parent enforces on what it is sent and what it sends.
const (
	MaxBatchEvents = 2000
	MaxBatchBytes  = 1 << 20
	MaxPullWait    = 60 * time.Second
)

// Parent is what the parent's side of the protocol needs of its node.
type Parent interface {
	Self() *pb.Peer
	FeedHead() uint64
	// Changed is closed at the next commit that adds events.
	Changed() <-chan struct{}
	ReadFeed(after uint64, keep func(ev *pb.Event, from string) bool, maxEvents, maxBytes int) ([]*pb.Event, uint64, error)
	// Certificates are those of the events' signers, sent with them.
	Certificates(events []*pb.Event) ([][]byte, error)
	// PushCursor is what the node has stored of a child's feed.
	PushCursor(childNodeID string) (*pb.Cursor, error)
	// CheckPeer makes sure a peer is the node's direct child (pushed) or
	// its parent.
	CheckPeer(from *pb.Peer, pushed bool) error
	// Ingest stores a pushed batch (its events, and the certificates of
	// their signers) and the child's cursor atomically.
	Ingest(ctx context.Context, from *pb.Peer, pushed bool, events []*pb.Event, certs [][]byte, last, head uint64) (*pb.PushResponse, error)
	BytesAfter(pos uint64) uint64
	// Now is the node's clock, told to its children.
	Now() time.Time
	// UpstreamAcked is how far this node's own parent holds a child's
	// feed: the child's feed position and since when (unix ms); 0 when
	// nothing, or when this node is the county.
	UpstreamAcked(childNodeID string) (uint64, int64, error)
	// AckChanged is closed when this node's parent next acknowledges
	// more of its feed (never, at the county).
	AckChanged() <-chan struct{}
	// PushCursors are the cursors of every child that has pushed here;
	// QuarantinedFrom how many events of a child were quarantined here.
	PushCursors() ([]*pb.Cursor, error)
	QuarantinedFrom(childNodeID string) uint64
}

// ServiceConfig configures the parent's side.
type ServiceConfig struct {
	Local Parent
	// Group: this node is a member of a county group, whose members share
	// one identity and feed; one that lags behind a child's cursor waits
	// for the group instead of looking rolled back.
	Group bool
	// Barrier, for a member of a county group, makes a read see every
	// write the group acknowledged (nil: a single node).
	Barrier func(ctx context.Context) error
	// ConnectError gives the node's errors their connect codes.
	ConnectError func(error) error
	// Caller is the unit whose node certificate made the call (false: the
	// node runs insecure and takes the unit a request names).
	Caller func(ctx context.Context) (tiers.Unit, bool)
	// Logger records refused calls (nil: slog.Default()).
	Logger *slog.Logger
	// UnitName names a unit in Children, where a name is known (nil or
	// "": the code alone).
	UnitName func(code string) string
}

// Service is the parent's side of the sync protocol: it serves its
// children's pushes and long-poll pulls.
type Service struct {
	cfg   ServiceConfig
	store Parent
	// told: which certificates each child has stored from pull answers.
	told toldChildren
	// kids: what each child's calls said since this node started.
	kids children
}

// NewService serves the sync protocol to a node's children.
func NewService(cfg ServiceConfig) *Service {
	if cfg.ConnectError == nil {
		cfg.ConnectError = func(err error) error { return err }
	}
	if cfg.Caller == nil {
		cfg.Caller = func(context.Context) (tiers.Unit, bool) { return "", false }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, store: cfg.Local}
}

// checkCaller refuses a call naming another unit than the certificate of
// the node that makes it: a child speaks for its own unit only.
func (h *Service) checkCaller(ctx context.Context, procedure string, child *pb.Peer) error {
	unit, ok := h.cfg.Caller(ctx)
	if !ok || string(unit) == child.GetUnit() {
		return nil
	}
	h.cfg.Logger.Warn("sync call for another unit refused", "procedure", procedure, "certificate_unit", unit, "claimed_unit", child.GetUnit())
	return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("child.unit: 证书属于 %s，不能以 %.20s 的名义同步", unit, child.GetUnit()))
}

func (h *Service) PushCursor(ctx context.Context, req *connect.Request[pb.PushCursorRequest]) (*connect.Response[pb.PushCursorResponse], error) {
	child := req.Msg.GetChild()
	if err := h.checkCaller(ctx, "PushCursor", child); err != nil {
		return nil, err
	}
	if err := h.store.CheckPeer(child, true); err != nil {
		return nil, h.cfg.ConnectError(err)
	}
	c, err := h.store.PushCursor(child.GetNodeId())
	if err != nil {
		return nil, h.cfg.ConnectError(err)
	}
	h.kids.called(child, h.store.Now(), nil)
	res := &pb.PushCursorResponse{Parent: h.store.Self(), AckedPosition: c.GetPosition(), LastHash: c.GetLastHash(), NowMs: h.store.Now().UnixMilli()}
	if c.GetEpoch() != child.GetEpoch() {
		// A new identity of the child: resync it from scratch.
		res.AckedPosition, res.LastHash = 0, nil
	} else {
		res.UpstreamAckedPosition, res.UpstreamAckedMs = h.upstream(child)
	}
	return connect.NewResponse(res), nil
}

func (h *Service) Push(ctx context.Context, req *connect.Request[pb.PushRequest]) (*connect.Response[pb.PushResponse], error) {
	m := req.Msg
	if err := h.checkCaller(ctx, "Push", m.GetChild()); err != nil {
		return nil, err
	}
	if len(m.GetEvents()) > MaxBatchEvents {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("events: 一批最多 %d 个事件，实为 %d", MaxBatchEvents, len(m.GetEvents())))
	}
	if m.GetLastPosition() < m.GetAfterPosition() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("last_position: %d 小于 after_position %d", m.GetLastPosition(), m.GetAfterPosition()))
	}
	if err := h.checkAcked(ctx, m.GetChild(), m.GetAckedPosition()); err != nil {
		return nil, h.cfg.ConnectError(err)
	}
	res, err := h.store.Ingest(ctx, m.GetChild(), true, m.GetEvents(), m.GetCertificates(), m.GetLastPosition(), 0)
	if err != nil {
		return nil, h.cfg.ConnectError(err)
	}
	h.kids.reported(m.GetChild(), h.store.Now(), m.PendingPush)
	res.Parent = h.store.Self()
	res.UpstreamAckedPosition, res.UpstreamAckedMs = h.upstream(m.GetChild())
	return connect.NewResponse(res), nil
}

// checkAcked refuses a push from a child that was told more than this
// node's cursor for it holds: this node lost what it acknowledged (it was
// restored from a backup, or its data rolled back), and the child, which
// goes on from where it was told, would never send the events in between.
// Refused, the child asks for the cursor again. A group member that lags
// behind the group first catches up: the child was told by the group.
func (h *Service) checkAcked(ctx context.Context, child *pb.Peer, acked uint64) error {
	if acked == 0 {
		return nil
	}
	if err := h.store.CheckPeer(child, true); err != nil {
		return err
	}
	behind := func() (*pb.Cursor, bool, error) {
		c, err := h.store.PushCursor(child.GetNodeId())
		if err != nil {
			return nil, false, err
		}
		return c, c.GetEpoch() != child.GetEpoch() || c.GetPosition() < acked, nil
	}
	c, lost, err := behind()
	if err == nil && lost && h.cfg.Barrier != nil {
		if err = h.cfg.Barrier(ctx); err == nil {
			c, lost, err = behind()
		}
	}
	if err != nil || !lost {
		return err
	}
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("acked_position: 本节点对 %s 的推送进度是 %d，而下级说已确认到 %d：本节点的数据已恢复或回退过；请重新询问推送进度（PushCursor），补发此后的事件",
		child.GetUnit(), c.GetPosition(), acked))
}

func (h *Service) Pull(ctx context.Context, req *connect.Request[pb.PullRequest]) (*connect.Response[pb.PullResponse], error) {
	m := req.Msg
	child := m.GetChild()
	if err := h.checkCaller(ctx, "Pull", child); err != nil {
		return nil, err
	}
	if err := h.store.CheckPeer(child, true); err != nil {
		return nil, h.cfg.ConnectError(err)
	}
	maxEvents := int(m.GetMaxEvents())
	if maxEvents <= 0 || maxEvents > MaxBatchEvents {
		maxEvents = 500
	}
	maxBytes := int(m.GetMaxBytes())
	if maxBytes <= 0 || maxBytes > MaxBatchBytes {
		maxBytes = 256 << 10
	}
	wait := min(time.Duration(m.GetWaitMs())*time.Millisecond, MaxPullWait)
	unit := tiers.Unit(child.GetUnit())
	keep := func(ev *pb.Event, from string) bool {
		return from != child.GetNodeId() && ReachesSubtree(ev.GetScope(), unit)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	after := m.GetAfter()
	// A child asks after what it has stored: the certificates of the
	// answer that ended there are its own now.
	told := h.told.of(child.GetNodeId())
	told.stored(after)
	h.kids.reported(child, h.store.Now(), m.PendingPush)
	h.kids.called(child, h.store.Now(), func(s *childSeen) {
		s.pulled, s.pullSeen = after, true
		s.polling++
		if kids := m.GetChildren(); kids != nil && len(kids.GetChildren()) <= maxGrandchildren {
			s.kids, s.kidsAt = onlyBelow(tiers.Unit(child.GetUnit()), kids.GetChildren()), h.store.Now()
		}
	})
	defer h.kids.called(child, h.store.Now(), func(s *childSeen) { s.polling-- })
	for h.cfg.Group && h.store.FeedHead() < after {
		select {
		case <-h.store.Changed():
		case <-deadline.C:
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("本成员尚未追上集群，请换一个成员"))
		case <-ctx.Done():
			return nil, h.cfg.ConnectError(ctx.Err())
		}
	}
	// What the child was told of its feed held above: when that moves
	// during the poll, the poll ends to tell it. It is read at the start
	// and after each acknowledgement from above, not at every commit that
	// wakes the poll (a read each, for every child waiting).
	told0 := h.kids.toldAbove(child.GetNodeId())
	checkAbove := true
	for {
		changed := h.store.Changed() // before reading: no wake-up is missed
		acked := h.store.AckChanged()
		events, last, err := h.store.ReadFeed(after, keep, maxEvents, maxBytes)
		if err != nil {
			return nil, h.cfg.ConnectError(err)
		}
		head := h.store.FeedHead()
		var above uint64
		var aboveMs int64
		read := checkAbove
		if checkAbove {
			above, aboveMs = h.upstream(child)
			checkAbove = false
		}
		if len(events) > 0 || wait == 0 || (last < head) || above > told0 {
			if !read {
				above, aboveMs = h.upstream(child)
			}
			certs, err := h.store.Certificates(events)
			if err != nil {
				return nil, h.cfg.ConnectError(err)
			}
			return connect.NewResponse(&pb.PullResponse{Parent: h.store.Self(), Events: events, Certificates: told.unsent(certs, last), LastPosition: last,
				Head: head, BytesBehind: h.store.BytesAfter(last), NowMs: h.store.Now().UnixMilli(),
				UpstreamAckedPosition: above, UpstreamAckedMs: aboveMs}), nil
		}
		after = last
		select {
		case <-changed:
		case <-acked:
			checkAbove = true
		case <-deadline.C:
			above, aboveMs := h.upstream(child)
			return connect.NewResponse(&pb.PullResponse{Parent: h.store.Self(), LastPosition: last, Head: head, NowMs: h.store.Now().UnixMilli(),
				UpstreamAckedPosition: above, UpstreamAckedMs: aboveMs}), nil
		case <-ctx.Done():
			return nil, h.cfg.ConnectError(ctx.Err())
		}
	}
}

// upstream is UpstreamAcked for a child's answer, noted as told: a
// failure to read it only leaves the child knowing less (0), and is
// logged.
func (h *Service) upstream(child *pb.Peer) (uint64, int64) {
	pos, ms, err := h.store.UpstreamAcked(child.GetNodeId())
	if err != nil {
		h.cfg.Logger.Warn("upstream ack unknown", "child", child.GetUnit(), "err", err)
		return 0, 0
	}
	h.kids.tellAbove(child.GetNodeId(), pos)
	return pos, ms
}

// HTTPClient is a client of other nodes over rt (Transport(nil) when
// nil): one connection carries a child's long-poll pull and its pushes
// (and a county member's calls to the others).
func HTTPClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = Transport(nil)
	}
	return &http.Client{Transport: rt}
}

// Transport speaks HTTP/2 to other nodes: over TLS with tc (https URLs),
// h2c without (http URLs).
func Transport(tc *tls.Config) *http.Transport {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	if tc != nil {
		protocols.SetHTTP2(true)
		tc = tc.Clone()
		tc.NextProtos = []string{"h2"}
	}
	return &http.Transport{
		Protocols:       protocols,
		TLSClientConfig: tc,
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
	}
}
