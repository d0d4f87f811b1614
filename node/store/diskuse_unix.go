//go:build unix

package store

import (
	"os"
	"syscall"
)

// diskUse is the disk a file takes: its allocated blocks (a value-log file
// is sparse past its written end while open).
func diskUse(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
