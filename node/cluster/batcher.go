package cluster

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// Limits of the batcher. One entry in flight at a time, counted until it
// reaches the leader's state machine: the next entry is then replicated
// while this one is applied. A second entry in flight would halve the
// commands each entry carries, and commits fewer (docs/benchmarks.md,
// History: 4,500–5,200/s with one in flight, 3,900–4,400/s with two). A batch
// stays well under what a follower takes in one AppendEntries and what
// the store commits at once.
const (
	batchInFlight = 1
	batchMaxCmds  = 256
	batchMaxBytes = 512 << 10
	applyTimeout  = 10 * time.Second
)

// batcher puts the commands proposed at the leader into the log: while
// batchInFlight entries are in flight, further commands wait, and the
// ones waiting when an entry is done go in together, as one entry
// holding a CommandBatch. Under load an entry then carries many commands
// for one log append, one fsync on each member, one message to each
// follower and one store commit, where one entry per command would cost
// each of those per command; a lone command still goes at once, in an
// entry of its own. Each command keeps its own result.
type batcher struct {
	r     *raft.Raft
	may   func() bool   // every member reads batch entries
	slots chan struct{} // entries in flight
	wake  chan struct{} // a command is waiting (capacity 1)
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	waiting []*proposal
	// flying are the entries in flight, by the first byte of their data
	// (the log entry the leader's state machine is given holds the very
	// slice the batcher proposed): a list, since two lone commands may
	// share their bytes.
	flying map[*byte][]*flight
	closed bool
	once   sync.Once
}

// flight is an entry in flight; free gives its slot back, once.
type flight struct {
	once sync.Once
	b    *batcher
}

func (f *flight) free() { f.once.Do(func() { <-f.b.slots }) }

type proposal struct {
	data []byte // a marshaled *pb.Command
	res  chan proposalResult
}

type proposalResult struct {
	FSMResult
	index uint64
	err   error // the log's: not leader, shut down, timed out
}

// newBatcher returns the batcher of a leader; may says whether every
// member reads batch entries (if not, each command goes alone).
func newBatcher(r *raft.Raft, may func() bool) *batcher {
	b := &batcher{r: r, may: may, slots: make(chan struct{}, batchInFlight), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), flying: map[*byte][]*flight{}}
	go b.run()
	return b
}

// propose puts one marshaled command into the log and returns its
// result once it is applied here, or the log's error.
func (b *batcher) propose(data []byte) proposalResult {
	p := &proposal{data: data, res: make(chan proposalResult, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return proposalResult{err: raft.ErrRaftShutdown}
	}
	b.waiting = append(b.waiting, p)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // already woken
	}
	return <-p.res
}

// pending is how many commands wait for an entry.
func (b *batcher) pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiting)
}

func (b *batcher) run() {
	defer close(b.done)
	for {
		select {
		case <-b.wake:
		case <-b.stop:
			b.failWaiting()
			return
		}
		for {
			select {
			case b.slots <- struct{}{}:
			case <-b.stop:
				b.failWaiting()
				return
			}
			batch := b.take()
			if len(batch) == 0 {
				<-b.slots
				break
			}
			go b.apply(batch)
		}
	}
}

// take removes the next batch from the waiting commands: in order, up to
// batchMaxCmds of them and batchMaxBytes (a command larger than that goes
// alone), or only the first while a member may not read batches.
func (b *batcher) take() []*proposal {
	limit := batchMaxCmds
	if !b.may() {
		limit = 1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n, size := 0, 0
	for n < len(b.waiting) && n < limit {
		d := len(b.waiting[n].data)
		if n > 0 && size+d > batchMaxBytes {
			break
		}
		n, size = n+1, size+d
	}
	batch := slices.Clone(b.waiting[:n])
	b.waiting = slices.Delete(b.waiting, 0, n)
	return batch
}

func (b *batcher) failWaiting() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, p := range b.waiting {
		p.res <- proposalResult{err: raft.ErrRaftShutdown}
	}
	b.waiting = nil
}

// apply puts one batch into the log as one entry and hands each command
// its result.
func (b *batcher) apply(batch []*proposal) {
	data := batch[0].data
	if len(batch) > 1 {
		cmds := make([][]byte, len(batch))
		for i, p := range batch {
			cmds[i] = p.data
		}
		var err error
		if data, err = proto.Marshal(&pb.Command{Op: &pb.Command_Batch{Batch: &pb.CommandBatch{Commands: cmds}}}); err != nil {
			for _, p := range batch {
				p.res <- proposalResult{err: err}
			}
			return
		}
	}
	fl := b.fly(data)
	defer b.land(data, fl)
	f := b.r.Apply(data, applyTimeout)
	if err := f.Error(); err != nil {
		for _, p := range batch {
			p.res <- proposalResult{err: err}
		}
		return
	}
	results, err := entryResults(f.Response(), len(batch))
	for i, p := range batch {
		if err != nil {
			p.res <- proposalResult{err: err}
			continue
		}
		p.res <- proposalResult{FSMResult: results[i], index: f.Index()}
	}
}

// fly counts an entry as in flight until it reaches the state machine.
func (b *batcher) fly(data []byte) *flight {
	fl := &flight{b: b}
	if len(data) > 0 { // an empty command is only freed when it lands
		b.mu.Lock()
		b.flying[&data[0]] = append(b.flying[&data[0]], fl)
		b.mu.Unlock()
	}
	return fl
}

// reached is told by the leader's state machine of an entry's data as it
// is about to be applied: its slot is free for the next entry. Data the
// batcher did not propose (a follower's entries, or the leader's read
// back from the log) is not in flight here.
func (b *batcher) reached(data []byte) {
	if len(data) == 0 {
		return
	}
	b.mu.Lock()
	var fl *flight
	if l := b.flying[&data[0]]; len(l) > 0 {
		fl = l[0]
		b.unfly(&data[0], fl)
	}
	b.mu.Unlock()
	if fl != nil {
		fl.free()
	}
}

// land ends an entry's flight once its results are in (or the log
// refused it), if reaching the state machine did not already.
func (b *batcher) land(data []byte, fl *flight) {
	if len(data) > 0 {
		b.mu.Lock()
		b.unfly(&data[0], fl)
		b.mu.Unlock()
	}
	fl.free()
}

func (b *batcher) unfly(key *byte, fl *flight) {
	l := slices.DeleteFunc(b.flying[key], func(x *flight) bool { return x == fl })
	if len(l) == 0 {
		delete(b.flying, key)
	} else {
		b.flying[key] = l
	}
}

// entryResults are the results of an entry of n commands, as the state
// machine answered.
func entryResults(resp any, n int) ([]FSMResult, error) {
	switch r := resp.(type) {
	case FSMResult:
		if n == 1 {
			return []FSMResult{r}, nil
		}
	case BatchResult:
		if len(r) == n {
			return r, nil
		}
	}
	return nil, fmt.Errorf("state machine answered %T for an entry of %d commands", resp, n)
}

// close stops taking proposals, refuses those waiting; those in flight
// finish with the log.
func (b *batcher) close() {
	b.once.Do(func() { close(b.stop) })
	<-b.done
}
