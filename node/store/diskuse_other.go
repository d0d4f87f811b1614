//go:build !unix

package store

import "os"

// diskUse is the disk a file takes, as its size says.
func diskUse(fi os.FileInfo) int64 { return fi.Size() }
