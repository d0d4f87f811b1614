package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	gosync "sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/tiers"
)

// Local is what a link needs of its own node. The node's store implements
// it; the link knows nothing else of the node.
type Local interface {
	Self() *pb.Peer
	FeedHead() uint64
	// Changed is closed at the next commit that adds events.
	Changed() <-chan struct{}
	ReadFeed(after uint64, keep func(ev *pb.Event, from string) bool, maxEvents, maxBytes int) ([]*pb.Event, uint64, error)
	// Certificates are those of the events' signers, sent with them.
	Certificates(events []*pb.Event) ([][]byte, error)
	PullCursor() (*pb.Cursor, error)
	// Ingest stores a batch and its cursor atomically; head is the
	// parent's feed head for a pulled batch.
	Ingest(ctx context.Context, from *pb.Peer, pushed bool, events []*pb.Event, certs [][]byte, last, head uint64) (*pb.PushResponse, error)
	// BytesAfter is the size of the feed's events after a position.
	BytesAfter(pos uint64) uint64
	// HasEvent reports whether an event with this hash is in the feed.
	HasEvent(hash []byte) bool
	// Restored: restored from a backup and not yet caught up; such a node
	// stores even an empty pull answer, to learn that it has caught up.
	Restored() bool
	// Now is the node's clock, which its events are dated by.
	Now() time.Time
	// Acked notes that the parent holds this node's feed up to pos (its
	// push cursor for this node, which goes back when the parent lost
	// some of it); AckedAbove that the parent's own parent does, since
	// atMs (the parent's clock). See store/upstream.go.
	Acked(pos uint64) error
	AckedAbove(pos uint64, atMs int64) error
}

// Config configures a Link.
type Config struct {
	Local Local
	// ParentURLs are the parent's members; the link fails over between
	// them in order.
	ParentURLs []string
	// HTTPClient reaches the parent (h2c); tests put a fault-injecting
	// transport under it.
	HTTPClient *http.Client
	// Batch bounds (defaults 500 events, 256 KiB).
	MaxEvents int
	MaxBytes  int
	// PullWait is how long the parent may hold a pull open (default 25 s).
	PullWait time.Duration
	// Linger lets a push wait this long for more events before sending
	// (default 0: a push in flight already gathers the next batch).
	Linger time.Duration
	// Children describes this node's own children (a township's villages)
	// for its parent, which shows them in its status; nil: none to tell.
	// A pull carries them every ChildrenEvery (default 30 s).
	Children      func() ([]*pb.ChildStatus, error)
	ChildrenEvery time.Duration
	// TooLarge tells whether Local.Ingest refused a batch for its size (the
	// link then pulls smaller batches).
	TooLarge func(error) bool
	// Backoff bounds (defaults 100 ms and ProbeMax; a larger Max is cut to
	// ProbeMax) and seed for its jitter (0: drawn from the node id, so
	// that the villages of one township do not retry in step).
	BackoffMin, BackoffMax time.Duration
	Seed                   uint64
	Clock                  Clock
	Logger                 *slog.Logger
}

func (c *Config) validate() error {
	if c.Local == nil {
		return errors.New("sync: Local is required")
	}
	if len(c.ParentURLs) == 0 {
		return errors.New("sync: parent: at least one URL is required")
	}
	for i, u := range c.ParentURLs {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("sync: parent[%d]: %q is not an http(s) URL", i, u)
		}
		c.ParentURLs[i] = strings.TrimRight(u, "/")
	}
	if c.HTTPClient == nil {
		return errors.New("sync: HTTPClient is required")
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 500
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 256 << 10
	}
	if c.PullWait <= 0 {
		c.PullWait = 25 * time.Second
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 100 * time.Millisecond
	}
	if c.BackoffMax <= 0 || c.BackoffMax > ProbeMax {
		c.BackoffMax = ProbeMax
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Link is a child's connection to its parent: a push loop and a pull loop.
type Link struct {
	cfg  Config
	self *pb.Peer
	unit tiers.Unit

	mu     gosync.Mutex
	batch  int      // events per batch now: halved when a batch is too large
	good   int      // batches in a row since the last halving
	parent *pb.Peer // as last seen
	// skew is this node's clock minus the parent's at the last answer
	// that said the parent's time.
	skew      time.Duration
	skewKnown bool
	next      int // index of the parent URL in use
	push      dirStatus
	pull      dirStatus
	// sentUpTo is how far the push loop has sent (or passed over) this
	// node's feed since the link started (sentKnown), for the count of
	// events still to push that pulls report.
	sentUpTo  uint64
	sentKnown bool
	clients   map[string]jiujinv1connect.SyncServiceClient // by parent URL
	toldKids  time.Time                                    // when the children were last told
}

type dirStatus struct {
	connected   bool
	lastContact time.Time
	lastError   string
	behind      uint64
	bytesBehind uint64
	sentEvents  uint64
	sentBatches uint64
}

// NewLink validates the configuration and returns a link ready to Serve.
func NewLink(cfg Config) (*Link, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	self := cfg.Local.Self()
	if cfg.Seed == 0 {
		cfg.Seed = seedOf(self.GetNodeId())
	}
	return &Link{cfg: cfg, self: self, unit: tiers.Unit(self.GetUnit()), batch: cfg.MaxEvents}, nil
}

// Serve runs both loops until ctx ends. It returns ctx's error.
func (l *Link) Serve(ctx context.Context) error {
	var wg gosync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.supervise(ctx, "push", l.pushLoop) }()
	go func() { defer wg.Done(); l.supervise(ctx, "pull", l.pullLoop) }()
	wg.Wait()
	return ctx.Err()
}

