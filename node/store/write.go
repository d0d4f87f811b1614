package store

import (
	"context"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// Apply runs one command and returns once it is durable (or refused). The
// output is the record the command produced (e.g. the *pb.Application).
// A county group's member applies the log's entries through ApplyLogs
// instead.
func (s *Store) Apply(ctx context.Context, cmd *pb.Command) (proto.Message, error) {
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
// its writes are staged in a Tx, sized, and only copied into the badger
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
			s.cfg.Rules.Forget("")
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
		w := newTx(s, btx, st)
		if id := r.cmd.GetRequestId(); id != "" {
			if len(id) > 64 {
				results[i] = writeResult{err: invalid("command.request_id", "请求标识（Idempotency-Key）过长（%d 字节，最多 64）", len(id))}
				continue
			}
			// Applied before under this id: its output, nothing written.
			out, seen, err := w.done(r.cmd)
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
		out, err := s.execute(w, r.cmd)
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
			s.cfg.Rules.Forget("")
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
	if st.watched != s.state.watched {
		s.generation.Add(1)
	}
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
