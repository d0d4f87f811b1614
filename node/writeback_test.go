package node

import (
	"os"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTheNewestValueLogIsWrittenOutAsItGrows: the trickle follows badger's
// newest value-log file, by identity (a file made again under the same
// name is followed too), and stops when asked.
func TestTheNewestValueLogIsWrittenOutAsItGrows(t *testing.T) {
	dir := t.TempDir()
	var mu gosync.Mutex
	var last os.FileInfo
	calls := 0
	write := func(f *os.File) error {
		fi, err := f.Stat()
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		last, calls = fi, calls+1
		return nil
	}
	following := func(path string) func() bool {
		return func() bool {
			fi, err := os.Stat(path)
			if err != nil {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			return last != nil && os.SameFile(last, fi)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { trickleValueLog(dir, 2*time.Millisecond, write, stop); close(done) }()

	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	require.Zero(t, calls, "no value log yet: nothing to write")
	mu.Unlock()

	first := filepath.Join(dir, "000001.vlog")
	require.NoError(t, os.WriteFile(first, []byte("values"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "000001.sst"), []byte("table"), 0o644))
	eventually(t, following(first), "the only value log is written out")

	second := filepath.Join(dir, "000002.vlog")
	require.NoError(t, os.WriteFile(second, []byte("more"), 0o644))
	eventually(t, following(second), "the newest value log, once badger opens it")

	// A store reloaded from a snapshot drops its value logs and starts
	// again from the same names.
	require.NoError(t, os.Remove(first))
	require.NoError(t, os.Remove(second))
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, os.WriteFile(second, []byte("after a reload"), 0o644))
	eventually(t, following(second), "the file now under that name, not the removed one")

	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the trickle did not stop")
	}
}

// TestStartWritebackOnARealFile: the kernel takes the request on a file
// opened only for reading, as the trickle opens badger's files.
func TestStartWritebackOnARealFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "000001.vlog")
	require.NoError(t, os.WriteFile(path, make([]byte, 1<<20), 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, startWriteback(f))
}
