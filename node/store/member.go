package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/jiujin/jiujin/internal/durable"
)

// The store of a county group's member (Config.Member) runs on a
// county server, and its group's raft log is the durable record; three
// choices differ from a township's or a village's store:
//
//   - No fsync: the applied index is written with the data it covers, and
//     a tail lost in a crash is replayed from the log.
//   - Values longer than valueThreshold go to badger's value log: records,
//     feed entries and kept answers (250 to 400 bytes each) are written
//     once, and the LSM tree holds a pointer to each; counters and
//     indexes stay in the tree. With every value in the tree, flushing
//     and compacting the three stores of a group stalled it for about a
//     second each time (p99 178–209 ms against 37–49 ms, docs/benchmarks.md
//     "Why a member's store is tuned so"). A store that fsyncs keeps its
//     values in the tree: with the value log a commit would sync two files.
//   - Memtables of memberMemTable (64 MiB, against 16 MiB on a small box):
//     a 16 MiB memtable still filled every few seconds at full load (same
//     section). Two of them cost a member 96 MiB more memory at most.
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
// pruned after their retention, events released from the held list) stays
// in the value log as garbage: nothing collects it. Badger's collector
// (RunValueLogGC) moves live values to the end of the log under their old
// versions, and a key deleted after its value was moved can come back when
// a compaction drops the tombstone but not the moved value (seen: 37 of
// 2,000 pruned answers back, docs/internals.md); a member that brought
// back a pruned answer would answer a repeated key differently from the
// others. The garbage, some 600 bytes per keyed write, is dropped when the
// member starts with more than its limit of it (RaftConfig.ValueLogGarbage,
// 1 GiB by default): the store is loaded from the member's last snapshot,
// which drops every value-log file (badger's DropAll) and writes what is
// live once, as a snapshot install does; the log after it is replayed.
const (
	valueThreshold = 64
	memberMemTable = 64 << 20
)

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
	if err := clearStoreFiles(dir); err != nil {
		return false, fmt.Errorf("clear store after the machine stopped: %w", err)
	}
	return true, nil
}

// restoreMark is the file a store keeps in its directory while a snapshot
// replaces its content (Store.Restore). Badger loads a snapshot in many
// commits, and the store's counters, the applied index among them, may be
// loaded before the records and the feed they count: a process stopped
// part way (killed, or the load failed) would leave a store that claims
// entries it does not hold, and skip them when the log is replayed. Found
// on opening, the mark says the load did not finish, and the store's files
// are removed: the member loads its last snapshot again, which raft kept,
// and replays the log after it.
const restoreMark = "RESTORING"

// clearIfHalfRestored removes a member's store's files from dir (not the
// raft log's directory) if a snapshot was being loaded into it when its
// process last stopped, and says whether it did. Any other store so marked
// was left by a `node restore` that did not finish (killed, or the machine
// stopped): it is refused, for the restore to be done again, since it may
// hold the old identity without the rest.
func clearIfHalfRestored(dir string, member bool) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, restoreMark)); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("look for %s: %w", restoreMark, err)
	}
	if !member {
		return false, precondition("data", "数据目录 %s 的恢复没有完成（中途被打断）：请删除该目录，再用备份重新恢复（jiujin node restore）", dir)
	}
	if err := clearStoreFiles(dir); err != nil {
		return false, fmt.Errorf("clear a store left half restored: %w", err)
	}
	return true, nil
}

// clearStoreFiles removes the regular files of a data directory (badger's
// and the marks), not its subdirectories (the raft log's), and syncs it.
func clearStoreFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return SyncDir(dir)
}

// markOpen writes the open mark, synced.
func markOpen(dir, boot string) error {
	if err := writeMark(dir, openMark, boot); err != nil {
		return fmt.Errorf("mark store open: %w", err)
	}
	return nil
}

// markClosed removes the open mark once badger has closed (and synced)
// the store.
func markClosed(dir string) error {
	if err := removeMark(dir, openMark); err != nil {
		return fmt.Errorf("mark store closed: %w", err)
	}
	return nil
}

// writeMark writes a mark file into dir, durably.
func writeMark(dir, name, content string) error {
	return durable.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
}

// removeMark removes a mark file from dir (if there) and syncs dir.
func removeMark(dir, name string) error {
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return SyncDir(dir)
}

// ValueLogBytes is the disk the store's value-log files take (their
// allocated blocks: the file badger writes to is sparse to twice its size).
func (s *Store) ValueLogBytes() (int64, error) {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return 0, err
	}
	var files int64
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".vlog") {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // dropped by a reload while we looked
		}
		if err != nil {
			return 0, err
		}
		files += diskUse(fi)
	}
	return files, nil
}

// ValueLogUse is the disk the store's value-log files take and, if that is
// over floor, how much of it the store still reads: the latest version of
// each key whose value is in the value log, as badger sizes its entry
// there (header, key, value and checksum). The rest is garbage. Counting
// walks every key (not the values): it is only done above floor.
func (s *Store) ValueLogUse(floor int64) (files, live int64, err error) {
	if files, err = s.ValueLogBytes(); err != nil {
		return 0, 0, err
	}
	if files <= floor {
		return files, 0, nil
	}
	err = s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			// A value below the threshold is in the tree (its estimate is
			// key and value); at or above, in the value log.
			if item := it.Item(); item.ValueSize() >= valueThreshold {
				live += item.EstimatedSize()
			}
		}
		return nil
	})
	return files, live, err
}

// SyncDir fsyncs a directory, so that files created or renamed in it stay.
func SyncDir(dir string) error { return durable.SyncDir(dir) }

// The marks a store leaves in its directory, named for tools and tests
// that look at it: OpenMark while a member's store is open, RestoreMark
// while a snapshot or backup is being loaded into it.
const (
	OpenMark    = openMark
	RestoreMark = restoreMark
)
