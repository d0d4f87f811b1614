package store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// valueLogStore opens a store, a member's or not, in files of 1 MiB
// (and, if memtable is given, memtables of that size).
func valueLogStore(t testing.TB, dir string, member bool, memtable ...int64) *store.Store {
	t.Helper()
	st, err := OpenStore(StoreConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), NoSync: true, Member: member,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		tune: func(o badger.Options) badger.Options {
			for _, m := range memtable {
				o = o.WithMemTableSize(m)
			}
			return o.WithValueLogFileSize(1 << 20)
		}})
	require.NoError(t, err)
	return st
}

// TestAMemberStoreKeepsItsValuesInTheValueLog: a member's records, feed
// entries and kept answers go to the value log, a small box's stay in the
// tree; both read back the same.
func TestAMemberStoreKeepsItsValuesInTheValueLog(t *testing.T) {
	var held [2]int64
	var got [2]map[string]string
	for i, member := range []bool{false, true} {
		dir := t.TempDir()
		st := valueLogStore(t, dir, member)
		applyAll(t, st, []*pb.Command{{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})
		applyAll(t, st, keyedAccepts(9, 200, "accept-"))
		require.NoError(t, st.Close())
		held[i] = total(valueLogFiles(t, dir))
		st = valueLogStore(t, dir, member)
		got[i] = contents(t, st)
		require.NoError(t, st.Close())
	}
	require.Less(t, held[0], int64(4<<10), "a small box's value log holds next to nothing")
	require.Greater(t, held[1], int64(200*800), "a member's holds each write's record, feed entry and answer")
	require.Equal(t, len(got[0]), len(got[1]))
	for k, v := range got[1] {
		if strings.HasPrefix(k, store.PrefixRecord) || strings.HasPrefix(k, store.PrefixDone) {
			require.Equal(t, len(got[0][k]), len(v), "key %q reads back whole", k)
		}
	}
}

// keyedAccepts are n acceptances at the hour on 2026-11-23, each under a
// request id of its own (prefix and its number).
func keyedAccepts(hour, n int, prefix string) []*pb.Command {
	cmds := make([]*pb.Command, n)
	for j := range cmds {
		cmds[j] = &pb.Command{NowMs: at("2026-11-23", hour).UnixMilli(), Actor: "窗口", RequestId: fmt.Sprintf("%s%d", prefix, j),
			Op: &pb.Command_Accept{Accept: acceptReq()}}
	}
	return cmds
}

// applyAll applies the commands, 16 at a time, and requires each to succeed.
func applyAll(t testing.TB, st *store.Store, cmds []*pb.Command) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(cmds))
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				_, errs[i] = st.Apply(context.Background(), cmds[i])
			}
		})
	}
	for i := range cmds {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "command %d", i)
	}
}

// contents is every key and value the store holds.
func contents(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	require.NoError(t, st.ViewTxn(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			m[string(it.Item().Key())] = string(v)
		}
		return nil
	}))
	return m
}

// valueLogFiles are the store's value-log files and their sizes.
func valueLogFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	files := map[string]int64{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".vlog") {
			fi, err := os.Stat(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			files[e.Name()] = fi.Size()
		}
	}
	return files
}

func total(files map[string]int64) (n int64) {
	for _, s := range files {
		n += s
	}
	return n
}

// TestAMemberStoreIsClearedOnlyAfterItsMachineStopped: a store found marked
// open in the boot it is opened in was left by a killed process, whose
// writes the kernel kept: it is kept. Marked in another boot, the machine
// stopped under it: it is cleared, for its group to rebuild. Closed, it
// leaves no mark.
func TestAMemberStoreIsClearedOnlyAfterItsMachineStopped(t *testing.T) {
	dir := t.TempDir()
	open := func(boot string) *store.Store {
		st, err := OpenStore(StoreConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), Member: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BootID: func() string { return boot }})
		require.NoError(t, err)
		return st
	}
	st := open("boot-1")
	applyAll(t, st, []*pb.Command{{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})
	applyAll(t, st, []*pb.Command{acceptCmd(10)})
	head := st.FeedHead()
	require.Positive(t, head)
	mark, err := os.ReadFile(filepath.Join(dir, store.OpenMark))
	require.NoError(t, err)
	require.Equal(t, "boot-1", string(mark))
	require.NoError(t, st.Close())
	require.NoFileExists(t, filepath.Join(dir, store.OpenMark), "a clean close leaves no mark")

	// Killed: the mark stays, from this boot.
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.OpenMark), []byte("boot-1"), 0o644))
	st = open("boot-1")
	require.Equal(t, head, st.FeedHead(), "a killed process's store is kept")
	require.NoError(t, st.Close())

	// The machine stopped: the mark is from an earlier boot.
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.OpenMark), []byte("boot-1"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "raft"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "raft", "keep"), []byte("log"), 0o644))
	st = open("boot-2")
	require.Zero(t, st.FeedHead(), "cleared")
	require.Zero(t, st.Applied())
	require.FileExists(t, filepath.Join(dir, "raft", "keep"), "the raft log's directory is not the store's")
	require.NoError(t, st.Close())

	// Where the system names no boot, any mark counts as a stop.
	st = open("")
	applyAll(t, st, []*pb.Command{{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})
	applyAll(t, st, []*pb.Command{acceptCmd(10)})
	require.Positive(t, st.FeedHead())
	require.NoError(t, st.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.OpenMark), []byte(""), 0o644))
	st = open("")
	require.Zero(t, st.FeedHead())
	require.NoError(t, st.Close())
}

