package store

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// CheckPeer makes sure a sync peer is this node's direct child (pushed) or
// its parent (pulled).
func (s *Store) CheckPeer(from *pb.Peer, pushed bool) error {
	u, err := tiers.Parse(from.GetUnit())
	if err != nil {
		return invalid("peer.unit", "%v", err)
	}
	if from.GetNodeId() == "" {
		return invalid("peer.node_id", "缺少节点标识")
	}
	if pushed && u.Parent() != s.cfg.Unit {
		return precondition("peer.unit", "%s 不是本单位 %s 的直属下级，不能向本节点推送", u, s.cfg.Unit)
	}
	if !pushed && s.cfg.Unit.Parent() != u {
		return precondition("peer.unit", "%s 不是本单位 %s 的上级", u, s.cfg.Unit)
	}
	return nil
}

// MaxClockSkew is how far ahead of the receiver's clock an event's time may
// be: a writer's clock a little fast is accepted, one set to another year
// is not.
const MaxClockSkew = 5 * time.Minute

// ingest applies a batch received over a sync link. Every event ends up in
// exactly one place: applied (feed, record), held back until its
// predecessor arrives, or quarantined with the reason; duplicates are
// counted and dropped. The cursor moves in the same transaction.
func (s *Store) ingest(w *Tx, cmd *pb.Command, in *pb.Ingest) (proto.Message, error) {
	if err := s.CheckPeer(in.GetFrom(), in.GetPushed()); err != nil {
		return nil, err
	}
	res := &pb.PushResponse{}
	unsigned, err := w.checkSignatures(in)
	if err != nil {
		return nil, err
	}
	for i, ev := range in.GetEvents() {
		if unsigned != nil && unsigned[i] != "" {
			s.quarantine(w, cmd, in, ev, unsigned[i], res)
			continue
		}
		if err := s.ingestOne(w, cmd, in, ev, res); err != nil {
			return nil, err
		}
	}
	cur := &pb.Cursor{NodeId: in.GetFrom().GetNodeId(), Epoch: in.GetFrom().GetEpoch(), Position: in.GetLastPosition(),
		AtMs: cmd.GetNowMs(), Unit: in.GetFrom().GetUnit()}
	key := []byte(keyPullCursor)
	if in.GetPushed() {
		key = pushCursorKey(in.GetFrom().GetNodeId())
		if n := len(in.GetEvents()); n > 0 {
			cur.LastHash = in.GetEvents()[n-1].GetHash()
		} else if old, err := w.Get(key); err != nil {
			return nil, err
		} else if old != nil {
			oc := &pb.Cursor{}
			if err := proto.Unmarshal(old, oc); err == nil {
				cur.LastHash = oc.GetLastHash()
			}
		}
	}
	w.Set(key, MustMarshal(cur))
	w.relayed(in)
	if !in.GetPushed() && w.st.restored && in.GetLastPosition() >= in.GetHead() && in.GetHead() > 0 {
		// Caught up with the parent after a restore: ids are safe again.
		w.st.restored = false
		w.Delete([]byte(metaRestored))
	}
	if w.quarErr != nil {
		return nil, w.quarErr
	}
	if res.GetQuarantined() > 0 {
		// One line per batch, however many it quarantined.
		s.cfg.Logger.Warn("events quarantined", "from", in.GetFrom().GetUnit(), "from_node", in.GetFrom().GetNodeId(),
			"count", res.GetQuarantined(), "first_reason", w.quarReason)
	}
	res.AckedPosition = in.GetLastPosition()
	return res, nil
}

// MaxQuarantinePerChild is how many quarantined events of one child a
// node keeps whole; past it, each new one takes the place of that child's
// oldest, which lives on in the child's summary and in the counts.
const MaxQuarantinePerChild = 1000

func (s *Store) quarantine(w *Tx, cmd *pb.Command, in *pb.Ingest, ev *pb.Event, reason string, res *pb.PushResponse) {
	from := in.GetFrom().GetNodeId()
	w.st.quarantined++
	w.Set(quarKey(w.st.quarantined), MustMarshal(&pb.QuarantineEntry{
		Event: ev, Reason: reason, FromNode: from, FromUnit: in.GetFrom().GetUnit(), AtMs: cmd.GetNowMs(),
	}))
	res.Quarantined++
	if w.quarReason == "" {
		w.quarReason = reason
	}
	if err := w.keepPerChild(from, in.GetFrom().GetUnit(), reason, cmd.GetNowMs()); err != nil {
		w.quarErr = err
	}
}