// supervise restarts a loop after each failure, with backoff; a loop that
// made progress resets the backoff.
func (l *Link) supervise(ctx context.Context, dir string, loop func(ctx context.Context, progressed func()) error) {
	b := NewBackoff(l.cfg.BackoffMin, l.cfg.BackoffMax, l.cfg.Seed^seedOf(dir))
	b.Clock = l.cfg.Clock
	for ctx.Err() == nil {
		err := loop(ctx, b.Reset)
		if ctx.Err() != nil {
			return
		}
		l.setStatus(dir, func(s *dirStatus) { s.connected = false; s.lastError = Explain(err) })
		if b.Failures() >= 1 {
			l.failover()
		}
		l.cfg.Logger.Debug("sync link down", "dir", dir, "err", err, "failures", b.Failures())
		if b.Wait(ctx) != nil {
			return
		}
	}
}

func (l *Link) failover() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = (l.next + 1) % len(l.cfg.ParentURLs)
}

// client is the sync client of the parent URL in use: one per URL, kept,
// so that its gzip writers are used again rather than made for each try
// (a megabyte each: a cut-off village probing every few seconds grew by
// tens of megabytes).
func (l *Link) client() jiujinv1connect.SyncServiceClient {
	l.mu.Lock()
	defer l.mu.Unlock()
	url := l.cfg.ParentURLs[l.next]
	c, ok := l.clients[url]
	if !ok {
		c = jiujinv1connect.NewSyncServiceClient(l.cfg.HTTPClient, url, connect.WithSendGzip())
		if l.clients == nil {
			l.clients = map[string]jiujinv1connect.SyncServiceClient{}
		}
		l.clients[url] = c
	}
	return c
}

// batchSize is how many events to move per batch now.
func (l *Link) batchSize() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.batch
}

// sized adapts the batch size to a batch's outcome: a batch too large for
// the receiving node's transaction halves it; a run of good batches
// doubles it back, up to the configured bound.
func (l *Link) sized(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case Throttled(err):
		// Too many calls, not too large a batch: the backoff waits.
	case connect.CodeOf(err) == connect.CodeResourceExhausted || errors.Is(err, errTooLarge):
		l.batch = max(1, l.batch/2)
		l.good = 0
	case err == nil:
		if l.good++; l.good >= 8 && l.batch < l.cfg.MaxEvents {
			l.batch = min(l.cfg.MaxEvents, l.batch*2)
			l.good = 0
		}
	}
}

// errTooLarge marks a pulled batch this node could not store in one go.
var errTooLarge = errors.New("batch too large")

func (l *Link) setStatus(dir string, f func(s *dirStatus)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if dir == "push" {
		f(&l.push)
	} else {
		f(&l.pull)
	}
}

func (l *Link) contact(dir string, parent *pb.Peer, parentNowMs int64) {
	now := l.cfg.Clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if parent != nil {
		l.parent = parent
	}
	if parentNowMs != 0 {
		l.skew, l.skewKnown = l.cfg.Local.Now().Sub(time.UnixMilli(parentNowMs)), true
	}
	s := &l.push
	if dir == "pull" {
		s = &l.pull
	}
	s.connected, s.lastContact, s.lastError = true, now, ""
}

