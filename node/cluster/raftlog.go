package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/migrate"
	"github.com/jiujin/jiujin/node/store"
)

// The raft log and raft's own small state (term, vote) live in raft-wal:
// segment files appended to and fdatasynced once per batch, with a small
// bbolt file for the segment list and the term. Against raft-boltdb (a
// B+tree rewritten page by page and synced twice per batch) one writer
// commits 562–593/s instead of 362–420/s (docs/benchmarks.md, History).
// v0.4.1 or later: it reopens a log whose tail raft truncated before a
// crash (raft-wal #31), which the leader-kill tests meet. Compaction drops
// whole segments and moves the first index on, so a member that was away
// long enough installs a snapshot.
//
// Layout under <data>/raft: wal/ is the log; log.db is the raft-boltdb log
// of earlier releases, moved into wal/ on the first start that finds it.
const (
	raftWALDir      = "wal"
	raftBoltFile    = "log.db"
	raftMigratedDir = "wal.migrating"
)

// raftLog is what the group needs of its log: raft's log and stable
// stores, and closing them.
type raftLog interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

// openRaftLog opens the raft log in dir, moving an earlier release's
// raft-boltdb log into it first.
func openRaftLog(dir string, logger hclog.Logger) (raftLog, error) {
	walDir := filepath.Join(dir, raftWALDir)
	boltPath := filepath.Join(dir, raftBoltFile)
	switch walExists, boltExists := exists(walDir), exists(boltPath); {
	case walExists && boltExists:
		// A move finished (the rename below is its last step) but the
		// old file was not yet removed.
		if err := os.Remove(boltPath); err != nil {
			return nil, fmt.Errorf("remove the moved raft log: %w", err)
		}
	case boltExists:
		if err := moveBoltLog(dir, logger); err != nil {
			return nil, err
		}
	case !walExists:
		if err := os.MkdirAll(walDir, 0o700); err != nil {
			return nil, err
		}
	}
	w, err := wal.Open(walDir, wal.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", walDir, err)
	}
	return walLog{w}, nil
}

// walLog is a raft-wal log that no longer serves the entries compaction
// removed. raft-wal drops them from its first index at once but keeps
// reading them out of the segment still being written until the whole
// segment goes, so a leader would send a returning member entries raft had
// compacted instead of the snapshot that replaced them.
type walLog struct{ *wal.WAL }

func (w walLog) GetLog(index uint64, l *raft.Log) error {
	first, err := w.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return raft.ErrLogNotFound
	}
	return w.WAL.GetLog(index, l)
}

// moveBoltLog copies a raft-boltdb log and raft's term and vote into a new
// raft-wal log beside it, then puts the new log in place with one rename
// and removes the old. A crash before the rename leaves the old log as it
// was (the copy is started again); after it, the new log is complete.
func moveBoltLog(dir string, logger hclog.Logger) error {
	tmp := filepath.Join(dir, raftMigratedDir)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	src, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, raftBoltFile)})
	if err != nil {
		return fmt.Errorf("open the earlier raft log: %w", err)
	}
	defer src.Close()
	dst, err := wal.Open(tmp, wal.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("create raft log: %w", err)
	}
	if err := copyRaftLog(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("move the raft log from %s: %w", raftBoltFile, err)
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, raftWALDir)); err != nil {
		return err
	}
	if err := store.SyncDir(dir); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, raftBoltFile))
}

// copyRaftLog copies every entry and raft's stable keys. A member that
// never voted has no vote to copy.
func copyRaftLog(dst, src raftLog) error {
	if last, err := src.LastIndex(); err != nil {
		return err
	} else if last > 0 {
		if err := migrate.CopyLogs(context.Background(), dst, src, 1<<20, nil); err != nil {
			return err
		}
	}
	for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
		v, err := src.GetUint64([]byte(k))
		if errors.Is(err, raftboltdb.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("read %s: %w", k, err)
		}
		if err := dst.SetUint64([]byte(k), v); err != nil {
			return err
		}
	}
	v, err := src.Get([]byte("LastVoteCand"))
	if errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read LastVoteCand: %w", err)
	}
	return dst.Set([]byte("LastVoteCand"), v)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// The raft directory's layout, named for tools and tests that look at it:
// WALDir is the log, BoltFile the log of earlier releases, MigratedDir a
// move of it under way.
const (
	WALDir      = raftWALDir
	BoltFile    = raftBoltFile
	MigratedDir = raftMigratedDir
)
