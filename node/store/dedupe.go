package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// A command carrying a request id is applied at most once. A county member
// that hands a write to the leader and loses the answer (the leader died
// after committing it, say) proposes it again; without this, an
// acceptance would be made twice. The output of the first application is
// kept with the command's writes, in the same transaction, and returned to
// the repeat. Only successes are kept: a refused command left nothing, and
// trying it again is a new attempt, taken at its own place in the log.
//
// Ids are kept for doneRetention of the commands' own clock (the
// proposer's now_ms, the same on every member), then pruned a few at a
// time by later commands that carry ids.
const (
	doneRetention = time.Hour
	donePrunePer  = 32
)

func doneKey(id string) []byte { return []byte(prefixDone + id) }

func doneAtKey(ms int64, id string) []byte {
	return append(append([]byte(prefixDoneAt), u64(uint64(ms))...), "/"+id...)
}

// doneVersion marks a kept output that begins with the digest of its
// command (commandDigest); older ones are the output alone.
const doneVersion = 1

// commandDigest identifies what a command asks, whoever asks it when: the
// client's request as the API layer digested it (a handler may add to the
// operation what differs between two tries of one request, a password's
// salt), or else the SHA-256 of its operation.
func commandDigest(cmd *pb.Command) ([]byte, error) {
	if d := cmd.GetRequestDigest(); len(d) == sha256.Size {
		return d, nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb.Command{Op: cmd.GetOp()})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// done returns the output the command applied under cmd's request id had,
// if one was applied. The same id with another request is refused: a
// client that reuses a key for a different write would otherwise be
// answered as if it were applied.
func (w *Tx) done(cmd *pb.Command) (proto.Message, bool, error) {
	id := cmd.GetRequestId()
	v, err := w.Get(doneKey(id))
	if err != nil || v == nil {
		return nil, false, err
	}
	if len(v) >= 1+sha256.Size && v[0] == doneVersion {
		digest, err := commandDigest(cmd)
		if err != nil {
			return nil, false, err
		}
		if !bytes.Equal(v[1:1+sha256.Size], digest) {
			return nil, false, Precondition("Idempotency-Key", "幂等键 %.40q 已用于另一个请求：同一个键只能重发同一个请求，新的请求请换一个键", strings.TrimPrefix(id, "c:"))
		}
		v = v[1+sha256.Size:]
	}
	if len(v) == 0 || (len(v) == 1 && v[0] == 0) {
		return nil, true, nil // it had no output
	}
	a := &anypb.Any{}
	if err := proto.Unmarshal(v, a); err != nil {
		return nil, false, fmt.Errorf("%w: output of request %s: %v", ErrCorrupt, id, err)
	}
	out, err := a.UnmarshalNew()
	if err != nil {
		return nil, false, fmt.Errorf("%w: output of request %s: %v", ErrCorrupt, id, err)
	}
	return out, true, nil
}

// remember stages, with a successful command's writes, its request id and
// output, and prunes ids past their retention.
func (w *Tx) remember(cmd *pb.Command, out proto.Message) error {
	id := cmd.GetRequestId()
	digest, err := commandDigest(cmd)
	if err != nil {
		return err
	}
	val := append([]byte{doneVersion}, digest...)
	if out != nil {
		a, err := anypb.New(out)
		if err != nil {
			return err
		}
		b, err := proto.Marshal(a)
		if err != nil {
			return err
		}
		val = append(val, b...)
	}
	w.Set(doneKey(id), val)
	w.Set(doneAtKey(cmd.GetNowMs(), id), nil)
	if err := w.pruneDone(cmd.GetNowMs() - doneRetention.Milliseconds()); err != nil {
		return err
	}
	// Staged here, not yet in the transaction the prune looked into.
	w.keptDone(uint64(cmd.GetNowMs()))
	return nil
}

// keptDone notes a request id kept from time at.
func (w *Tx) keptDone(at uint64) {
	if w.st.doneKnown && (w.st.doneNone || at < w.st.oldestDone) {
		w.st.oldestDone, w.st.doneNone = at, false
	}
}

// pruneDone deletes up to donePrunePer request ids kept from before
// beforeMs, oldest first. Every member of a county group must delete the
// same ones at the same command, so what it deletes depends on the store
// alone: the oldest time kept, once known, only spares a look into the
// store when nothing is old enough (a badger iterator per write cost a
// fifth of a busy member's CPU), and the look starts there, past the
// tombstones of ids already pruned.
func (w *Tx) pruneDone(beforeMs int64) error {
	if beforeMs <= 0 {
		return nil
	}
	if w.st.doneKnown && (w.st.doneNone || w.st.oldestDone >= uint64(beforeMs)) {
		return nil
	}
	limit := doneAtKey(beforeMs, "")
	opts := badger.DefaultIteratorOptions
	opts.Prefix, opts.PrefetchValues = []byte(prefixDoneAt), false
	it := w.btx.NewIterator(opts)
	defer it.Close()
	if w.st.doneKnown {
		it.Seek(doneAtKey(int64(w.st.oldestDone), ""))
	} else {
		it.Rewind()
	}
	n := 0
	for ; it.Valid() && n < donePrunePer; it.Next() {
		k := it.Item().KeyCopy(nil)
		if bytes.Compare(k, limit) >= 0 {
			break
		}
		id := string(k[len(prefixDoneAt)+9:])
		w.Delete(k)
		w.Delete(doneKey(id))
		n++
	}
	// The oldest left in the store: the first not pruned.
	w.st.doneKnown, w.st.doneNone = true, true
	if it.Valid() {
		w.st.oldestDone, w.st.doneNone = binary.BigEndian.Uint64(it.Item().Key()[len(prefixDoneAt):]), false
	}
	return nil
}
