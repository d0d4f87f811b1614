package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// chromium is Debian's browser, for the console's end-to-end tests.
const chromium = "/usr/bin/chromium"

// newChrome starts a headless chromium for one test (skipped where there
// is none: `apt-get install chromium fonts-wqy-microhei`, as .ci/run does).
func newChrome(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("没有 chromium（apt-get install -y chromium fonts-wqy-microhei）：跳过浏览器测试")
	}
	// A browser in a container now and then dies before it listens
	// (crash reporter, /dev/shm): a fresh one is started, three times at most.
	var err error
	for try := 0; try < 3; try++ {
		var ctx context.Context
		if ctx, err = startChrome(t); err == nil {
			return ctx
		}
		t.Logf("chromium did not start (try %d): %v", try+1, err)
	}
	require.NoError(t, err, "chromium starts")
	return nil
}

func startChrome(t *testing.T) (context.Context, error) {
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.IgnoreCertErrors, chromedp.WindowSize(1200, 900),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("lang", "zh-CN"))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel2()
		cancel()
		return nil, err
	}
	return ctx, nil
}

// do runs browser steps with a deadline.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(c, steps...))
}

// pageWait waits until a script's expression holds on the page (after a
// form sent, until the next page is there).
func pageWait(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		// A page on its way away answers nothing: ask the next one.
		require.True(t, time.Now().Before(deadline), "%s: %v", js, err)
		time.Sleep(50 * time.Millisecond)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(sel))
	require.NoError(t, err, sel)
	return s
}

// shot keeps a screenshot of the page for docs/console.md when
// JIUJIN_SCREENSHOTS names a directory.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("JIUJIN_SCREENSHOTS")
	if dir == "" {
		return
	}
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

func browserLogin(t *testing.T, ctx context.Context, base, login string) {
	do(t, ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", login), chromedp.SendKeys("#password", testPassword+"\n"),
		chromedp.WaitVisible(".tiles"))
}

