package store

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

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

// View runs fn on a consistent read-only snapshot of the records and the
// feed.
func (s *Store) View(fn func(Reader) error) error {
	return s.view(func(txn *badger.Txn) error { return fn(Reader{txn: txn}) })
}

// Reader reads records and the feed from one snapshot (or, from a Tx, what
// the batch committed before the command).
type Reader struct{ txn *badger.Txn }

// Record reads a materialized record, or nil.
func (r Reader) Record(key string) (*pb.StoredRecord, error) {
	it, err := r.txn.Get(recordKey(key))
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

// Scan calls fn for every record whose key starts with prefix, in key
// order (or reverse), until fn says no more.
func (r Reader) Scan(prefix string, reverse bool, fn func(key string, rec *pb.StoredRecord) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	// Records are small and live in the LSM tree: prefetching them (a
	// goroutine an item) costs more than it saves.
	opts.PrefetchValues = false
	opts.Reverse = reverse
	p := recordKey(prefix)
	opts.Prefix = p
	it := r.txn.NewIterator(opts)
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

// History calls fn for each event of a record, in feed order.
func (r Reader) History(key string, fn func(pos uint64, ev *pb.Event)) error {
	return historyPositions(r.txn, key, func(pos uint64) error {
		ev, err := r.Event(pos)
		if err != nil {
			return err
		}
		fn(pos, ev)
		return nil
	})
}

// historyPositions calls fn with the feed position of each event of a
// record, in order.
func historyPositions(txn *badger.Txn, key string, fn func(pos uint64) error) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	p := historyPrefix(key)
	opts.Prefix = p
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		k := it.Item().Key()
		if err := fn(beUint64(k[len(k)-8:])); err != nil {
			return err
		}
	}
	return nil
}

// Event reads the event at a feed position.
func (r Reader) Event(pos uint64) (*pb.Event, error) {
	it, err := r.txn.Get(feedKey(pos))
	if err != nil {
		return nil, fmt.Errorf("%w: feed position %d: %v", ErrCorrupt, pos, err)
	}
	fe := &pb.FeedEntry{}
	if err := it.Value(func(v []byte) error { return proto.Unmarshal(v, fe) }); err != nil {
		return nil, fmt.Errorf("%w: feed position %d: %v", ErrCorrupt, pos, err)
	}
	return fe.GetEvent(), nil
}

// Events returns up to limit events of the feed after position from.
func (s *Store) Events(from uint64, limit int) ([]*pb.Event, error) {
	var out []*pb.Event
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixFeed)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(feedKey(from + 1)); it.ValidForPrefix([]byte(prefixFeed)) && len(out) < limit; it.Next() {
			fe := &pb.FeedEntry{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, fe) }); err != nil {
				return fmt.Errorf("%w: feed: %v", ErrCorrupt, err)
			}
			out = append(out, fe.GetEvent())
		}
		return nil
	})
	return out, err
}
