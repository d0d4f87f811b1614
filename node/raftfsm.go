package node

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// FSM is the county group's state machine: a thin layer over the Store.
// Every committed log entry is a *pb.Command, applied through the same
// dispatcher as a single node's writes (an entry may hold a CommandBatch
// of several, see batcher); batches of entries share one badger commit;
// the index of each entry is stored with its writes.
type FSM struct {
	store     *Store
	installed atomic.Uint64 // snapshots restored since start
	// reached is told of each entry as it reaches the state machine,
	// before it is applied: the leader's batcher then sends the next
	// entry while this one is applied (see batcher.reached).
	reached atomic.Pointer[func(data []byte)]
}

// onReach has fn told of each entry's data as it reaches the state
// machine, before it is applied.
func (f *FSM) onReach(fn func(data []byte)) { f.reached.Store(&fn) }

// NewFSM returns the state machine of a store.
func NewFSM(s *Store) *FSM { return &FSM{store: s} }

// FSMResult is what Apply returns for an entry: the command's output or
// its refusal (a refusal is a result, not a failure of the log).
type FSMResult struct {
	Out proto.Message
	Err error
}

// BatchResult is what Apply returns for an entry holding a CommandBatch:
// each command's result, in the batch's order.
type BatchResult []FSMResult

var _ raft.BatchingFSM = (*FSM)(nil)

// Apply applies one entry.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries together. An entry holding a
// CommandBatch is applied as its commands, in order, each with a result
// of its own.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	if r := f.reached.Load(); r != nil {
		for _, l := range logs {
			(*r)(l.Data)
		}
	}
	out := make([]any, len(logs))
	var entries []LogEntry
	type place struct{ log, part int } // part -1: the entry itself
	var at []place
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			out[i] = FSMResult{}
			continue
		}
		cmd := &pb.Command{}
		if err := proto.Unmarshal(l.Data, cmd); err != nil {
			// A malformed entry is refused on every member alike.
			out[i] = FSMResult{Err: invalid("log", "第 %d 条日志无法解析: %v", l.Index, err)}
			continue
		}
		b, ok := cmd.GetOp().(*pb.Command_Batch)
		if !ok {
			entries = append(entries, LogEntry{Index: l.Index, Cmd: cmd})
			at = append(at, place{i, -1})
			continue
		}
		parts := b.Batch.GetCommands()
		out[i] = make(BatchResult, len(parts))
		for j, data := range parts {
			e := LogEntry{Index: l.Index, Part: j + 1, Parts: len(parts), Cmd: &pb.Command{}}
			if err := proto.Unmarshal(data, e.Cmd); err != nil {
				e.Refused = invalid("log", "第 %d 条日志的第 %d 条命令无法解析: %v", l.Index, j+1, err)
			} else if _, nested := e.Cmd.GetOp().(*pb.Command_Batch); nested {
				e.Refused = invalid("command.batch", "第 %d 条日志的第 %d 条命令又是成批命令：不能嵌套", l.Index, j+1)
			}
			entries = append(entries, e)
			at = append(at, place{i, j})
		}
	}
	outs, errs := f.store.ApplyLogs(entries)
	for k, p := range at {
		r := FSMResult{Out: outs[k], Err: errs[k]}
		if p.part < 0 {
			out[p.log] = r
		} else {
			out[p.log].(BatchResult)[p.part] = r
		}
	}
	return out
}

// Snapshot captures the store; Persist streams a backup of it as of one
// instant (Store.Backup), which includes the applied index. Persist runs
// while entries go on applying, so the copy may hold entries past the
// index raft files it under; a member restoring it skips those when raft
// replays them (ApplyLogs), as after a restart.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) { return &fsmSnapshot{store: f.store}, nil }

// Restore replaces the store with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.installed.Add(1)
	return nil
}

type fsmSnapshot struct{ store *Store }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.store.Backup(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