// pushLoop sends the parent, in feed order, every event whose scope leaves
// this node's subtree and that did not come from the parent.
func (l *Link) pushLoop(ctx context.Context, progressed func()) error {
	c := l.client()
	cres, err := c.PushCursor(ctx, connect.NewRequest(&pb.PushCursorRequest{Child: l.self}))
	if err != nil {
		return fmt.Errorf("push cursor: %w", err)
	}
	parent := cres.Msg.GetParent()
	if tiers.Unit(parent.GetUnit()) != l.unit.Parent() {
		return fmt.Errorf("push: %s: %w", parent.GetUnit(), errNotParent)
	}
	l.contact("push", parent, cres.Msg.GetNowMs())
	if err := l.acknowledged(cres.Msg.GetAckedPosition(), cres.Msg.GetUpstreamAckedPosition(), cres.Msg.GetUpstreamAckedMs()); err != nil {
		return err
	}
	progressed()
	// acked is what the parent last said it holds; each push tells it
	// again, so that a parent that has since lost some of it (restored,
	// rolled back) refuses the push rather than skip what it lacks.
	acked := cres.Msg.GetAckedPosition()
	scanned := acked
	if h := cres.Msg.GetLastHash(); scanned > 0 && (scanned > l.cfg.Local.FeedHead() || (len(h) > 0 && !l.cfg.Local.HasEvent(h))) {
		// The parent holds events of ours that we no longer have: this
		// node's data was rolled back (copied back by hand, not restored).
		// Send the whole feed again; the parent drops what it has and
		// quarantines any event id we have reused with new content.
		l.cfg.Logger.Error("parent has events this node lacks: data rolled back? resending the whole feed",
			"acked", scanned, "head", l.cfg.Local.FeedHead())
		scanned = 0
	}
	// Only events written in this subtree go up: one written above it
	// came from the parent, under its node id of the time, which a parent
	// restored from a backup no longer has (and would quarantine it).
	keep := l.keepUp(parent.GetNodeId())
	// Certificates the parent acknowledged on this connection; a new one
	// (after any failure) starts afresh.
	sent := &told{}
	for {
		changed := l.cfg.Local.Changed()
		head := l.cfg.Local.FeedHead()
		behindBytes := l.cfg.Local.BytesAfter(scanned)
		l.setStatus("push", func(s *dirStatus) { s.behind, s.bytesBehind = head-min(head, scanned), behindBytes })
		l.sent(scanned)
		if scanned >= head {
			select {
			case <-changed:
			case <-ctx.Done():
				return ctx.Err()
			}
			if l.cfg.Linger > 0 {
				select {
				case <-l.cfg.Clock.After(l.cfg.Linger):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			continue
		}
		events, last, err := l.cfg.Local.ReadFeed(scanned, keep, l.batchSize(), l.cfg.MaxBytes)
		if err != nil {
			return fmt.Errorf("read feed: %w: %w", errLocal, err)
		}
		if len(events) == 0 {
			scanned = last // nothing for the parent in this stretch
			continue
		}
		certs, err := l.cfg.Local.Certificates(events)
		if err != nil {
			return fmt.Errorf("certificates: %w: %w", errLocal, err)
		}
		pending := l.pendingAfter(last, keep)
		res, err := c.Push(ctx, connect.NewRequest(&pb.PushRequest{Child: l.self, Events: events, Certificates: sent.unsent(certs, last),
			AfterPosition: scanned, LastPosition: last, AckedPosition: acked, PendingPush: &pending}))
		l.sized(err)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		sent.stored(res.Msg.GetAckedPosition())
		scanned = res.Msg.GetAckedPosition()
		acked = scanned
		l.contact("push", res.Msg.GetParent(), 0)
		if err := l.acknowledged(acked, res.Msg.GetUpstreamAckedPosition(), res.Msg.GetUpstreamAckedMs()); err != nil {
			return err
		}
		l.setStatus("push", func(s *dirStatus) { s.sentEvents += uint64(len(events)); s.sentBatches++ })
		progressed()
	}
}

// pullLoop fetches, by long poll, the parent's events for this subtree
// and stores each batch with its cursor.
func (l *Link) pullLoop(ctx context.Context, progressed func()) error {
	c := l.client()
	for {
		cur, err := l.cfg.Local.PullCursor()
		if err != nil {
			return fmt.Errorf("pull cursor: %w: %w", errLocal, err)
		}
		pctx, cancel := context.WithTimeout(ctx, l.cfg.PullWait+15*time.Second)
		res, err := c.Pull(pctx, connect.NewRequest(&pb.PullRequest{Child: l.self, After: cur.GetPosition(),
			MaxEvents: uint32(l.batchSize()), MaxBytes: uint32(l.cfg.MaxBytes), WaitMs: uint32(l.cfg.PullWait / time.Millisecond),
			PendingPush: l.pendingPush(), Children: l.childrenReport()}))
		cancel()
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		parent := res.Msg.GetParent()
		if tiers.Unit(parent.GetUnit()) != l.unit.Parent() {
			return fmt.Errorf("pull: %s: %w", parent.GetUnit(), errNotParent)
		}
		if err := l.aboveAcked(res.Msg.GetUpstreamAckedPosition(), res.Msg.GetUpstreamAckedMs()); err != nil {
			return err
		}
		if res.Msg.GetHead() < cur.GetPosition() && cur.GetNodeId() == parent.GetNodeId() {
			// The parent's feed is shorter than our cursor: it was rolled
			// back. Pull it again from the start; duplicates are dropped.
			l.cfg.Logger.Error("parent feed shorter than our cursor: pulling it from the start",
				"cursor", cur.GetPosition(), "head", res.Msg.GetHead())
			if _, err := l.cfg.Local.Ingest(ctx, parent, false, nil, nil, 0, 0); err != nil {
				return fmt.Errorf("reset pull cursor: %w", err)
			}
			continue
		}
		l.contact("pull", parent, res.Msg.GetNowMs())
		progressed()
		if cur.GetNodeId() != "" && (cur.GetNodeId() != parent.GetNodeId() || cur.GetEpoch() != parent.GetEpoch()) {
			// The parent is a new identity (restored or replaced): its feed
			// positions mean nothing to the old cursor. Start over; events
			// already here are recognized and dropped as duplicates.
			l.cfg.Logger.Warn("parent identity changed: pulling its feed from the start",
				"old", cur.GetNodeId(), "new", parent.GetNodeId())
			if _, err := l.cfg.Local.Ingest(ctx, parent, false, nil, nil, 0, 0); err != nil {
				return fmt.Errorf("reset pull cursor: %w", err)
			}
			continue
		}
		if len(res.Msg.GetEvents()) == 0 && res.Msg.GetLastPosition() == cur.GetPosition() && cur.GetNodeId() != "" && !l.cfg.Local.Restored() {
			l.setStatus("pull", func(s *dirStatus) {
				s.behind, s.bytesBehind = res.Msg.GetHead()-min(res.Msg.GetHead(), cur.GetPosition()), res.Msg.GetBytesBehind()
			})
			continue // long poll ended empty
		}
		_, err = l.cfg.Local.Ingest(ctx, parent, false, res.Msg.GetEvents(), res.Msg.GetCertificates(), res.Msg.GetLastPosition(), res.Msg.GetHead())
		if l.cfg.TooLarge != nil && l.cfg.TooLarge(err) {
			err = fmt.Errorf("%w: %w", errTooLarge, err)
		}
		l.sized(err)
		if err != nil {
			return fmt.Errorf("store pulled batch: %w", err)
		}
		l.setStatus("pull", func(s *dirStatus) {
			s.behind = res.Msg.GetHead() - min(res.Msg.GetHead(), res.Msg.GetLastPosition())
			s.bytesBehind = res.Msg.GetBytesBehind()
			s.sentEvents += uint64(len(res.Msg.GetEvents()))
			s.sentBatches++
		})
	}
}

// ClockSkew is this node's clock minus its parent's, as last seen (false:
// not seen yet).
func (l *Link) ClockSkew() (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.skew, l.skewKnown
}

// Status describes both directions for `jiujin status`. Events and bytes
// behind count the whole feed past the cursor, whatever the scope: an
// upper bound on what is still to move.
func (l *Link) Status() []*pb.LinkStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	peer := l.cfg.ParentURLs[l.next]
	if l.parent != nil {
		peer = l.parent.GetUnit() + " " + peer
	}
	mk := func(dir string, s dirStatus) *pb.LinkStatus {
		ls := &pb.LinkStatus{Peer: peer, Direction: dir, Connected: s.connected, EventsBehind: s.behind, BytesBehind: s.bytesBehind, LastError: s.lastError,
			ClockSkewMs: l.skew.Milliseconds()}
		if !s.lastContact.IsZero() {
			ls.LastContact = timestamppb.New(s.lastContact)
		}
		return ls
	}
	return []*pb.LinkStatus{mk("push", l.push), mk("pull", l.pull)}
}

// childrenReport is this node's children for its parent, once every
// ChildrenEvery (nil in between, or when it has none to tell): without
// their own children, so that what travels stays one level.
func (l *Link) childrenReport() *pb.ChildList {
	if l.cfg.Children == nil {
		return nil
	}
	now := l.cfg.Clock.Now()
	every := l.cfg.ChildrenEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	l.mu.Lock()
	due := l.toldKids.IsZero() || now.Sub(l.toldKids) >= every
	l.mu.Unlock()
	if !due {
		return nil
	}
	kids, err := l.cfg.Children()
	if err != nil || len(kids) == 0 {
		return nil // nothing to tell yet: ask again on the next pull
	}
	l.mu.Lock()
	l.toldKids = now
	l.mu.Unlock()
	out := &pb.ChildList{}
	for _, k := range kids {
		k = proto.Clone(k).(*pb.ChildStatus)
		k.Children, k.ChildrenAt = nil, nil
		out.Children = append(out.Children, k)
	}
	return out
}
