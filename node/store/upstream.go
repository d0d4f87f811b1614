package store

import (
	"errors"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Where this node's events stand upstream. Three small logs, local to the
// node (never replicated), keyed by feed position:
//
//	k/ack/<pos:8>                this node's feed up to pos is stored at its
//	                             parent, since <ms> (this node's clock)
//	k/up/<pos:8>                 ... and at its parent's parent (the county,
//	                             for a village), since <ms> (the parent's clock)
//	k/relay/<child>/<pos:8>      at a parent: after a push of that child was
//	                             stored, this node's feed ended at pos and the
//	                             child's batch at <child position>
//
// A child writes the first two from its parent's push answers; a parent
// answers a child's "how far does the county hold me" from the third and its
// own k/ack log: the child's last position whose batch ended at or before
// what the county has acknowledged of this node's feed.
const (
	prefixAck   = "k/ack/"
	prefixUpAck = "k/up/"
	prefixRelay = "k/relay/"
)

func ackKey(prefix string, pos uint64) []byte { return append([]byte(prefix), u64(pos)...) }

func relayPrefix(child string) []byte { return []byte(prefixRelay + child + "/") }

func relayKey(child string, pos uint64) []byte { return append(relayPrefix(child), u64(pos)...) }

// update runs fn in a read-write transaction outside the command path: for
// the node's own bookkeeping of its link, which no other node sees.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	s.restoring.RLock()
	defer s.restoring.RUnlock()
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	return s.db.Update(fn)
}

// oneItem are the options of an iterator that reads the first item it
// seeks to: no values fetched ahead (badger's default fetches a hundred,
// a goroutine each), for these are asked on every long poll's answer.
func oneItem(prefix string) badger.IteratorOptions {
	return badger.IteratorOptions{Prefix: []byte(prefix), PrefetchSize: 1}
}

// lastAck is the greatest position in an ack log and its time (0: empty).
func lastAck(txn *badger.Txn, prefix string) (uint64, int64, error) {
	opts := oneItem(prefix)
	opts.Reverse = true
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Seek(append([]byte(prefix), 0xff))
	if !it.ValidForPrefix([]byte(prefix)) {
		return 0, 0, nil
	}
	v, err := it.Item().ValueCopy(nil)
	return beUint64(it.Item().Key()[len(prefix):]), int64(beUint64(v)), err
}

