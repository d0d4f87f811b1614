package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	gosync "sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var binary struct {
	once gosync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// testBinary is the jiujin executable built once for the tests that run
// node processes.
func testBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "jiujin-bench-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "jiujin")
		binary.out, binary.err = exec.Command("go", "build", "-o", binary.path, "github.com/jiujin/jiujin").CombinedOutput()
	})
	require.NoError(t, binary.err, "%s", binary.out)
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}