// TestAStoreLeftHalfRestoredIsCleared: a snapshot loaded part way (the
// stream broke, or the process stopped) leaves a store holding some of the
// snapshot's keys, its counters among them; it stays marked, and a
// member's is cleared when next opened, for its group to load the snapshot
// again (another store is refused). A whole load leaves no mark.
func TestAStoreLeftHalfRestoredIsCleared(t *testing.T) {
	src := valueLogStore(t, t.TempDir(), true)
	applyAll(t, src, []*pb.Command{{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})
	applyAll(t, src, keyedAccepts(9, 6000, "accept-"))
	var snap bytes.Buffer
	require.NoError(t, src.Backup(&snap))
	want := contents(t, src)
	require.NoError(t, src.Close())
	require.Greater(t, snap.Len(), 6<<20, "a snapshot of several parts, loaded in several commits")

	for _, member := range []bool{true, false} {
		dir := t.TempDir()
		// Memtables of 8 MiB: badger loads a snapshot in commits of a
		// seventh of that.
		st := valueLogStore(t, dir, member, 8<<20)
		applyAll(t, st, []*pb.Command{{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})

		// The stream breaks in its last part. (Badger, after a failed load,
		// blocks reads: the store is looked at in a copy.)
		err := st.Restore(io.MultiReader(bytes.NewReader(snap.Bytes()[:snap.Len()-1000]), iotest.ErrReader(io.ErrUnexpectedEOF)))
		require.Error(t, err)
		require.FileExists(t, filepath.Join(dir, store.RestoreMark))
		require.NoError(t, st.Close())
		require.FileExists(t, filepath.Join(dir, store.RestoreMark), "a close does not finish a load")
		aside := t.TempDir()
		copyStoreFiles(t, dir, aside)
		require.NoError(t, os.Remove(filepath.Join(aside, store.RestoreMark)))
		half := valueLogStore(t, aside, member, 8<<20)
		got := contents(t, half)
		require.NoError(t, half.Close())
		require.NotEmpty(t, got, "part of the snapshot is in")
		require.Less(t, len(got), len(want), "not all of it")
		require.Contains(t, got, store.MetaApplied, "its counters among them")
		require.Less(t, count(got, store.PrefixRecord), count(want, store.PrefixRecord), "and not all the records they count")

		if !member {
			// Not a member's: refused, for the restore to be done again.
			_, err := OpenStore(StoreConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			require.ErrorIs(t, err, store.ErrFailedPrecondition)
			require.ErrorContains(t, err, "data: ")
			continue
		}
		st = valueLogStore(t, dir, member, 8<<20)
		require.Equal(t, 3, len(contents(t, st)), "cleared when opened: a new store's identity only")
		require.NoFileExists(t, filepath.Join(dir, store.RestoreMark))

		// Loaded whole: kept, unmarked.
		require.NoError(t, st.Restore(bytes.NewReader(snap.Bytes())))
		require.NoFileExists(t, filepath.Join(dir, store.RestoreMark))
		require.NoError(t, st.Close())
		st = valueLogStore(t, dir, member, 8<<20)
		require.Equal(t, want, contents(t, st))
		require.NoError(t, st.Close())
	}
}

// count is how many of the keys have the prefix.
func count(kv map[string]string, prefix string) (n int) {
	for k := range kv {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// TestValueLogUseCountsWhatIsNoLongerRead: a member's value log holds what
// its store reads and, once answers are pruned (or records rewritten), what
// it no longer reads; valueLogUse tells the two apart.
func TestValueLogUseCountsWhatIsNoLongerRead(t *testing.T) {
	dir := t.TempDir()
	st := valueLogStore(t, dir, true)
	applyAll(t, st, []*pb.Command{{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})
	applyAll(t, st, keyedAccepts(9, 300, "accept-9-"))
	files, live, err := st.ValueLogUse(0)
	require.NoError(t, err)
	require.Greater(t, live, int64(300*800), "each write's record, feed entry and answer")
	require.Less(t, files-live, int64(16<<10), "next to nothing unread (%d of %d)", files-live, files)
	before := files - live

	// Two hours on, the next keyed writes prune the first ones' answers.
	answers := 0
	for k, v := range contents(t, st) {
		if strings.HasPrefix(k, store.PrefixDone) {
			answers += len(v)
		}
	}
	applyAll(t, st, keyedAccepts(11, 300, "accept-11-"))
	files, live, err = st.ValueLogUse(0)
	require.NoError(t, err)
	t.Logf("value log %d bytes, %d read, %d unread before the prune; answers pruned: %d bytes", files, live, before, answers)
	require.InDelta(t, float64(answers), float64(files-live-before), float64(answers)/4,
		"the pruned answers are unread (%d bytes of answers, %d more unread)", answers, files-live-before)

	// Under the floor, the keys are not walked.
	files2, live2, err := st.ValueLogUse(files)
	require.NoError(t, err)
	require.Equal(t, files, files2)
	require.Zero(t, live2)
	require.NoError(t, st.Close())
}

// copyStoreFiles copies a data directory's badger files (not its raft
// directory) from one directory to another.
func copyStoreFiles(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), b, 0o644))
	}
}