// TestConsoleInABrowser: a county, a township and a village as real nodes
// with certificates; in chromium, the village's worker finds 残疾人证 by
// pinyin, accepts it with a 容缺 material missing, prints the receipt
// (the PDF holds the application id) and hands the material in; the
// county's approver approves it at the county; back at the village the
// worker hands it out and the citizen rates it on the rating screen. A
// second acceptance is made with the keyboard alone.
func TestConsoleInABrowser(t *testing.T) {
	ctx := newChrome(t)
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	town := startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	village := startTLSNode(t, "330324101201", issueBundle(t, ca, "330324101201", auth.RoleNode), []string{town.URL()}, nil)
	addAccount(t, county, "zhangli", "330324101201", "", rules.RoleWorker)
	addAccount(t, county, "canlian", "330324", "CL", rules.RoleApprover)
	eventually(t, func() bool { st, err := village.Rules.Account("zhangli"); return err == nil && st != nil }, "the account reaches the village")
	eventually(t, func() bool { return village.Rules.UnitName("330324101201") == "城东社区" }, "names reach the village")
	eventually(t, func() bool { _, err := village.Rules.GetMatter("CL-001"); return err == nil }, "the catalog reaches the village")

	v := village.URL()
	browserLogin(t, ctx, v, "zhangli")
	require.Contains(t, text(t, ctx, "header"), "城东社区（330324101201）")
	require.Contains(t, text(t, ctx, "#link"), "上级链路：在线")
	shot(t, ctx, "home")

	do(t, ctx, chromedp.Navigate(v+"/matters"), chromedp.WaitVisible("#q"), chromedp.SendKeys("#q", "cjrz\n"))
	pageWait(t, ctx, `location.search.includes("q=cjrz") && document.readyState == "complete"`)
	require.Contains(t, text(t, ctx, "main"), "残疾人证核发（新办）")
	require.NotContains(t, text(t, ctx, "main"), "最低生活保障", "only what the initials fit")
	shot(t, ctx, "matters")
	do(t, ctx, chromedp.Click(`a[href="/matters/CL-001"]`), chromedp.WaitVisible(".facts"))
	require.Contains(t, text(t, ctx, "main"), "残疾评定表")
	shot(t, ctx, "matter")

	do(t, ctx, chromedp.Navigate(v+"/accept?matter=CL-001"), chromedp.WaitVisible("#applicant_name"),
		chromedp.SendKeys("#applicant_name", "冯志明"), chromedp.SendKeys("#id_number", "33032419801010335"))
	require.Contains(t, text(t, ctx, "#id_number_hint"), "已输入 17 位")
	do(t, ctx, chromedp.SendKeys("#id_number", "0"))
	require.Contains(t, text(t, ctx, "#id_number_hint"), "校验位不对", "checked as it is typed")
	do(t, ctx, chromedp.SendKeys("#id_number", "\b"+rules.MakeIDNumber("33032419801010335")[17:]))
	require.Contains(t, text(t, ctx, "#id_number_hint"), "号码格式正确")
	do(t, ctx, chromedp.SendKeys("#phone", "13857704444"),
		chromedp.Click("#mat0"), chromedp.Click("#mat1"), chromedp.Click("#mat2"), chromedp.Click("#mat3"), chromedp.Click("#miss4"))
	shot(t, ctx, "accept")
	do(t, ctx, chromedp.Click(`#accept-form button[type=submit]`), chromedp.WaitVisible("#receipt-id"))
	id := strings.TrimSpace(text(t, ctx, "#receipt-id"))
	require.True(t, strings.HasPrefix(id, "330324101201-"), id)
	require.Contains(t, text(t, ctx, "#receipt"), "0570-6021201", "the window's phone")
	shot(t, ctx, "receipt")
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA5)))
	require.NoError(t, err)
	requirePDFText(t, pdf, id)

	do(t, ctx, chromedp.Navigate(v+"/apps/"+id), chromedp.WaitVisible("#upstream"))
	do(t, ctx, chromedp.Click(`input[name="material"][value="残疾评定表"]`), chromedp.Click(`form[action$="/supply"] button`))
	eventually(t, func() bool {
		x := appOn(county, id)
		return x != nil && x.GetState() == rules.StateReceived && len(x.GetMaterialsMissing()) == 0
	}, "the application and its material reach the county")
	eventually(t, func() bool { x := appOn(village, id); return x != nil && len(x.GetMaterialsMissing()) == 0 }, "the county's answer comes back")
	do(t, ctx, chromedp.Navigate(v+"/apps/"+id), chromedp.WaitVisible("#upstream"))
	shot(t, ctx, "app")

	approver := newChrome(t) // another person at another desk: a browser of its own
	browserLogin(t, approver, county.URL(), "canlian")
	do(t, approver, chromedp.Navigate(county.URL()+"/apps/"+id))
	do(t, approver, chromedp.WaitVisible(`button[value="approve"]`),
		chromedp.SendKeys("#reason", "符合条件"), chromedp.Click(`button[value="approve"]`))
	pageWait(t, approver, `document.querySelector(".state") && document.querySelector(".state").innerText.includes("准予")`)

	eventually(t, func() bool { x := appOn(village, id); return x != nil && x.GetState() == rules.StateApproved }, "the result comes back")
	do(t, ctx, chromedp.Navigate(v+"/apps/"+id), chromedp.WaitVisible(`form[action$="/deliver"]`),
		chromedp.Click(`form[action$="/deliver"] button`), chromedp.WaitVisible(`a[href$="/rate"]`),
		chromedp.Click(`a[href$="/rate"]`), chromedp.WaitVisible(".scores"))
	shot(t, ctx, "rate")
	do(t, ctx, chromedp.Click(`button.score.s5`))
	pageWait(t, ctx, `document.querySelector("h1") && document.querySelector("h1").innerText.includes("谢谢您的评价")`)
	require.Equal(t, rules.StateRated, appOn(village, id).GetState())

	do(t, ctx, chromedp.Navigate(v+"/apps"), chromedp.WaitVisible("table.apps"))
	shot(t, ctx, "apps")
	do(t, approver, chromedp.Navigate(county.URL()+"/stats"), chromedp.WaitVisible("svg.chart"))
	shot(t, approver, "stats")
	do(t, approver, chromedp.Navigate(county.URL()+"/links"), chromedp.WaitVisible("#children"))
	require.Contains(t, text(t, approver, "#children"), "城关镇（330324101）")
	shot(t, approver, "links")

	// The keyboard alone: Tab from field to field, space ticks, Enter sends.
	do(t, ctx, chromedp.Navigate(v+"/accept?matter=MZ-005"), chromedp.WaitVisible("#applicant_name"),
		chromedp.KeyEvent("王秀英\t"+idWang+"\t13857700101\t \t \t\t\n"), chromedp.WaitVisible("#receipt-id"))
	second := strings.TrimSpace(text(t, ctx, "#receipt-id"))
	require.NotEqual(t, id, second)
	require.Equal(t, "王秀英", appOn(village, second).GetApplicant().GetName(), "accepted from the keyboard")
}

// requirePDFText checks that a printed page holds s, where pdftotext
// (poppler-utils) can say; elsewhere only that a PDF was made.
func requirePDFText(t *testing.T, pdf []byte, s string) {
	t.Helper()
	require.True(t, strings.HasPrefix(string(pdf), "%PDF"), "a PDF")
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Log("没有 pdftotext（poppler-utils）：只检查打印出了 PDF")
		return
	}
	f := filepath.Join(t.TempDir(), "receipt.pdf")
	require.NoError(t, os.WriteFile(f, pdf, 0o600))
	out, err := exec.Command("pdftotext", f, "-").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), s)
}