// firstAckFrom is the time of the first entry of an ack log at or after
// pos: when the position was first acknowledged (0: not yet).
func firstAckFrom(txn *badger.Txn, prefix string, pos uint64) (int64, error) {
	opts := oneItem(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Seek(ackKey(prefix, pos))
	if !it.ValidForPrefix([]byte(prefix)) {
		return 0, nil
	}
	v, err := it.Item().ValueCopy(nil)
	return int64(beUint64(v)), err
}

// RecordAck notes that the parent holds this node's feed up to pos (its
// push cursor for this node), first at `at`. A parent that holds less than
// it said before (restored, or this node has a new identity) drops what
// the log said past pos.
func (s *Store) RecordAck(pos uint64, at time.Time) error {
	more := false
	err := s.update(func(txn *badger.Txn) error {
		last, _, err := lastAck(txn, prefixAck)
		if err != nil || pos == last {
			return err
		}
		more = pos > last
		if pos < last {
			var drop [][]byte
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues, opts.Prefix = false, []byte(prefixAck)
			it := txn.NewIterator(opts)
			for it.Seek(ackKey(prefixAck, pos+1)); it.ValidForPrefix([]byte(prefixAck)); it.Next() {
				drop = append(drop, it.Item().KeyCopy(nil))
			}
			it.Close()
			for _, k := range drop {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			if pos == 0 {
				return nil
			}
			if _, err := txn.Get(ackKey(prefixAck, pos)); err == nil || !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		return txn.Set(ackKey(prefixAck, pos), u64(uint64(at.UnixMilli())))
	})
	if err == nil && more {
		s.ackMu.Lock()
		close(s.acked)
		s.acked = make(chan struct{})
		s.ackMu.Unlock()
	}
	return err
}

// AckChanged is closed when the parent next acknowledges more of this
// node's feed: a child's long poll then tells the child how far the
// county holds it (已送达县级) without waiting for the poll to end.
func (s *Store) AckChanged() <-chan struct{} {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	return s.acked
}

// RecordAckAbove notes the parent's word that its own parent holds this
// node's feed up to pos since atMs (the parent's clock). Only forward: an
// answer that crossed a later one says less, not that anything was lost.
func (s *Store) RecordAckAbove(pos uint64, atMs int64) error {
	if pos == 0 {
		return nil
	}
	return s.update(func(txn *badger.Txn) error {
		last, _, err := lastAck(txn, prefixUpAck)
		if err != nil || pos <= last {
			return err
		}
		return txn.Set(ackKey(prefixUpAck, pos), u64(uint64(atMs)))
	})
}

// relayed, at a parent with a parent of its own, maps a child's stored
// push to this node's feed head after it (see k/relay).
func (w *Tx) relayed(in *pb.Ingest) {
	if !in.GetPushed() || w.s.cfg.Unit.Tier() == tiers.County {
		return
	}
	w.Set(relayKey(in.GetFrom().GetNodeId(), w.st.feedHead), u64(in.GetLastPosition()))
}

// UpstreamAcked is how far this node's parent holds a child's feed: the
// child's last feed position all of whose events bound upwards this node
// has passed on and its parent acknowledged, and when it first did (unix
// ms, this node's clock). 0: nothing yet, or this node is the county.
func (s *Store) UpstreamAcked(child string) (uint64, int64, error) {
	var pos uint64
	var atMs int64
	err := s.view(func(txn *badger.Txn) error {
		acked, _, err := lastAck(txn, prefixAck)
		if err != nil || acked == 0 {
			return err
		}
		opts := oneItem(string(relayPrefix(child)))
		opts.Reverse = true
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Seek(relayKey(child, acked))
		if !it.ValidForPrefix(relayPrefix(child)) {
			return nil
		}
		own := beUint64(it.Item().Key()[len(relayPrefix(child)):])
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		if atMs, err = firstAckFrom(txn, prefixAck, own); err != nil {
			return err
		}
		pos = beUint64(v)
		return nil
	})
	return pos, atMs, err
}

// Upstream is where this node's latest change to a record stands: the
// feed position of the record's latest event written in this node's
// subtree, and when the parent and the parent's parent first held it
// (zero: not yet).
type Upstream struct {
	Position      uint64
	Parent, Above time.Time
}

// UpstreamOf finds where this node's latest change to a record stands
// upstream; false if no event of the record was written in this node's
// subtree (nothing of it is this node's to send).
func (s *Store) UpstreamOf(recordKey string) (Upstream, bool, error) {
	var u Upstream
	found := false
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse, opts.PrefetchValues = true, false
		p := historyPrefix(recordKey)
		opts.Prefix = p
		it := txn.NewIterator(opts)
		defer it.Close()
		r := Reader{txn: txn}
		for it.Seek(append(append([]byte{}, p...), 0xff)); it.ValidForPrefix(p); it.Next() {
			k := it.Item().Key()
			pos := beUint64(k[len(k)-8:])
			ev, err := r.Event(pos)
			if err != nil {
				return err
			}
			if s.cfg.Unit.Contains(tiers.Unit(ev.GetUnit())) {
				u.Position, found = pos, true
				break
			}
		}
		if !found {
			return nil
		}
		for _, l := range []struct {
			prefix string
			at     *time.Time
		}{{prefixAck, &u.Parent}, {prefixUpAck, &u.Above}} {
			ms, err := firstAckFrom(txn, l.prefix, u.Position)
			if err != nil {
				return err
			}
			if ms != 0 {
				*l.at = time.UnixMilli(ms)
			}
		}
		return nil
	})
	return u, found, err
}

// PushCursors are the push cursors of every child that has pushed here.
func (s *Store) PushCursors() ([]*pb.Cursor, error) {
	var out []*pb.Cursor
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixPushCur)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek([]byte(prefixPushCur)); it.ValidForPrefix([]byte(prefixPushCur)); it.Next() {
			c := &pb.Cursor{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, c) }); err != nil {
				return err
			}
			if c.GetUnit() == "" { // written before cursors said their unit
				if v, err := txn.Get(originKey(c.GetNodeId())); err == nil {
					u, _ := v.ValueCopy(nil)
					c.Unit = string(u)
				}
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// QuarantinedFrom is how many events pushed by a child were quarantined
// here, ever.
func (s *Store) QuarantinedFrom(child string) uint64 {
	var n uint64
	_ = s.view(func(txn *badger.Txn) error {
		it, err := txn.Get(quarCountKey(child))
		if err != nil {
			return err
		}
		v, err := it.ValueCopy(nil)
		n = beUint64(v)
		return err
	})
	return n
}

// dropAckLogs forgets the ack logs of a store loaded from a backup: its
// feed positions past the backup are about to be reused.
func dropAckLogs(db *badger.DB) error {
	return db.DropPrefix([]byte(prefixAck), []byte(prefixUpAck))
}