// keepPerChild puts the entry just quarantined in its child's ring; the
// entry it replaces is deleted and counted in the child's summary.
func (w *Tx) keepPerChild(from, unit, reason string, atMs int64) error {
	n, err := w.Get(quarCountKey(from))
	if err != nil {
		return err
	}
	count := beUint64(n)
	slot := quarSlotKey(from, count%MaxQuarantinePerChild)
	w.Set(quarCountKey(from), u64(count+1))
	old, err := w.Get(slot)
	if err != nil {
		return err
	}
	w.Set(slot, u64(w.st.quarantined))
	if old == nil {
		return nil
	}
	w.Delete(quarKey(beUint64(old)))
	sum := &pb.QuarantineEntry{FromNode: from, FromUnit: unit}
	if b, err := w.Get(quarSummaryKey(from)); err != nil {
		return err
	} else if b != nil {
		if err := proto.Unmarshal(b, sum); err != nil {
			return fmt.Errorf("%w: quarantine summary: %v", ErrCorrupt, err)
		}
	}
	var dropped uint64
	fmt.Sscan(sum.GetReason(), &dropped)
	sum.Reason = fmt.Sprintf("%d 个较早的隔离事件只保留计数（每个下级完整保留最近 %d 个）；最近的原因：%s", dropped+1, MaxQuarantinePerChild, reason)
	sum.AtMs = atMs
	w.Set(quarSummaryKey(from), MustMarshal(sum))
	return nil
}

// appliedEntry finds an event applied here by id (nil: none).
func (w *Tx) appliedEntry(ev *pb.Event) (*pb.FeedEntry, error) {
	v, err := w.Get(idKey(ev.GetOrigin(), ev.GetSeq()))
	if err != nil || v == nil {
		return nil, err
	}
	fb, err := w.Get(feedKey(beUint64(v)))
	if err != nil || fb == nil {
		return nil, fmt.Errorf("%w: id index without feed entry: %v", ErrCorrupt, err)
	}
	fe := &pb.FeedEntry{}
	return fe, proto.Unmarshal(fb, fe)
}

// storedEntry finds an event already here by id: applied or held back.
func (w *Tx) storedEntry(ev *pb.Event) (*pb.FeedEntry, error) {
	if fe, err := w.appliedEntry(ev); err != nil || fe != nil {
		return fe, err
	}
	if w.st.held == 0 {
		return nil, nil // nothing is held back: no need to look
	}
	v, err := w.Get(heldKey(ev.GetPrevHash(), ev.GetOrigin(), ev.GetSeq()))
	if err != nil || v == nil {
		return nil, err
	}
	fe := &pb.FeedEntry{}
	return fe, proto.Unmarshal(v, fe)
}

func (s *Store) ingestOne(w *Tx, cmd *pb.Command, in *pb.Ingest, ev *pb.Event, res *pb.PushResponse) error {
	if err := CheckEvent(ev); err != nil {
		s.quarantine(w, cmd, in, ev, err.Error(), res)
		return nil
	}
	if ahead := hlcTime(ev.GetHlc()).Sub(time.UnixMilli(cmd.GetNowMs())); ahead > MaxClockSkew {
		// Applied, it would move this node's clock, and every event it
		// writes after, to the forged time.
		s.quarantine(w, cmd, in, ev, fmt.Sprintf("event.hlc: 时钟超前：事件时间 %s 比本节点时钟快 %s，超过允许的 %s",
			hlcTime(ev.GetHlc()).UTC().Format(time.RFC3339), ahead.Round(time.Second), MaxClockSkew), res)
		return nil
	}
	if in.GetPushed() && !tiers.Unit(in.GetFrom().GetUnit()).Contains(tiers.Unit(ev.GetUnit())) {
		s.quarantine(w, cmd, in, ev, fmt.Sprintf("event.unit: %s 推送的事件声称来自其辖区外的单位 %s", in.GetFrom().GetUnit(), ev.GetUnit()), res)
		return nil
	}
	bound, err := w.Get(originKey(ev.GetOrigin()))
	if err != nil {
		return err
	}
	if ev.GetOrigin() == w.st.nodeID && bound == nil {
		// This node's own origin is never bound under o/: it writes as its
		// own unit, and an event claiming its origin for another unit (a
		// child's forgery, with a sequence number this node has yet to
		// use) must not take its place in the id index.
		bound = []byte(s.cfg.Unit)
	}
	if bound != nil && string(bound) != ev.GetUnit() {
		s.quarantine(w, cmd, in, ev, fmt.Sprintf("event.unit: 节点 %s 属于单位 %s，事件却声称来自 %s", ev.GetOrigin(), bound, ev.GetUnit()), res)
		return nil
	}
	old, err := w.storedEntry(ev)
	if err != nil {
		return err
	}
	if old != nil {
		if bytes.Equal(old.GetEvent().GetHash(), ev.GetHash()) {
			res.Duplicates++
			return nil
		}
		s.quarantine(w, cmd, in, ev, fmt.Sprintf("event.id: 事件 %s/%d 已存在但内容不同（节点数据被回滚后重用了序号？）", ev.GetOrigin(), ev.GetSeq()), res)
		return nil
	}
	if bound == nil {
		w.Set(originKey(ev.GetOrigin()), []byte(ev.GetUnit()))
	}
	return s.chain(w, cmd, in, ev, in.GetFrom().GetNodeId(), res)
}

