// Package store is a node's durable state in badger: events (hash,
// encoding, checks), the feed, materialized records, sync cursors, request
// ids (dedupe), a county member's tuning, backup, verification, quarantine
// and hold-back. It knows no application rule: what a command does and
// what an event means it asks of the Rules it is opened with.
//
// Every write is a *pb.Command handed to Store.Apply. One writer goroutine
// applies commands in arrival order, gathering whatever is waiting into one
// badger transaction and one fsync (group commit). A command either writes
// all its events, their feed entries and the records they change, or
// nothing.
package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Config configures a Store.
type Config struct {
	// Dir is the badger directory; created if missing.
	Dir string
	// Unit is the unit this node serves. A store remembers its unit and
	// refuses to open as another.
	Unit tiers.Unit
	// Rules execute commands and fold events; required.
	Rules Rules
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
	Logger *slog.Logger
	// EncryptionKey, 32 bytes, keeps the store encrypted at rest (badger's
	// encryption) and its backups and snapshots sealed with a key derived
	// from it (sealed.go). Nil: plain.
	EncryptionKey []byte

	// Tune adjusts badger's options (tests and benchmarks: smaller files).
	Tune func(badger.Options) badger.Options
	// Signing signs this node's events and checks received ones (nil: an
	// insecure node).
	Signing Signing
	// Watch are prefixes of record keys whose changes move Generation,
	// once committed (the rules cache what they read of them).
	Watch []string
	// BootID names the machine's boot (tests: another boot); defaults to
	// the kernel's.
	BootID func() string
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return invalid("data", "数据目录未指定")
	}
	if _, err := tiers.Parse(string(c.Unit)); err != nil {
		return fmt.Errorf("unit: %w", err)
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
	if c.EncryptionKey != nil && len(c.EncryptionKey) != 32 {
		return invalid("encryption-key-file", "数据加密密钥应为 32 字节，实为 %d 字节", len(c.EncryptionKey))
	}
	return nil
}

// openBadger opens the store's badger with its options, and says plainly
// when the key does not fit the data.
func openBadger(cfg Config, opts badger.Options) (*badger.DB, error) {
	if cfg.EncryptionKey != nil {
		opts = opts.WithEncryptionKey(cfg.EncryptionKey).WithEncryptionKeyRotationDuration(30 * 24 * time.Hour)
	}
	db, err := badger.Open(opts)
	switch {
	case errors.Is(err, badger.ErrEncryptionKeyMismatch):
		return nil, precondition("encryption-key-file", "数据目录 %s 的加密与所给密钥不符：已加密的目录须用 --encryption-key-file 指定它的密钥，未加密的目录不能加上密钥打开", cfg.Dir)
	case err != nil && strings.Contains(err.Error(), "encryption"):
		return nil, precondition("encryption-key-file", "数据目录 %s 已加密：请用 --encryption-key-file 指定其密钥（%v）", cfg.Dir, err)
	case err != nil:
		return nil, fmt.Errorf("open badger at %s: %w", cfg.Dir, err)
	}
	return db, nil
}

// Store is a node's durable state.
type Store struct {
	cfg Config
	db  *badger.DB

	reqs chan *writeReq
	stop chan struct{}
	done chan struct{}

	// restoring is held while a snapshot replaces the content: no read
	// sees the store half dropped or half loaded.
	restoring sync.RWMutex

	mu      sync.Mutex // guards state, changed, closed
	state   counters
	changed chan struct{}
	// generation: see Generation.
	generation atomic.Uint64
	// certs: the signers' certificates read or received so far.
	certs  certs
	closed bool
	// ackMu serializes the link's ack logs' updates (upstream.go) and
	// guards acked.
	ackMu sync.Mutex
	// acked is closed when the parent acknowledges more of this node's
	// feed (AckChanged).
	acked chan struct{}
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
	// watched counts writes of records under Config.Watch. Not persisted.
	watched uint64
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
// when idle (`jiujin bench accept`, docs/benchmarks.md). A county
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

// Open opens (or creates) a node's store.
func Open(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Rules == nil {
		return nil, invalid("rules", "未指定业务规则")
	}
	boot := bootID()
	if cfg.BootID != nil {
		boot = cfg.BootID()
	}
	// The directory holds names and identity numbers: its owner's only.
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(cfg.Dir, 0o700); err != nil {
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
	if cfg.Tune != nil {
		opts = cfg.Tune(opts)
	}
	db, err := openBadger(cfg, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:     cfg,
		db:      db,
		reqs:    make(chan *writeReq, 1024),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		acked:   make(chan struct{}),
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
		s.state.nodeID, s.state.epoch = string(id), beUint64(epoch)
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
				*c.dst = beUint64(v)
			}
		}
		part, err := get(metaAppliedPart)
		if err != nil {
			return err
		}
		if len(part) == 16 {
			s.state.partOf, s.state.partsDone = beUint64(part[:8]), beUint64(part[8:])
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

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.cfg.Clock.Now() }

// FeedHead is the last position of the feed.
func (s *Store) FeedHead() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.feedHead
}

// Generation moves after every commit that changed a record under
// Config.Watch (and after a restore): what was read of those records
// while it stood still is still so.
func (s *Store) Generation() uint64 { return s.generation.Load() }

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

// Restore replaces the store's whole content with a backup (a replicated
// group's snapshot) and reloads identity and counters from it.
func (s *Store) Restore(r io.Reader) error {
	s.restoring.Lock()
	defer s.restoring.Unlock()
	s.cfg.Rules.Forget("")
	defer s.cfg.Rules.Forget("")
	// Marked until loaded whole (restoreMark): a store left half loaded
	// is cleared when next opened.
	if err := writeMark(s.cfg.Dir, restoreMark, ""); err != nil {
		return fmt.Errorf("mark store restoring: %w", err)
	}
	if err := s.db.DropAll(); err != nil {
		return fmt.Errorf("drop before restore: %w", err)
	}
	plain, err := unsealed(r, s.cfg.EncryptionKey)
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	if err := s.db.Load(plain, 64); err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	s.mu.Lock()
	s.state = counters{}
	s.generation.Add(1)
	err = s.loadMeta()
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
