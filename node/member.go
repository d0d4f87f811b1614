package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
// Without fsync, a member's store relies on the machine's page cache: a
// process killed (kill -9, a crash) loses nothing, for the kernel still
// writes what it was given. A machine that stops (a power cut, a reset)
// may lose any of the unsynced pages, and with the values in a file of
// their own, the tree may keep pointers into a value log whose end was
// lost, or later overwritten. So a member's store marks its directory
// while open with the machine's boot id; found on opening from another
// boot, the mark says the machine stopped under the store, and the store's
// files are removed: the member then loads its last snapshot and replays
// the log, which raft fsynced, as a new member would.
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

// openMark is the file a member's store keeps in its directory while
// open, holding the boot id of the machine it was opened under.
const openMark = "OPEN-IN-BOOT"

// bootID names the machine's current boot ("" where the system does not
// say: then any open mark found counts as a stopped machine).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// clearIfMachineStopped removes the store's files from dir (not the raft
// log's directory) if the store was open when its machine last stopped,
// and says whether it did.
func clearIfMachineStopped(dir, boot string) (bool, error) {
	was, err := os.ReadFile(filepath.Join(dir, openMark))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // closed cleanly, or a new store
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", openMark, err)
	}
	if boot != "" && string(was) == boot {
		return false, nil // the process stopped, the machine did not
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return false, fmt.Errorf("clear store after the machine stopped: %w", err)
		}
	}
	return true, syncDir(dir)
}

// markOpen writes the open mark, synced.
func markOpen(dir, boot string) error {
	f, err := os.Create(filepath.Join(dir, openMark))
	if err != nil {
		return fmt.Errorf("mark store open: %w", err)
	}
	if _, err := f.WriteString(boot); err != nil {
		f.Close()
		return fmt.Errorf("mark store open: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("mark store open: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mark store open: %w", err)
	}
	return syncDir(dir)
}

// markClosed removes the open mark once badger has closed (and synced)
// the store.
func markClosed(dir string) error {
	if err := os.Remove(filepath.Join(dir, openMark)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mark store closed: %w", err)
	}
	return syncDir(dir)
}
