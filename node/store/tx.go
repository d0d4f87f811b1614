package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Tx is one command's view of the store: reads see the batch's earlier
// writes and the command's own; writes are staged until the command
// succeeds.
type Tx struct {
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
	// quarReason is the first reason this command quarantined an event
	// for (logged once), quarErr a failure keeping its per-child ring.
	quarReason string
	quarErr    error
}

func newTx(s *Store, btx *badger.Txn, st counters) *Tx {
	return &Tx{s: s, btx: btx, st: st, pending: map[string][]byte{}, deleted: map[string]bool{},
		stagedHeld: map[string][][]byte{}, startHeld: st.held}
}

// Get reads a key as this command sees it (nil: absent).
func (w *Tx) Get(key []byte) ([]byte, error) {
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

// Set stages a write.
func (w *Tx) Set(key, val []byte) {
	k := string(key)
	if _, ok := w.pending[k]; !ok {
		w.order = append(w.order, k)
	}
	w.pending[k] = val
	delete(w.deleted, k)
}

// Delete stages a deletion.
func (w *Tx) Delete(key []byte) {
	w.Set(key, nil)
	w.deleted[string(key)] = true
}

// estimate sizes the staged writes the way badger counts a transaction
// (key, value and a little overhead per entry), with the counters every
// commit adds.
func (w *Tx) estimate() (size, count int64) {
	for _, k := range w.order {
		size += int64(len(k) + len(w.pending[k]) + 24)
	}
	return size + 8*64, int64(len(w.order)) + 8
}

func (w *Tx) flush(btx *badger.Txn) error {
	for _, k := range w.order {
		if strings.HasPrefix(k, prefixRecord) {
			w.s.cfg.Rules.Forget(k[len(prefixRecord):])
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

// Record reads a materialized record as this command sees it, or nil.
func (w *Tx) Record(key string) (*pb.StoredRecord, error) {
	v, err := w.Get(recordKey(key))
	if err != nil || v == nil {
		return nil, err
	}
	rec := &pb.StoredRecord{}
	if err := proto.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("%w: record %s: %v", ErrCorrupt, key, err)
	}
	return rec, nil
}

// Emit writes a new event of this node: it fills the id, clock, unit and
// chain fields, folds it into the record it changes, and stages the event,
// its feed entry, id index, history entry and the new record. It returns
// the new record.
func (w *Tx) Emit(cmd *pb.Command, ev *pb.Event) (*pb.StoredRecord, error) {
	prev, err := w.Record(ev.GetRecordKey())
	if err != nil {
		return nil, err
	}
	w.st.seq++
	ev.Origin = w.st.nodeID
	ev.Seq = w.st.seq
	ev.Hlc = w.st.hlc.next(cmd.GetNowMs())
	ev.Unit = string(w.s.cfg.Unit)
	if ev.Actor == "" {
		ev.Actor, ev.ActorLogin = cmd.GetActor(), cmd.GetActorLogin()
	}
	if ev.Actor == SystemActor && ev.ActorLogin == "" {
		ev.Actor = SystemActorOf(ev.Origin)
	}
	ev.Source = cmd.GetSource()
	if prev != nil {
		ev.PrevHash = prev.GetHead()
	}
	ev.Hash = EventHash(ev)
	w.sign(ev)
	rec, err := w.s.fold(prev, ev)
	if err != nil {
		return nil, err
	}
	return rec, w.store(ev, rec, w.st.nodeID)
}

// store stages an event, delivered by node from, and the record it
// produced: feed entry, id and hash indexes, history entry, record.
func (w *Tx) store(ev *pb.Event, rec *pb.StoredRecord, from string) error {
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
	w.Set(feedKey(pos), feb)
	w.Set(idKey(ev.GetOrigin(), ev.GetSeq()), u64(pos))
	w.Set(hashKey(ev.GetHash()), u64(pos))
	w.Set(historyKey(ev.GetRecordKey(), pos), nil)
	w.Set(recordKey(ev.GetRecordKey()), recb)
	for _, p := range w.s.cfg.Watch {
		if strings.HasPrefix(ev.GetRecordKey(), p) {
			w.st.watched++
			break
		}
	}
	return nil
}

// NextCounter increments and returns a named counter.
func (w *Tx) NextCounter(name string) (uint64, error) {
	key := []byte(prefixCounter + name)
	v, err := w.Get(key)
	if err != nil {
		return 0, err
	}
	n := beUint64(v) + 1
	w.Set(key, u64(n))
	return n, nil
}

// RaiseCounter raises a named counter to at least n.
func (w *Tx) RaiseCounter(name string, n uint64) error {
	key := []byte(prefixCounter + name)
	v, err := w.Get(key)
	if err != nil {
		return err
	}
	if beUint64(v) < n {
		w.Set(key, u64(n))
	}
	return nil
}

// Unit is the unit the store serves.
func (w *Tx) Unit() tiers.Unit { return w.s.cfg.Unit }

// Committed reads what the batch has committed or flushed before this
// command, without this command's staged writes.
func (w *Tx) Committed() Reader { return Reader{txn: w.btx} }

// Staged tells whether this command has staged a write of the record.
func (w *Tx) Staged(key string) bool {
	_, ok := w.pending[string(recordKey(key))]
	return ok
}

// Restored tells whether the store was restored from a backup and has not
// yet caught up with its parent: ids it hands out could collide.
func (w *Tx) Restored() bool { return w.st.restored }

// HLCTime is the wall time an event's hybrid logical clock carries.
func HLCTime(ts uint64) time.Time { return hlcTime(ts) }
