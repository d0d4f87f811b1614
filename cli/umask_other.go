//go:build !unix

package cli

// privateFiles: files are private by the data directory's permissions.
func privateFiles() {}
