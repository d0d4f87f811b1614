//go:build unix

package cli

import "syscall"

// privateFiles makes every file the process creates its owner's only: a
// node's store, raft log, backups and certificates hold names and identity
// numbers.
func privateFiles() { syscall.Umask(0o077) }
