package node

import (
	"os"
	"path/filepath"
	"sort"
	"time"
)

// valueLogWriteback is how often a member's newest value-log file is
// handed to the kernel to write out.
const valueLogWriteback = 200 * time.Millisecond

// A member's store does not sync its value log, but badger syncs a
// value-log file when it is full (at 64 MiB, every 10–15 s at 5,000 writes
// a second) before it opens the next: it msyncs the whole file, from the
// goroutine that writes, so every commit of that store waits until some
// 64 MiB of dirty pages reach the disk. In a county group the three
// members fill their files in step, and the group stopped for 300–400 ms
// each time (a goroutine dump at each stall in `bench county` shows the
// write path in msync under logFile.doneWriting). The kernel on its own
// writes a dirty page out only after 30 s.
//
// trickleValueLog keeps the newest value-log file written out as it
// grows: every interval it asks the kernel to start writing the file's
// dirty pages (on Linux sync_file_range, which does not wait), so that a
// full file has next to nothing left to sync. It does not make the log
// durable (nothing waits for the writes); the raft log is what is.
// It returns when stop is closed.
func trickleValueLog(dir string, every time.Duration, write func(*os.File) error, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var f *os.File
	var fi os.FileInfo
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		path := newestValueLog(dir)
		if path == "" {
			continue
		}
		// The newest file is followed by identity, not name: a store
		// reloaded from a snapshot starts its value log again from the
		// same file name.
		now, err := os.Stat(path)
		if err != nil {
			continue
		}
		if f == nil || !os.SameFile(fi, now) {
			if f != nil {
				f.Close()
				f = nil
			}
			if f, err = os.Open(path); err != nil {
				f = nil
				continue
			}
			fi = now
		}
		_ = write(f) // best effort: badger's own sync is the fallback
	}
}

// newestValueLog is the path of the value-log file badger writes to, the
// one with the highest number, or "" if there is none.
func newestValueLog(dir string) string {
	names, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if err != nil || len(names) == 0 {
		return ""
	}
	sort.Strings(names) // six-digit numbers: name order is number order
	return names[len(names)-1]
}
