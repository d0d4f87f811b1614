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
// dispatcher as a single node's writes; batches of entries share one
// badger commit; the index of each entry is stored with its writes.
type FSM struct {
	store     *Store
	installed atomic.Uint64 // snapshots restored since start
}

// NewFSM returns the state machine of a store.
func NewFSM(s *Store) *FSM { return &FSM{store: s} }

// FSMResult is what Apply returns for an entry: the command's output or
// its refusal (a refusal is a result, not a failure of the log).
type FSMResult struct {
	Out proto.Message
	Err error
}

var _ raft.BatchingFSM = (*FSM)(nil)

// Apply applies one entry.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries together.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	var entries []LogEntry
	var at []int
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
		entries = append(entries, LogEntry{Index: l.Index, Cmd: cmd})
		at = append(at, i)
	}
	outs, errs := f.store.ApplyLogs(entries)
	for j, i := range at {
		out[i] = FSMResult{Out: outs[j], Err: errs[j]}
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
