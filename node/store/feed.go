package store

import (
	"bytes"
	"errors"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// Self is this node as a sync peer.
func (s *Store) Self() *pb.Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &pb.Peer{Unit: string(s.cfg.Unit), NodeId: s.state.nodeID, Epoch: s.state.epoch}
}

// ReadFeed returns the events after feed position `after` that keep
// accepts (given the event and the node that delivered it), at most
// maxEvents of them and about maxBytes, and the feed position it has
// looked up to (the caller's next cursor, even when everything was
// filtered out). It looks at no more than 20 × maxEvents entries per call.
func (s *Store) ReadFeed(after uint64, keep func(ev *pb.Event, from string) bool, maxEvents, maxBytes int) ([]*pb.Event, uint64, error) {
	var out []*pb.Event
	last := after
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixFeed)
		opts.PrefetchSize = min(maxEvents, 100)
		it := txn.NewIterator(opts)
		defer it.Close()
		size, scanned := 0, 0
		for it.Seek(feedKey(after + 1)); it.ValidForPrefix([]byte(prefixFeed)); it.Next() {
			if len(out) >= maxEvents || size >= maxBytes || scanned >= 20*maxEvents {
				break
			}
			fe := &pb.FeedEntry{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, fe) }); err != nil {
				return err
			}
			scanned++
			last = beUint64(it.Item().Key()[len(prefixFeed):])
			if keep(fe.GetEvent(), fe.GetFromNode()) {
				out = append(out, fe.GetEvent())
				size += proto.Size(fe.GetEvent())
			}
		}
		return nil
	})
	return out, last, err
}

func (s *Store) cursor(key []byte) (*pb.Cursor, error) {
	c := &pb.Cursor{}
	err := s.view(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { return proto.Unmarshal(v, c) })
	})
	return c, err
}

// PullCursor is this node's cursor on its parent's feed.
func (s *Store) PullCursor() (*pb.Cursor, error) { return s.cursor([]byte(keyPullCursor)) }

// PushCursor is what this node has stored of a child's feed.
func (s *Store) PushCursor(childNodeID string) (*pb.Cursor, error) {
	return s.cursor(pushCursorKey(childNodeID))
}

// IngestCommand is the command that applies a batch from a sync peer and
// moves the cursor, durably. For a pulled batch, head is the parent's feed
// head when it answered. Its output is a *pb.PushResponse.
func IngestCommand(now time.Time, from *pb.Peer, pushed bool, events []*pb.Event, certs [][]byte, last, head uint64) *pb.Command {
	return &pb.Command{NowMs: now.UnixMilli(), Actor: SystemActor,
		Op: &pb.Command_Ingest{Ingest: &pb.Ingest{From: from, Pushed: pushed, Events: events, Certificates: certs, LastPosition: last, Head: head}}}
}

// Quarantine lists the most recent quarantined events, newest first.
func (s *Store) Quarantine(limit int) ([]*pb.QuarantineEntry, error) {
	return s.quarantineEntries(prefixQuar, true, limit, func([]byte) bool { return true })
}

// QuarantineSummaries are, for each child that has had more quarantined
// events than MaxQuarantinePerChild, what was kept of the dropped ones.
func (s *Store) QuarantineSummaries() ([]*pb.QuarantineEntry, error) {
	return s.quarantineEntries(prefixQuarFrom, false, -1, func(k []byte) bool { return bytes.HasSuffix(k, []byte("/sum")) })
}

// quarantineEntries reads up to limit (negative: all) entries under
// prefix whose keys match, in key order or its reverse.
func (s *Store) quarantineEntries(prefix string, reverse bool, limit int, match func(key []byte) bool) ([]*pb.QuarantineEntry, error) {
	var out []*pb.QuarantineEntry
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse, opts.Prefix = reverse, []byte(prefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		start := []byte(prefix)
		if reverse {
			start = append(start, 0xff)
		}
		for it.Seek(start); it.ValidForPrefix([]byte(prefix)) && len(out) != limit; it.Next() {
			if !match(it.Item().Key()) {
				continue
			}
			q := &pb.QuarantineEntry{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, q) }); err != nil {
				return err
			}
			out = append(out, q)
		}
		return nil
	})
	return out, err
}

// BytesAfter is the size of the feed's events after position pos (all of
// them, whatever their scope: an upper bound on what a peer still lacks).
func (s *Store) BytesAfter(pos uint64) uint64 {
	s.mu.Lock()
	total := s.state.feedBytes
	s.mu.Unlock()
	if pos == 0 {
		return total
	}
	var at uint64
	_ = s.view(func(txn *badger.Txn) error {
		it, err := txn.Get(feedKey(pos))
		if err != nil {
			return err
		}
		fe := &pb.FeedEntry{}
		if err := it.Value(func(v []byte) error { return proto.Unmarshal(v, fe) }); err != nil {
			return err
		}
		at = fe.GetOffset()
		return nil
	})
	return total - min(total, at)
}

// HasEvent reports whether an event with this hash is in the feed.
func (s *Store) HasEvent(hash []byte) bool {
	found := false
	_ = s.view(func(txn *badger.Txn) error {
		_, err := txn.Get(hashKey(hash))
		found = err == nil
		return nil
	})
	return found
}

// Restored reports whether the store was restored from a backup and has
// not caught up with its parent yet.
func (s *Store) Restored() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.restored
}

// SyncCounts are the quarantined (ever) and held-back (now) event counts.
func (s *Store) SyncCounts() (quarantined, held uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.quarantined, s.state.held
}

// Seq is the last origin sequence number this node wrote its own events
// under (its next event takes Seq()+1).
func (s *Store) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.seq
}
