package node

import (
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// The store of a county group's member (StoreConfig.Member) runs on a
// county server, and its group's raft log is the durable record; three
// choices differ from a township's or a village's store:
//
//   - No fsync: the applied index is written with the data it covers, and
//     a tail lost in a crash is replayed from the log.
//   - Values longer than valueThreshold go to badger's value log: records,
//     feed entries and kept answers, 250 to 400 bytes each, are written
//     once, to the end of a value-log file, and the LSM tree holds a
//     pointer of a dozen bytes to each; counters and indexes (8 bytes or
//     none) stay in the tree. With every value in the tree, the three
//     stores of a group on one box filled their memtables every few
//     seconds, and flushing and compacting those bytes on the cores the
//     writes need stalled the group for about a second each time: 64
//     writers for 20 s, alternating runs, committed 3,656–4,110/s at p99
//     178–209 ms, and with the value log 4,481–4,975/s at p99 37–49 ms,
//     with a fifth less CPU per write. A store that fsyncs keeps its
//     values in the tree: with the value log a commit would sync two
//     files.
//   - Memtables of memberMemTable (64 MiB, against 16 MiB on a small box):
//     with keys and pointers only, a 16 MiB memtable still filled every
//     few seconds at full load; 64 writers for 60 s made 4,238/s at p99
//     128 ms with 16 MiB and 4,499–4,532/s at p99 45–53 ms with 64 MiB.
//     Two of them cost a member 128 MiB more memory at most.
//
// What the tree no longer points to (a record's older versions, answers
// pruned after their retention, events released from the held list) is
// garbage in the value log; badger learns how much each file holds as its
// compactions drop those pointers, and a file at least half garbage is
// rewritten, its live values moved to the end of the log, and deleted.
// The feed is never deleted, so the log stays within about twice what is
// live in it.
const (
	valueThreshold     = 64
	memberMemTable     = 64 << 20
	valueLogGCInterval = 10 * time.Minute
	valueLogDiscard    = 0.5
)

// collectValueLog looks for value-log garbage every ValueLogGCInterval
// until the store closes.
func (s *Store) collectValueLog() {
	defer s.bg.Done()
	t := time.NewTicker(s.cfg.ValueLogGCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		n, err := s.CollectValueLog()
		if err != nil {
			s.cfg.Logger.Warn("value log collection failed", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("value log collected", "files_rewritten", n)
		}
	}
}

// CollectValueLog rewrites the value-log files that are at least half
// garbage, one after another, and says how many it rewrote. Values are
// moved, never changed: reads and writes go on meanwhile. A snapshot being
// restored waits for it, and it stops between files when the store closes.
func (s *Store) CollectValueLog() (int, error) {
	n := 0
	for {
		select {
		case <-s.stop:
			return n, nil
		default:
		}
		s.restoring.RLock()
		err := s.db.RunValueLogGC(valueLogDiscard)
		s.restoring.RUnlock()
		switch {
		case err == nil:
			n++
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			// Nothing (more) worth rewriting, or a collection already runs.
			return n, nil
		default:
			return n, fmt.Errorf("collect value log: %w", err)
		}
	}
}
