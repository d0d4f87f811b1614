// Package node is one jiujin node: the badger store that holds a unit's
// events, feed and records; the application lifecycle and the catalog as
// commands on that store; the connect-go handlers; and the HTTP server that
// serves them.
//
// Every write is a *pb.Command handed to Store.Apply. One writer goroutine
// applies commands in arrival order through a single dispatcher, gathering
// whatever is waiting into one badger transaction and one fsync (group
// commit). A command either writes all its events, their feed entries and
// the records they change, or nothing.
package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/tiers"
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Dir is the badger directory; created if missing.
	Dir string
	// Unit is the unit this node serves. A store remembers its unit and
	// refuses to open as another.
	Unit tiers.Unit
	// Calendar counts working days; required.
	Calendar *delegation.Calendar
	// Clock defaults to the system clock.
	Clock Clock
	// NoSync turns fsync on commit off. Only for benchmarks that say so.
	NoSync bool
	// MaxBatch caps how many commands share one commit (default 256).
	MaxBatch int
	// Member marks the store of a county group's member, on a county
	// server, its group's raft log the durable record: it does not fsync
	// (the applied index is written with the data it covers, and a tail
	// lost in a crash is replayed from the log), keeps values longer than
	// valueThreshold bytes (records, feed entries, kept answers) in
	// badger's value log, and has 64 MiB memtables. See member.go.
	Member bool
	// Proposer, if set, takes every command instead of the local writer:
	// a replicated group proposes it to its log, and the log's entries
	// come back through ApplyLogs on every member.
	Proposer Proposer
	Logger   *slog.Logger

	tune   func(badger.Options) badger.Options // tests: smaller files
	bootID func() string                       // tests: another boot
}

