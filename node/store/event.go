package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Rules is what the store asks of the application rules above it. The
// store calls them from its one writer goroutine, inside the transaction
// of the command at hand.
type Rules interface {
	// Execute runs a command: it reads and emits through tx and returns
	// the command's output.
	Execute(tx *Tx, cmd *pb.Command) (proto.Message, error)
	// Fold returns the data of the record an event makes of prev (nil
	// when the record is new), or why the event may not follow it. The
	// store has checked the event and its chain.
	Fold(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error)
	// Admit checks an event that arrived from a peer against this node's
	// own knowledge (e.g. who may decide a matter here).
	Admit(tx *Tx, prev *pb.StoredRecord, ev *pb.Event) error
	// Arrived takes the moves that fall to this node when an event from a
	// peer has been applied, in the same transaction.
	Arrived(tx *Tx, cmd *pb.Command, ev *pb.Event, rec *pb.StoredRecord) error
	// Forget drops anything cached about the record key: its write is
	// being staged ("" : everything, a commit failed or a restore ran).
	Forget(key string)
}

// EventHash is SHA-256 over the deterministic encoding of the event with
// its hash field cleared. It covers the id, kind, record, payload, clock,
// actor (name and login), unit, scope, the caller's address and the
// previous hash, so a record's chain is
// tamper-evident.
func EventHash(ev *pb.Event) []byte {
	// Marshal a shallow copy without the hash: no deep clone on the hot path.
	c := &pb.Event{Origin: ev.GetOrigin(), Seq: ev.GetSeq(), Kind: ev.GetKind(), RecordKey: ev.GetRecordKey(),
		Payload: ev.GetPayload(), Hlc: ev.GetHlc(), Actor: ev.GetActor(), Unit: ev.GetUnit(), Scope: ev.GetScope(), PrevHash: ev.GetPrevHash(),
		ActorLogin: ev.GetActorLogin(), Source: ev.GetSource()}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("marshal event: %v", err))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// CheckEvent verifies the parts of an event every receiver can check on
// its own: well-formed id, unit, hash.
func CheckEvent(ev *pb.Event) error {
	switch {
	case ev.GetOrigin() == "":
		return invalid("event.origin", "缺少来源节点")
	case ev.GetSeq() == 0:
		return invalid("event.seq", "序号不能为 0")
	case ev.GetRecordKey() == "":
		return invalid("event.record_key", "缺少记录键")
	case ev.GetHlc() == 0:
		return invalid("event.hlc", "缺少时间戳")
	}
	if _, err := tiers.Parse(ev.GetUnit()); err != nil {
		return invalid("event.unit", "%v", err)
	}
	if !bytes.Equal(EventHash(ev), ev.GetHash()) {
		return invalid("event.hash", "哈希不符，事件内容被篡改或损坏")
	}
	return nil
}

// Fold applies an event to the record it changes and returns the new
// record. It is the only code that turns events into records: local
// commands, replication and verification all go through it, so a record
// always equals the fold of its events. It checks the event and its
// chain, and asks the rules for the transition.
func Fold(rules Rules, prev *pb.StoredRecord, ev *pb.Event) (*pb.StoredRecord, error) {
	if err := CheckEvent(ev); err != nil {
		return nil, err
	}
	var head []byte
	var version uint64
	if prev != nil {
		head, version = prev.GetHead(), prev.GetVersion()
	}
	if !bytes.Equal(head, ev.GetPrevHash()) {
		return nil, precondition("event.prev_hash", "与记录 %s 的最新事件不衔接", ev.GetRecordKey())
	}
	data, err := rules.Fold(prev, ev)
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(data)
	if err != nil {
		return nil, err
	}
	return &pb.StoredRecord{Kind: RecordKind(ev.GetRecordKey()), Version: version + 1, Head: ev.GetHash(), Data: b}, nil
}

func (s *Store) fold(prev *pb.StoredRecord, ev *pb.Event) (*pb.StoredRecord, error) {
	return Fold(s.cfg.Rules, prev, ev)
}

// execute runs one command: the store's own (a sync batch, a group's
// identity) here, every other through the rules.
func (s *Store) execute(w *Tx, cmd *pb.Command) (proto.Message, error) {
	if cmd.GetNowMs() <= 0 {
		return nil, invalid("command.now_ms", "缺少时间")
	}
	switch op := cmd.GetOp().(type) {
	case *pb.Command_Ingest:
		return s.ingest(w, cmd, op.Ingest)
	case *pb.Command_Identity:
		return w.identity(op.Identity)
	case *pb.Command_Batch:
		return nil, invalid("command.batch", "成批命令只能是集群日志的一个条目，其中每条命令各自执行，不能嵌套")
	}
	return s.cfg.Rules.Execute(w, cmd)
}

// identity gives a replicated group its one identity: the first entry of
// its log, before any event.
func (w *Tx) identity(id *pb.Identity) (proto.Message, error) {
	if id.GetNodeId() == "" || id.GetEpoch() == 0 {
		return nil, invalid("identity", "节点标识与纪元不能为空")
	}
	if w.st.feedHead > 0 && (w.st.nodeID != id.GetNodeId() || w.st.epoch != id.GetEpoch()) {
		return nil, precondition("identity", "本节点已有事件，不能改换身份")
	}
	w.st.nodeID, w.st.epoch = id.GetNodeId(), id.GetEpoch()
	return id, nil
}

// MustMarshal encodes, deterministically, a message the store or the
// rules built themselves (payloads are hashed as encoded).
func MustMarshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
