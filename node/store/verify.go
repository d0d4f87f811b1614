package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Events  uint64
	Records int
}

// Verify checks the whole store against itself: the feed runs 1..head
// without a gap and nothing lies beyond the head; every event's hash is
// right and its id index points back at it; each record's chain links up;
// and every record equals the fold of its events through Fold (the
// same code that wrote it). It is what a node killed mid-write must pass
// when it reopens.
func (s *Store) Verify() (VerifyReport, error) {
	var rep VerifyReport
	err := s.view(func(txn *badger.Txn) error {
		// The head as of this snapshot (it is written with the feed), not
		// the live one: the node may be writing while it is verified.
		var head uint64
		if item, err := txn.Get([]byte(metaFeedHead)); err == nil {
			v, err := item.ValueCopy(nil)
			if err != nil || len(v) != 8 {
				return fmt.Errorf("%w: feed head unreadable", ErrCorrupt)
			}
			head = binary.BigEndian.Uint64(v)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		records := map[string]*pb.StoredRecord{}
		history := map[string][]uint64{}
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixFeed)
		it := txn.NewIterator(opts)
		defer it.Close()
		var pos uint64
		for it.Seek([]byte(prefixFeed)); it.ValidForPrefix([]byte(prefixFeed)); it.Next() {
			k := it.Item().Key()
			p := binary.BigEndian.Uint64(k[len(prefixFeed):])
			if p != pos+1 {
				return fmt.Errorf("%w: feed gap: position %d follows %d", ErrCorrupt, p, pos)
			}
			pos = p
			fe := &pb.FeedEntry{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, fe) }); err != nil {
				return fmt.Errorf("%w: feed %d: %v", ErrCorrupt, p, err)
			}
			ev := fe.GetEvent()
			if hp, err := txn.Get(hashKey(ev.GetHash())); err != nil {
				return fmt.Errorf("%w: feed %d: no hash index: %v", ErrCorrupt, p, err)
			} else if v, _ := hp.ValueCopy(nil); binary.BigEndian.Uint64(v) != p {
				return fmt.Errorf("%w: feed %d: hash index points elsewhere", ErrCorrupt, p)
			}
			idItem, err := txn.Get(idKey(ev.GetOrigin(), ev.GetSeq()))
			if err != nil {
				return fmt.Errorf("%w: feed %d: event %s/%d has no id index: %v", ErrCorrupt, p, ev.GetOrigin(), ev.GetSeq(), err)
			}
			var ip []byte
			if ip, err = idItem.ValueCopy(nil); err != nil || binary.BigEndian.Uint64(ip) != p {
				return fmt.Errorf("%w: feed %d: id index of %s/%d points elsewhere", ErrCorrupt, p, ev.GetOrigin(), ev.GetSeq())
			}
			rec, err := s.fold(records[ev.GetRecordKey()], ev)
			if err != nil {
				return fmt.Errorf("%w: feed %d (%s %s): %v", ErrCorrupt, p, ev.GetKind(), ev.GetRecordKey(), err)
			}
			records[ev.GetRecordKey()] = rec
			history[ev.GetRecordKey()] = append(history[ev.GetRecordKey()], p)
		}
		if pos != head {
			return fmt.Errorf("%w: feed ends at %d but its head says %d", ErrCorrupt, pos, head)
		}
		rep.Events = pos
		for key, want := range records {
			got, err := Reader{txn: txn}.Record(key)
			if err != nil {
				return err
			}
			if !proto.Equal(got, want) {
				return fmt.Errorf("%w: record %s differs from the fold of its events", ErrCorrupt, key)
			}
			var hist []uint64
			if err := historyPositions(txn, key, func(pos uint64) error { hist = append(hist, pos); return nil }); err != nil {
				return err
			}
			if fmt.Sprint(hist) != fmt.Sprint(history[key]) {
				return fmt.Errorf("%w: record %s history %v, feed says %v", ErrCorrupt, key, hist, history[key])
			}
		}
		rep.Records = len(records)
		// No record without events.
		n := 0
		err := Reader{txn: txn}.Scan("", false, func(key string, _ *pb.StoredRecord) (bool, error) {
			n++
			if records[key] == nil {
				return false, fmt.Errorf("%w: record %s has no events", ErrCorrupt, key)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if n != len(records) {
			return fmt.Errorf("%w: %d records stored, %d produced by events", ErrCorrupt, n, len(records))
		}
		return nil
	})
	return rep, err
}