func (c *StoreConfig) validate() error {
	if c.Dir == "" {
		return invalid("data", "数据目录未指定")
	}
	if _, err := tiers.Parse(string(c.Unit)); err != nil {
		return fmt.Errorf("unit: %w", err)
	}
	if c.Calendar == nil {
		return invalid("calendar", "未加载工作日历")
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Store is a node's durable state.
type Store struct {
	cfg StoreConfig
	db  *badger.DB

	reqs chan *writeReq
	stop chan struct{}
	done chan struct{}

	hot hotCache // decoded delegations and matters, for acceptance
	// restoring is held while a snapshot replaces the content: no read
	// sees the store half dropped or half loaded.
	restoring sync.RWMutex

	mu      sync.Mutex // guards state, changed, closed
	state   counters
	changed chan struct{}
	closed  bool
}

// counters are the store's sequence numbers; the writer owns them.
type counters struct {
	feedHead    uint64 // last feed position written
	seq         uint64 // last origin sequence number this node used
	hlc         hlc
	quarantined uint64 // events ever quarantined
	held        uint64 // events waiting for their predecessor now
	restored    bool   // restored from a backup, not yet caught up
	feedBytes   uint64 // bytes of all events in the feed
	applied     uint64 // last replicated-log index applied (raft groups)
	// partOf is the entry past applied whose first partsDone commands (a
	// CommandBatch's) are applied, their writes committed without the
	// rest: the store splits a batch too large for one badger commit.
	partOf, partsDone uint64
	nodeID            string // identity: the origin of this node's events
	epoch             uint64
	// oldestDone is the time (the key's) of the oldest request id kept,
	// when doneKnown; learned from the store by the first prune after
	// opening, then kept up to date (see pruneDone). Not persisted.
	oldestDone uint64
	doneKnown  bool
	doneNone   bool // known: no request id is kept
}

type writeReq struct {
	cmd   *pb.Command
	res   chan writeResult
	index uint64 // replicated-log index, 0 for a local write
	// part of parts: the command's place in its entry's CommandBatch
	// (parts 0: the entry is this command alone).
	part, parts int
	// refused: the command could not be read from its entry; it counts as
	// applied, with this as its result.
	refused error
}

type writeResult struct {
	out proto.Message
	err error
}

// badgerOptions tunes badger for a small box: two 16 MiB memtables, an
// 8 MiB block cache and a 4 MiB index cache, 64 MiB value-log files. With
// the Go runtime the node stays within a budget of about 64 MiB resident
// when idle (measured by `jiujin bench accept`, see README). A county
// group member's store is tuned for a server instead (member.go).
func badgerOptions(dir string, sync, member bool) badger.Options {
	threshold, memtable := int64(1<<20), int64(16<<20) // badger's largest threshold: every value in the tree
	if member {
		sync, threshold, memtable = false, valueThreshold, memberMemTable
	}
	return badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(sync).
		WithDetectConflicts(false). // one writer goroutine: nothing to detect
		WithMemTableSize(memtable).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(2 << 20).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithCompression(options.Snappy).
		WithNumCompactors(2).
		WithValueThreshold(threshold)
}

// OpenStore opens (or creates) a node's store.
func OpenStore(cfg StoreConfig) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	boot := bootID()
	if cfg.bootID != nil {
		boot = cfg.bootID()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	halfRestored, err := clearIfHalfRestored(cfg.Dir, cfg.Member)
	if err != nil {
		return nil, err
	}
	if halfRestored {
		cfg.Logger.Warn("store cleared: a snapshot was being loaded into it when its process stopped; it is loaded again from the last snapshot, and the log replayed", "dir", cfg.Dir)
	}
	if cfg.Member {
		cleared, err := clearIfMachineStopped(cfg.Dir, boot)
		if err != nil {
			return nil, err
		}
		if cleared {
			cfg.Logger.Warn("store cleared: the machine stopped while it was open, and its unsynced files may be torn; it is rebuilt from the last snapshot and the log", "dir", cfg.Dir)
		}
	}
	opts := badgerOptions(cfg.Dir, !cfg.NoSync, cfg.Member)
	if cfg.tune != nil {
		opts = cfg.tune(opts)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open badger at %s: %w", cfg.Dir, err)
	}
	s := &Store{
		cfg:     cfg,
		db:      db,
		reqs:    make(chan *writeReq, 1024),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	if err := s.loadMeta(); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.Member {
		if err := markOpen(cfg.Dir, boot); err != nil {
			db.Close()
			return nil, err
		}
	}
	go s.run()
	return s, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// loadMeta reads the node identity and counters, creating them on first
// open.
func (s *Store) loadMeta() error {
	return s.db.Update(func(txn *badger.Txn) error {
		get := func(k string) ([]byte, error) {
			it, err := txn.Get([]byte(k))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return it.ValueCopy(nil)
		}
		unit, err := get(metaUnit)
		if err != nil {
			return err
		}
		if unit == nil {
			// A new store: give the node its identity.
			id := hex.EncodeToString(randomBytes(8))
			for _, kv := range [][2][]byte{
				{[]byte(metaUnit), []byte(s.cfg.Unit)},
				{[]byte(metaNodeID), []byte(id)},
				{[]byte(metaEpoch), randomBytes(8)},
			} {
				if err := txn.Set(kv[0], kv[1]); err != nil {
					return err
				}
			}
			unit = []byte(s.cfg.Unit)
		}
		if string(unit) != string(s.cfg.Unit) {
			return precondition("unit", "数据目录 %s 属于单位 %s，不能作为 %s 打开", s.cfg.Dir, unit, s.cfg.Unit)
		}
		id, err := get(metaNodeID)
		if err != nil {
			return err
		}
		epoch, err := get(metaEpoch)
		if err != nil {
			return err
		}
		if len(id) == 0 || len(epoch) != 8 {
			return fmt.Errorf("%w: node identity missing", ErrCorrupt)
		}
		s.state.nodeID, s.state.epoch = string(id), binary.BigEndian.Uint64(epoch)
		restored, err := get(metaRestored)
		if err != nil {
			return err
		}
		s.state.restored = restored != nil
		for _, c := range []struct {
			key string
			dst *uint64
		}{{metaFeedHead, &s.state.feedHead}, {metaSeq, &s.state.seq}, {metaHLC, &s.state.hlc.last},
			{metaQuar, &s.state.quarantined}, {metaHeld, &s.state.held}, {metaFeedBytes, &s.state.feedBytes},
			{metaApplied, &s.state.applied}} {
			v, err := get(c.key)
			if err != nil {
				return err
			}
			if len(v) == 8 {
				*c.dst = binary.BigEndian.Uint64(v)
			}
		}
		part, err := get(metaAppliedPart)
		if err != nil {
			return err
		}
		if len(part) == 16 {
			s.state.partOf, s.state.partsDone = binary.BigEndian.Uint64(part), binary.BigEndian.Uint64(part[8:])
		}
		return nil
	})
}

// NodeID is the node's persistent identity, the origin of its events.
func (s *Store) NodeID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.nodeID
}

// Epoch changes when the node's data is restored or reset.
func (s *Store) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.epoch
}

// Unit is the unit the node serves.
func (s *Store) Unit() tiers.Unit { return s.cfg.Unit }

// Calendar is the working-day calendar in use.
func (s *Store) Calendar() *delegation.Calendar { return s.cfg.Calendar }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.cfg.Clock.Now() }

// FeedHead is the last position of the feed.
func (s *Store) FeedHead() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.feedHead
}

