package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// valueLogStore opens a store that keeps its longer values in the value
// log, in files of 1 MiB so that a test fills several, its memtables
// flushed at 1 MiB so that its tree has levels to compact.
func valueLogStore(t *testing.T, dir string, gcEvery time.Duration) *Store {
	t.Helper()
	st, err := OpenStore(StoreConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), NoSync: true,
		Member: true, ValueLogGCInterval: gcEvery, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		tune: func(o badger.Options) badger.Options {
			return o.WithValueLogFileSize(1 << 20).WithMemTableSize(1 << 20)
		}})
	require.NoError(t, err)
	return st
}

// applyAll applies the commands, 16 at a time, and requires each to succeed.
func applyAll(t *testing.T, st *Store, cmds []*pb.Command) {
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
func contents(t *testing.T, st *Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	require.NoError(t, st.view(func(txn *badger.Txn) error {
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

// garbageWorkload accepts 2,000 applications under request ids, then two
// hours on decides each: every decision overwrites a record, and prunes up
// to 32 of the morning's kept answers. It returns the value-log files the
// acceptances filled.
func garbageWorkload(t *testing.T, st *Store, dir string) map[string]int64 {
	morning, later := at("2026-11-23", 8).UnixMilli(), at("2026-11-23", 10).UnixMilli()
	applyAll(t, st, []*pb.Command{{NowMs: morning, Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})
	const apps = 2000
	var cmds []*pb.Command
	for i := range apps {
		cmds = append(cmds, &pb.Command{NowMs: morning, Actor: "窗口", RequestId: fmt.Sprintf("accept-%d", i),
			Op: &pb.Command_Accept{Accept: acceptReq()}})
	}
	applyAll(t, st, cmds)
	accepted := valueLogFiles(t, dir)
	cmds = cmds[:0]
	for i := range apps {
		cmds = append(cmds, &pb.Command{NowMs: later, Actor: "审批", RequestId: fmt.Sprintf("decide-%d", i),
			Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: fmt.Sprintf("330324-20261123-%06d", i+1), Approve: true}}})
	}
	applyAll(t, st, cmds)
	require.NotContains(t, contents(t, st), string(doneKey("accept-0")), "the morning's answers were pruned")
	return accepted
}

// TestValueLogGarbageIsCollected checks that the collector rewrites the
// value-log files whose values were overwritten or deleted, gives the
// space back and changes nothing anyone reads, before and after a restart.
func TestValueLogGarbageIsCollected(t *testing.T) {
	dir := t.TempDir()
	st := valueLogStore(t, dir, time.Hour)
	garbageWorkload(t, st, dir)
	want := contents(t, st)
	require.NoError(t, st.Close())
	before := valueLogFiles(t, dir)
	require.Greater(t, len(before), 3, "the values fill several files")

	// Compacting the whole tree drops every pointer to an older value and
	// counts what each file holds of them.
	st = valueLogStore(t, dir, time.Hour)
	require.NoError(t, st.db.Flatten(1))
	n, err := st.CollectValueLog()
	require.NoError(t, err)
	require.Positive(t, n)
	require.Equal(t, want, contents(t, st), "collecting moves values, it changes none")
	n, err = st.CollectValueLog()
	require.NoError(t, err)
	require.Zero(t, n, "what is left is not worth rewriting")
	require.NoError(t, st.Close())
	after := valueLogFiles(t, dir)
	require.Less(t, total(after), total(before)*3/4, "space given back: %d bytes before, %d after", total(before), total(after))

	st = valueLogStore(t, dir, time.Hour)
	require.Equal(t, want, contents(t, st), "and none after a restart")
	require.NoError(t, st.Close())
}

// TestValueLogIsCollectedAtItsInterval: a store collects by itself, its
// compactions having counted the garbage as the writes went on.
func TestValueLogIsCollectedAtItsInterval(t *testing.T) {
	dir := t.TempDir()
	st := valueLogStore(t, dir, 20*time.Millisecond)
	accepted := garbageWorkload(t, st, dir)
	require.Eventually(t, func() bool {
		now := valueLogFiles(t, dir)
		for name := range accepted {
			if _, ok := now[name]; !ok {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a file the acceptances filled is rewritten and deleted")
	want := contents(t, st)
	require.NoError(t, st.Close())
	st = valueLogStore(t, dir, time.Hour)
	require.Equal(t, want, contents(t, st))
	require.NoError(t, st.Close())
}

// TestAMemberStoreIsClearedOnlyAfterItsMachineStopped: a store found marked
// open in the boot it is opened in was left by a killed process, whose
// writes the kernel kept: it is kept. Marked in another boot, the machine
// stopped under it: it is cleared, for its group to rebuild. Closed, it
// leaves no mark.
func TestAMemberStoreIsClearedOnlyAfterItsMachineStopped(t *testing.T) {
	dir := t.TempDir()
	open := func(boot string) *Store {
		st, err := OpenStore(StoreConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), Member: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), bootID: func() string { return boot }})
		require.NoError(t, err)
		return st
	}
	st := open("boot-1")
	applyAll(t, st, []*pb.Command{{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}}})
	applyAll(t, st, []*pb.Command{acceptCmd(10)})
	head := st.FeedHead()
	require.Positive(t, head)
	mark, err := os.ReadFile(filepath.Join(dir, openMark))
	require.NoError(t, err)
	require.Equal(t, "boot-1", string(mark))
	require.NoError(t, st.Close())
	require.NoFileExists(t, filepath.Join(dir, openMark), "a clean close leaves no mark")

	// Killed: the mark stays, from this boot.
	require.NoError(t, os.WriteFile(filepath.Join(dir, openMark), []byte("boot-1"), 0o644))
	st = open("boot-1")
	require.Equal(t, head, st.FeedHead(), "a killed process's store is kept")
	require.NoError(t, st.Close())

	// The machine stopped: the mark is from an earlier boot.
	require.NoError(t, os.WriteFile(filepath.Join(dir, openMark), []byte("boot-1"), 0o644))
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
	require.NoError(t, os.WriteFile(filepath.Join(dir, openMark), []byte(""), 0o644))
	st = open("")
	require.Zero(t, st.FeedHead())
	require.NoError(t, st.Close())
}
