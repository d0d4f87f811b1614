package node

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildBinary(); err == nil && code >= 0 {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}
