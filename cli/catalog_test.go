package cli

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/tiers"
)

// TestCatalogImportShowsBeforeItPublishes: an import lists what it would
// add, change and withdraw, by code and name, and publishes only with
// --yes; a file that would withdraw more than a third of the catalog in
// force also needs --allow-withdraw-many.
func TestCatalogImportShowsBeforeItPublishes(t *testing.T) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	n, err := node.Start(node.Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Calendar: cal, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { n.Shutdown(t.Context()) })
	url := n.URL()

	code, stdout, _ := run(t, url, "catalog", "import", "--seed")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "新增  MZ-001 最低生活保障审批")
	require.Contains(t, stdout, "未发布")
	code, stdout, _ = run(t, url, "catalog", "list")
	require.Equal(t, 0, code)
	require.NotContains(t, stdout, "MZ-001", "nothing published without --yes")

	code, stdout, stderr := run(t, url, "catalog", "import", "--seed", "--yes")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "已发布事项清单第 1 版")

	// A file that holds only the MZ matters.
	var kept []string
	matters, keep := false, true
	for _, line := range strings.Split(string(seed.Catalog), "\n") {
		switch {
		case strings.HasPrefix(line, "matters:"):
			matters = true
		case matters && strings.HasPrefix(line, "  - code: "):
			keep = strings.HasPrefix(line, "  - code: MZ-")
		case matters && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			matters, keep = false, true
		}
		if !matters || keep || !strings.HasPrefix(line, " ") {
			kept = append(kept, line)
		}
	}
	file := filepath.Join(t.TempDir(), "mz.yaml")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(kept, "\n")), 0o600))
	code, stdout, stderr = run(t, url, "catalog", "import", file)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "撤销  GA-001 出生登记")
	code, _, stderr = run(t, url, "catalog", "import", file, "--yes")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "allow_withdraw_many")
	require.Contains(t, stderr, "--allow-withdraw-many")
	code, stdout, stderr = run(t, url, "catalog", "import", file, "--yes", "--allow-withdraw-many")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "已发布事项清单第 2 版")
}