// Changed returns a channel closed at the next commit that adds events.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Close stops the writer (commands still queued fail with ErrClosed) and
// closes badger.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	if err := s.db.Close(); err != nil {
		return err
	}
	if s.cfg.Member {
		return markClosed(s.cfg.Dir)
	}
	return nil
}

// Proposer puts a command into a replicated log and returns its result
// once it is committed and applied.
type Proposer interface {
	Propose(ctx context.Context, cmd *pb.Command) (proto.Message, error)
}

// Apply runs one command and returns once it is durable (or refused). The
// output is the record the command produced (e.g. the *pb.Application).
func (s *Store) Apply(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	if s.cfg.Proposer != nil {
		return s.cfg.Proposer.Propose(ctx, cmd)
	}
	return s.applyLocal(ctx, cmd)
}

func (s *Store) applyLocal(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
	r := &writeReq{cmd: cmd, res: make(chan writeResult, 1)}
	select {
	case s.reqs <- r:
	case <-s.stop:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-r.res:
		return res.out, res.err
	case <-ctx.Done():
		// The command may still be applied; the caller learns by reading.
		return nil, ctx.Err()
	}
}

func (s *Store) run() {
	defer close(s.done)
	batch := make([]*writeReq, 0, s.cfg.MaxBatch)
	for {
		select {
		case <-s.stop:
			for {
				select {
				case r := <-s.reqs:
					r.res <- writeResult{err: ErrClosed}
				default:
					return
				}
			}
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		drain:
			for len(batch) < s.cfg.MaxBatch {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			s.applyBatch(batch)
		}
	}
}

// applyBatch runs a batch of commands in one badger transaction (or a few,
// when they would not fit in one). A command that fails leaves no trace:
// its writes are staged in a wtx, sized, and only copied into the badger
// transaction when it succeeded and fits; a command too large for any
// transaction is refused with ErrBatchTooLarge before it touches one.
func (s *Store) applyBatch(batch []*writeReq) {
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	committed := st // state as of the last successful commit
	results := make([]writeResult, len(batch))
	maxSize, maxCount := s.db.MaxBatchSize()*8/10, s.db.MaxBatchCount()*8/10
	btx := s.db.NewTransaction(true)
	var inTxn []int // commands staged in btx
	var size, count int64
	fail := func(idx []int, err error) {
		for _, i := range idx {
			results[i] = writeResult{err: err}
		}
	}
	commit := func() error {
		if len(inTxn) == 0 {
			return nil
		}
		err := s.writeCounters(btx, st)
		if err == nil {
			err = btx.Commit()
		} else {
			btx.Discard()
		}
		if err != nil {
			s.hot.reset()
			s.cfg.Logger.Error("store commit failed", "err", err)
			err = fmt.Errorf("commit: %w", err)
			fail(inTxn, err)
			st = committed
		} else {
			committed = st
		}
		btx = s.db.NewTransaction(true)
		inTxn, size, count = nil, 0, 0
		return err
	}
	for i, r := range batch {
		before := st // the counters as of the command before this one
		if r.index > st.applied {
			// Applied, whether it succeeds or is refused: recorded with
			// the writes of this entry or a later one of the batch. A
			// batch entry counts as applied with its last command; until
			// then, how many of its commands are.
			if r.parts == 0 || r.part >= r.parts {
				st.applied, st.partOf, st.partsDone = r.index, 0, 0
			} else {
				st.partOf, st.partsDone = r.index, uint64(r.part)
			}
		}
		if r.refused != nil {
			results[i] = writeResult{err: r.refused}
			continue
		}
		w := newWtx(s, btx, st)
		if id := r.cmd.GetRequestId(); id != "" {
			if len(id) > 64 {
				results[i] = writeResult{err: invalid("command.request_id", "请求标识（Idempotency-Key）过长（%d 字节，最多 64）", len(id))}
				continue
			}
			// Applied before under this id: its output, nothing written.
			out, seen, err := w.done(id)
			if err != nil || seen {
				results[i] = writeResult{out: out, err: err}
				if seen {
					// The first may be in this very transaction: the
					// repeat stands or falls with its commit.
					inTxn = append(inTxn, i)
				}
				continue
			}
		}
		out, err := s.dispatch(w, r.cmd)
		if err == nil && r.cmd.GetRequestId() != "" {
			err = w.remember(r.cmd, out)
		}
		if err != nil {
			results[i] = writeResult{err: err}
			continue
		}
		wsize, wcount := w.estimate()
		if wsize > maxSize || wcount > maxCount {
			results[i] = writeResult{err: fmt.Errorf("%w: %d writes, about %d bytes", ErrBatchTooLarge, wcount, wsize)}
			continue
		}
		if size+wsize > maxSize || count+wcount > maxCount {
			// Commit what is staged; this command's writes were computed
			// from exactly that state, so they stay valid after it. The
			// commit records the log as applied up to the command before
			// this one: this command's place in the log goes with its
			// writes, into the next commit, or a process stopped between
			// the two would skip it when the log is replayed.
			st = before
			if err := commit(); err != nil {
				// The state this command was computed from is gone.
				results[i] = writeResult{err: err}
				continue
			}
			w.btx = btx
		}
		if err := w.flush(btx); err != nil {
			// Cannot happen with the estimate above; if it does, the
			// transaction holds part of this command: drop all of it.
			btx.Discard()
			s.hot.reset()
			fail(append(inTxn, i), fmt.Errorf("stage writes: %w", err))
			st = committed
			btx = s.db.NewTransaction(true)
			inTxn, size, count = nil, 0, 0
			continue
		}
		st = w.st
		inTxn = append(inTxn, i)
		size, count = size+wsize, count+wcount
		results[i] = writeResult{out: out}
	}
	_ = commit() // failures are in results
	btx.Discard()
	s.mu.Lock()
	grew := st.feedHead != s.state.feedHead
	s.state = st
	if grew {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	for i, r := range batch {
		r.res <- results[i]
	}
}

// LogEntry is a committed entry of a replicated log.
type LogEntry struct {
	Index uint64
	Cmd   *pb.Command
	// Part of Parts: the command's place (from 1) in the entry's
	// CommandBatch; Parts is 0 for an entry of one command.
	Part, Parts int
	// Refused, if set, is the command's result without applying it: it
	// could not be read from the entry.
	Refused error
}

// Applied is the last replicated-log index whose writes are in the store.
func (s *Store) Applied() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.applied
}

// ApplyLogs applies committed log entries in order, as one batch, through
// the same dispatcher as local writes; the index of each entry (and of a
// batch entry split over commits, how many of its commands) is stored
// with its writes, so after a restart what is already applied is skipped
// and replay is exact. It returns each entry's output and error
// (both nil for an entry skipped).
func (s *Store) ApplyLogs(entries []LogEntry) ([]proto.Message, []error) {
	s.mu.Lock()
	applied, partOf, partsDone := s.state.applied, s.state.partOf, s.state.partsDone
	s.mu.Unlock()
	outs := make([]proto.Message, len(entries))
	errs := make([]error, len(entries))
	var batch []*writeReq
	var at []int
	for i, e := range entries {
		if e.Index <= applied || (e.Parts > 0 && e.Index == partOf && uint64(e.Part) <= partsDone) {
			continue
		}
		batch = append(batch, &writeReq{cmd: e.Cmd, res: make(chan writeResult, 1), index: e.Index,
			part: e.Part, parts: e.Parts, refused: e.Refused})
		at = append(at, i)
	}
	if len(batch) == 0 {
		return outs, errs
	}
	s.applyBatch(batch)
	for j, r := range batch {
		res := <-r.res
		outs[at[j]], errs[at[j]] = res.out, res.err
	}
	return outs, errs
}

// Restore replaces the store's whole content with a backup (a replicated
// group's snapshot) and reloads identity and counters from it.
func (s *Store) Restore(r io.Reader) error {
	s.restoring.Lock()
	defer s.restoring.Unlock()
	s.hot.reset()
	defer s.hot.reset()
	// Marked until loaded whole (restoreMark): a store left half loaded
	// is cleared when next opened.
	if err := writeMark(s.cfg.Dir, restoreMark, ""); err != nil {
		return fmt.Errorf("mark store restoring: %w", err)
	}
	if err := s.db.DropAll(); err != nil {
		return fmt.Errorf("drop before restore: %w", err)
	}
	if err := s.db.Load(r, 64); err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	s.mu.Lock()
	s.state = counters{}
	err := s.loadMeta()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if !s.cfg.NoSync && !s.cfg.Member {
		// What Load wrote is in the memtable's WAL: synced before the
		// mark goes. (A member syncs nothing; a machine stopping under
		// it is told by its open mark.)
		if err := s.db.Sync(); err != nil {
			return fmt.Errorf("sync restored store: %w", err)
		}
	}
	if err := removeMark(s.cfg.Dir, restoreMark); err != nil {
		return fmt.Errorf("mark store restored: %w", err)
	}
	return nil
}

func (s *Store) writeCounters(btx *badger.Txn, st counters) error {
	if err := btx.Set([]byte(metaNodeID), []byte(st.nodeID)); err != nil {
		return err
	}
	if err := btx.Set([]byte(metaEpoch), u64(st.epoch)); err != nil {
		return err
	}
	for _, kv := range []struct {
		k string
		v uint64
	}{{metaFeedHead, st.feedHead}, {metaSeq, st.seq}, {metaHLC, st.hlc.last}, {metaQuar, st.quarantined}, {metaHeld, st.held}, {metaFeedBytes, st.feedBytes}, {metaApplied, st.applied}} {
		if err := btx.Set([]byte(kv.k), u64(kv.v)); err != nil {
			return err
		}
	}
	if st.partOf != 0 || st.applied != 0 {
		return btx.Set([]byte(metaAppliedPart), append(u64(st.partOf), u64(st.partsDone)...))
	}
	return nil
}

// wtx is one command's view of the store: reads see the batch's earlier
// writes and the command's own; writes are staged until the command
// succeeds.
type wtx struct {
	s       *Store
	btx     *badger.Txn
	st      counters
	pending map[string][]byte
	deleted map[string]bool
	order   []string
	// stagedHeld indexes the events this command held back, by the hash
	// of the predecessor they wait for; startHeld is how many were held
	// before it (if none, nothing held needs looking up in badger).
	stagedHeld map[string][][]byte
	startHeld  uint64
}

func newWtx(s *Store, btx *badger.Txn, st counters) *wtx {
	return &wtx{s: s, btx: btx, st: st, pending: map[string][]byte{}, deleted: map[string]bool{},
		stagedHeld: map[string][][]byte{}, startHeld: st.held}
}

func (w *wtx) get(key []byte) ([]byte, error) {
	if v, ok := w.pending[string(key)]; ok {
		if w.deleted[string(key)] {
			return nil, nil
		}
		return v, nil
	}
	it, err := w.btx.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

func (w *wtx) set(key, val []byte) {
	k := string(key)
	if _, ok := w.pending[k]; !ok {
		w.order = append(w.order, k)
	}
	w.pending[k] = val
	delete(w.deleted, k)
}

// del stages a deletion.
func (w *wtx) del(key []byte) {
	w.set(key, nil)
	w.deleted[string(key)] = true
}

// estimate sizes the staged writes the way badger counts a transaction
// (key, value and a little overhead per entry), with the counters every
// commit adds.
func (w *wtx) estimate() (size, count int64) {
	for _, k := range w.order {
		size += int64(len(k) + len(w.pending[k]) + 24)
	}
	return size + 8*64, int64(len(w.order)) + 8
}

func (w *wtx) flush(btx *badger.Txn) error {
	for _, k := range w.order {
		if strings.HasPrefix(k, prefixRecord) {
			w.s.hot.staged(k[len(prefixRecord):])
		}
	}
	for _, k := range w.order {
		var err error
		if w.deleted[k] {
			err = btx.Delete([]byte(k))
		} else {
			err = btx.Set([]byte(k), w.pending[k])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// record reads a materialized record, or nil.
func (w *wtx) record(key string) (*pb.StoredRecord, error) {
	v, err := w.get(recordKey(key))
	if err != nil || v == nil {
		return nil, err
	}
	rec := &pb.StoredRecord{}
	if err := proto.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("%w: record %s: %v", ErrCorrupt, key, err)
	}
	return rec, nil
}

// emit writes a new event of this node: it fills the id, clock, unit and
// chain fields, materializes the record it changes, and stages the event,
// its feed entry, id index, history entry and the new record. It returns
// the new record.
func (w *wtx) emit(cmd *pb.Command, ev *pb.Event) (*pb.StoredRecord, error) {
	prev, err := w.record(ev.GetRecordKey())
	if err != nil {
		return nil, err
	}
	w.st.seq++
	ev.Origin = w.st.nodeID
	ev.Seq = w.st.seq
	ev.Hlc = w.st.hlc.next(cmd.GetNowMs())
	ev.Unit = string(w.s.cfg.Unit)
	if ev.Actor == "" {
		ev.Actor = cmd.GetActor()
	}
	if prev != nil {
		ev.PrevHash = prev.GetHead()
	}
	ev.Hash = eventHash(ev)
	rec, err := materialize(prev, ev)
	if err != nil {
		return nil, err
	}
	return rec, w.store(ev, rec, w.st.nodeID)
}

// store stages an event, delivered by node from, and the record it
// produced: feed entry, id and hash indexes, history entry, record.
func (w *wtx) store(ev *pb.Event, rec *pb.StoredRecord, from string) error {
	w.st.feedBytes += uint64(proto.Size(ev))
	feb, err := proto.Marshal(&pb.FeedEntry{Event: ev, FromNode: from, Offset: w.st.feedBytes})
	if err != nil {
		return err
	}
	recb, err := proto.Marshal(rec)
	if err != nil {
		return err
	}
	w.st.feedHead++
	pos := w.st.feedHead
	w.set(feedKey(pos), feb)
	w.set(idKey(ev.GetOrigin(), ev.GetSeq()), u64(pos))
	w.set(hashKey(ev.GetHash()), u64(pos))
	w.set(historyKey(ev.GetRecordKey(), pos), nil)
	w.set(recordKey(ev.GetRecordKey()), recb)
	return nil
}

// nextCounter increments and returns a named counter.
func (w *wtx) nextCounter(name string) (uint64, error) {
	key := []byte(prefixCounter + name)
	v, err := w.get(key)
	if err != nil {
		return 0, err
	}
	var n uint64
	if len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	w.set(key, u64(n))
	return n, nil
}

// view runs fn in a read-only snapshot.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	s.restoring.RLock()
	defer s.restoring.RUnlock()
	return s.db.View(fn)
}

func readRecord(txn *badger.Txn, key string) (*pb.StoredRecord, error) {
	it, err := txn.Get(recordKey(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec := &pb.StoredRecord{}
	err = it.Value(func(v []byte) error { return proto.Unmarshal(v, rec) })
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %v", ErrCorrupt, key, err)
	}
	return rec, nil
}

// scanRecords calls fn for every record whose key starts with prefix, in
// key order (or reverse).
func scanRecords(txn *badger.Txn, prefix string, reverse bool, fn func(key string, rec *pb.StoredRecord) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	opts.Reverse = reverse
	p := recordKey(prefix)
	opts.Prefix = p
	it := txn.NewIterator(opts)
	defer it.Close()
	start := p
	if reverse {
		start = append(append([]byte{}, p...), 0xff)
	}
	for it.Seek(start); it.ValidForPrefix(p); it.Next() {
		rec := &pb.StoredRecord{}
		if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, rec) }); err != nil {
			return fmt.Errorf("%w: record %s: %v", ErrCorrupt, it.Item().Key(), err)
		}
		more, err := fn(string(it.Item().Key()[len(prefixRecord):]), rec)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
