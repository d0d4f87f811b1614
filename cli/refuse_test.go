package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/tiers"
)

// TestRefuseAtTheWindow: app refuse prints the 不予受理告知书 with the
// identity number masked; a refusal without a reason is refused naming
// the flag; app refusals lists it and prints its notice again; stats
// counts it.
func TestRefuseAtTheWindow(t *testing.T) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	n, err := node.Start(node.Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Calendar: cal, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { n.Shutdown(t.Context()) })
	url := n.URL()
	code, _, stderr := run(t, url, "catalog", "import", "--seed", "--yes")
	require.Equal(t, 0, code, stderr)

	idLi := rules.MakeIDNumber("33032419660405301")
	code, _, stderr = run(t, url, "app", "refuse", "--matter", "老年证", "--applicant-name", "李建国", "--applicant-id", idLi, "--reason", " ")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "--reason")
	code, _, stderr = run(t, url, "app", "refuse", "--matter", "老年证", "--applicant-name", "李建国", "--applicant-id", idLi[:17]+"0", "--reason", "未满六十周岁")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "身份证号")

	code, out, stderr := run(t, url, "app", "refuse", "--matter", "老年证", "--applicant-name", "李建国", "--applicant-id", idLi,
		"--reason", "申请人未满六十周岁，不符合老年人优待证办理条件")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"不予受理告知书", "李建国", rules.MaskIDNumber(idLi), "老年人优待证办理", "MZ-005",
		"理由：申请人未满六十周岁，不符合老年人优待证办理条件", "行政复议"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, idLi, "masked")

	code, out, stderr = run(t, url, "app", "refusals", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var list struct {
		Refusals []struct{ ID string }
		Total    int
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Equal(t, 1, list.Total)
	require.Regexp(t, `^330324-\d{8}-000001$`, list.Refusals[0].ID)
	code, out, stderr = run(t, url, "app", "refusals")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, list.Refusals[0].ID)
	require.Contains(t, out, "共 1 件")
	code, out, stderr = run(t, url, "app", "refusals", list.Refusals[0].ID)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "不予受理告知书")
	code, _, stderr = run(t, url, "app", "refusals", "--from", "2026-13-01")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "from")

	code, out, stderr = run(t, url, "stats")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "不予受理 1 件")
}
