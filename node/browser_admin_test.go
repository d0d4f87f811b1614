package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// TestConsoleAdminInABrowser: in chromium, the county's administrator logs
// in with the second factor, uploads a new catalog and sees what it
// changes before publishing it, asks who decides 低保 at 城关镇 and devolves
// it there, adds an account and edits a unit, with the keyboard where a
// person would; the screenshots of docs/console.md's 管理 section.
func TestConsoleAdminInABrowser(t *testing.T) {
	ctx := newChrome(t)
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	secret := addAccount(t, county, "guanli", "330324", "", rules.RoleAdmin)
	addAccount(t, county, "liufang", "330324101", "", rules.RoleWorker)
	otp, err := auth.TOTPCode(secret, county.clock.Now())
	require.NoError(t, err)
	c := county.URL()

	do(t, ctx, chromedp.Navigate(c+"/login?next=%2Fadmin"), chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "guanli"), chromedp.SendKeys("#password", testPassword),
		chromedp.SendKeys("#otp", otp+"\n"), chromedp.WaitVisible(".admin-tiles"))
	require.Contains(t, text(t, ctx, "nav"), "管理")
	shot(t, ctx, "admin")

	file := filepath.Join(t.TempDir(), "catalog-2027.yaml")
	require.NoError(t, os.WriteFile(file, []byte(editedCatalog(t)), 0o600))
	do(t, ctx, chromedp.Navigate(c+"/admin/catalog"), chromedp.WaitVisible("#upload-form"),
		chromedp.SetUploadFiles("#file", []string{file}), chromedp.Click(`#upload-form button[type=submit]`),
		chromedp.WaitVisible("#preview"))
	preview := text(t, ctx, "#preview")
	require.Contains(t, preview, "MZ-099 临时救助（试点）")
	require.Contains(t, preview, "GA-002 居民身份证换领")
	shot(t, ctx, "admin-catalog")
	do(t, ctx, chromedp.Click("#publish"), chromedp.WaitVisible("#published"))
	require.Contains(t, text(t, ctx, "#published"), "第 2 版")

	do(t, ctx, chromedp.Navigate(c+"/admin/delegations"), chromedp.WaitVisible("#matter"),
		chromedp.SendKeys("#matter", "低保"), chromedp.SendKeys("#unit", "城关镇"), chromedp.Click("#preview"),
		chromedp.WaitVisible("#route"))
	require.Contains(t, text(t, ctx, "#route"), "县级主管部门办理")
	do(t, ctx, chromedp.Click("#grant"), chromedp.WaitVisible("#granted"))
	require.Contains(t, text(t, ctx, "#route"), "城关镇（330324101）")
	require.Contains(t, text(t, ctx, "#delegations"), "下放")
	shot(t, ctx, "admin-delegations")

	// An account from the keyboard: Tab from field to field, space ticks.
	do(t, ctx, chromedp.Navigate(c+"/admin/accounts"), chromedp.WaitVisible("#login"), chromedp.Focus("#login"),
		chromedp.KeyEvent("zhouqing\t周青\t城关镇\t \t"), chromedp.SendKeys("#password", "Chushi-kouling-1\n"),
		chromedp.WaitVisible("#added"))
	require.Contains(t, text(t, ctx, "#account-zhouqing"), "城关镇（330324101）")
	require.Contains(t, text(t, ctx, "#account-zhouqing"), "窗口人员")
	shot(t, ctx, "admin-accounts")

	do(t, ctx, chromedp.Navigate(c+"/admin/units?edit=330324101"), chromedp.WaitVisible("#phone"))
	do(t, ctx, chromedp.SetValue("#phone", "0570-6021999"), chromedp.Click(`#unit-form button[type=submit]`), chromedp.WaitVisible("#saved"))
	require.Contains(t, text(t, ctx, "#unit-330324101"), "0570-6021999")
	shot(t, ctx, "admin-units")
	u, err := county.Rules.Units()
	require.NoError(t, err)
	require.Equal(t, "0570-6021999", u["330324101"].GetPhone())
	st, err := county.Rules.Account("zhouqing")
	require.NoError(t, err)
	require.True(t, strings.Contains(strings.Join(st.Record.GetAccount().GetRoles(), ","), rules.RoleWorker))
}
