package cluster

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// FSM is the county group's state machine: a thin layer over the Store.
// Every committed log entry is a *pb.Command, applied through the same
// dispatcher as a single node's writes (an entry may hold a CommandBatch
// of several, see batcher); batches of entries share one badger commit;
// the index of each entry is stored with its writes.
type FSM struct {
	store     *store.Store
	installed atomic.Uint64 // snapshots restored since start
	// reached is told of each entry as it reaches the state machine,
	// before it is applied: the leader's batcher then sends the next
	// entry while this one is applied (see batcher.reached).
	reached atomic.Pointer[func(data []byte)]
	// halted is why the state machine stopped applying (see ApplyBatch),
	// onHalted who is told.
	halted   atomic.Pointer[error]
	onHalted atomic.Pointer[func(error)]
}

// onReach has fn told of each entry's data as it reaches the state
// machine, before it is applied.
func (f *FSM) onReach(fn func(data []byte)) { f.reached.Store(&fn) }

// NewFSM returns the state machine of a store.
func NewFSM(s *store.Store) *FSM { return &FSM{store: s} }

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
//
// A command of a later release (an op this one cannot read, see
// fromLaterRelease) halts the state machine before it: the commands
// before it are applied, it and everything after are not, and each is
// answered ErrLaterRelease. Refusing it instead would part this member's
// store from those of members that apply it. The store keeps the index
// it reached, so after a restart the member halts at the same command
// until it runs the later release.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	if r := f.reached.Load(); r != nil {
		for _, l := range logs {
			(*r)(l.Data)
		}
	}
	out := make([]any, len(logs))
	if err := f.halted.Load(); err != nil {
		for i := range logs {
			out[i] = FSMResult{Err: *err}
		}
		return out
	}
	var entries []store.LogEntry
	type place struct{ log, part int } // part -1: the entry itself
	var at []place
	var halt error
	stop := place{len(logs), 0} // the first command not applied
entries:
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			out[i] = FSMResult{}
			continue
		}
		cmd := &pb.Command{}
		if err := proto.Unmarshal(l.Data, cmd); err != nil {
			// A malformed entry is refused on every member alike.
			out[i] = FSMResult{Err: store.Invalid("log", "第 %d 条日志无法解析: %v", l.Index, err)}
			continue
		}
		if fromLaterRelease(cmd) {
			halt, stop = laterRelease(l.Index, 0), place{i, -1}
			break
		}
		b, ok := cmd.GetOp().(*pb.Command_Batch)
		if !ok {
			entries = append(entries, store.LogEntry{Index: l.Index, Cmd: cmd})
			at = append(at, place{i, -1})
			continue
		}
		parts := b.Batch.GetCommands()
		out[i] = make(BatchResult, len(parts))
		for j, data := range parts {
			e := store.LogEntry{Index: l.Index, Part: j + 1, Parts: len(parts), Cmd: &pb.Command{}}
			if err := proto.Unmarshal(data, e.Cmd); err != nil {
				e.Refused = store.Invalid("log", "第 %d 条日志的第 %d 条命令无法解析: %v", l.Index, j+1, err)
			} else if _, nested := e.Cmd.GetOp().(*pb.Command_Batch); nested {
				e.Refused = store.Invalid("command.batch", "第 %d 条日志的第 %d 条命令又是成批命令：不能嵌套", l.Index, j+1)
			} else if fromLaterRelease(e.Cmd) {
				halt, stop = laterRelease(l.Index, j+1), place{i, j}
				break entries
			}
			entries = append(entries, e)
			at = append(at, place{i, j})
		}
	}
	if len(entries) > 0 {
		outs, errs := f.store.ApplyLogs(entries)
		for k, p := range at {
			r := FSMResult{Out: outs[k], Err: errs[k]}
			if p.part < 0 {
				out[p.log] = r
			} else {
				out[p.log].(BatchResult)[p.part] = r
			}
		}
	}
	if halt == nil {
		return out
	}
	if stop.part >= 0 {
		for j := stop.part; j < len(out[stop.log].(BatchResult)); j++ {
			out[stop.log].(BatchResult)[j] = FSMResult{Err: halt}
		}
	} else {
		out[stop.log] = FSMResult{Err: halt}
	}
	for i := stop.log + 1; i < len(logs); i++ {
		out[i] = FSMResult{Err: halt}
	}
	f.halt(halt)
	return out
}

// halt stops the state machine for good (until a restart), and tells
// OnHalt's function, once.
func (f *FSM) halt(err error) {
	if f.halted.CompareAndSwap(nil, &err) {
		if fn := f.onHalted.Load(); fn != nil {
			(*fn)(err)
		}
	}
}

// fromLaterRelease says whether cmd is of a kind a later release added:
// its op is a field this release does not know (kept as unknown bytes).
// This release never puts such a command into the log (cluster.propose
// refuses it), so one there came from a member of a later release.
func fromLaterRelease(cmd *pb.Command) bool {
	return cmd.GetOp() == nil && len(cmd.ProtoReflect().GetUnknown()) > 0
}

func laterRelease(index uint64, part int) error {
	where := fmt.Sprintf("第 %d 条日志", index)
	if part > 0 {
		where += fmt.Sprintf("的第 %d 条命令", part)
	}
	return fmt.Errorf("%w: %s是更新版本的命令，本成员读不懂，已停止应用日志：请把本成员升级到与其他成员相同的版本后再启动", store.ErrLaterRelease, where)
}

// Halted is the error that halted the state machine, or nil.
func (f *FSM) Halted() error {
	if err := f.halted.Load(); err != nil {
		return *err
	}
	return nil
}

// OnHalt has fn told, once, of the error that halts the state machine.
func (f *FSM) OnHalt(fn func(error)) { f.onHalted.Store(&fn) }

// Snapshot captures the store; Persist streams a backup of it as of one
// instant (Store.Backup), which includes the applied index. Persist runs
// while entries go on applying, so the copy may hold entries past the
// index raft files it under; a member restoring it skips those when raft
// replays them (ApplyLogs), as after a restart. A halted state machine
// takes none: raft counts the entries it was given after the halt as
// applied, and would file under their index a copy that lacks them, which
// a member loading it (this one, restarted after an upgrade) would never
// apply. Raft calls Snapshot between applies, so the check is exact.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.Halted(); err != nil {
		return nil, fmt.Errorf("no snapshot of a halted state machine: %w", err)
	}
	return &fsmSnapshot{store: f.store}, nil
}

// Restore replaces the store with a snapshot. One that fails part way
// halts the member: the store holds part of the snapshot (and badger,
// after a failed load, blocks every later read), and the restart clears
// it (restoreMark) and loads the snapshot again.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		err = fmt.Errorf("%w: 快照未能完整载入（%v），本成员已停止：重启后会清空本地数据，重新载入快照并重放日志", store.ErrHalfRestored, err)
		f.halt(err)
		return err
	}
	f.installed.Add(1)
	return nil
}

type fsmSnapshot struct{ store *store.Store }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.store.Backup(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