// chain links an admitted event into its record: applied when it follows
// the record's head, held back when its predecessor has not arrived,
// quarantined when it forks the chain or breaks the state machine.
func (s *Store) chain(w *Tx, cmd *pb.Command, in *pb.Ingest, ev *pb.Event, fromNode string, res *pb.PushResponse) error {
	prev, err := w.Record(ev.GetRecordKey())
	if err != nil {
		return err
	}
	if !bytes.Equal(prev.GetHead(), ev.GetPrevHash()) {
		known, err := w.Get(hashKey(ev.GetPrevHash()))
		if err != nil {
			return err
		}
		if len(ev.GetPrevHash()) > 0 && known == nil {
			// The predecessor has not arrived yet: hold this one back.
			hk := heldKey(ev.GetPrevHash(), ev.GetOrigin(), ev.GetSeq())
			w.Set(hk, MustMarshal(&pb.FeedEntry{Event: ev, FromNode: fromNode}))
			w.stagedHeld[string(ev.GetPrevHash())] = append(w.stagedHeld[string(ev.GetPrevHash())], hk)
			w.st.held++
			res.Held++
			return nil
		}
		s.quarantine(w, cmd, in, ev, fmt.Sprintf("event.prev_hash: 与记录 %s 的最新事件不衔接（分叉或重放）", ev.GetRecordKey()), res)
		return nil
	}
	rec, err := s.fold(prev, ev)
	if err == nil {
		err = s.cfg.Rules.Admit(w, prev, ev)
	}
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		s.quarantine(w, cmd, in, ev, err.Error(), res)
		return nil
	}
	if err := w.store(ev, rec, fromNode); err != nil {
		return err
	}
	w.st.hlc.observe(ev.GetHlc())
	res.Applied++
	if err := s.cfg.Rules.Arrived(w, cmd, ev, rec); err != nil {
		return err
	}
	// Apply the events that were waiting for this one.
	waiting, err := w.scanHeld(ev.GetHash())
	if err != nil {
		return err
	}
	for _, h := range waiting {
		w.Delete(h.key)
		w.st.held--
		// Its id was free when it was held back, but an event of the same
		// id with another predecessor may have been applied since (a held
		// event is found by its id and predecessor together): the id
		// keeps its first content.
		held := h.entry.GetEvent()
		if fe, err := w.appliedEntry(held); err != nil {
			return err
		} else if fe != nil {
			if bytes.Equal(fe.GetEvent().GetHash(), held.GetHash()) {
				res.Duplicates++
			} else {
				s.quarantine(w, cmd, in, held, fmt.Sprintf("event.id: 事件 %s/%d 已存在但内容不同（节点数据被回滚后重用了序号？）", held.GetOrigin(), held.GetSeq()), res)
			}
			continue
		}
		if err := s.chain(w, cmd, in, held, h.entry.GetFromNode(), res); err != nil {
			return err
		}
	}
	return nil
}

type heldEntry struct {
	key   []byte
	entry *pb.FeedEntry
}

// scanHeld lists the events held back for predecessor h: those this
// command staged and, if any were held before it, those in badger.
func (w *Tx) scanHeld(h []byte) ([]heldEntry, error) {
	var out []heldEntry
	seen := map[string]bool{}
	for _, k := range w.stagedHeld[string(h)] {
		if w.deleted[string(k)] {
			continue
		}
		fe := &pb.FeedEntry{}
		if err := proto.Unmarshal(w.pending[string(k)], fe); err != nil {
			return nil, err
		}
		out = append(out, heldEntry{key: k, entry: fe})
		seen[string(k)] = true
	}
	if w.startHeld > 0 {
		p := heldPrefix(h)
		opts := badger.DefaultIteratorOptions
		opts.Prefix = p
		it := w.btx.NewIterator(opts)
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			k := it.Item().KeyCopy(nil)
			if seen[string(k)] || w.deleted[string(k)] {
				continue
			}
			fe := &pb.FeedEntry{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, fe) }); err != nil {
				return nil, err
			}
			out = append(out, heldEntry{key: k, entry: fe})
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].key, out[j].key) < 0 })
	return out, nil
}
