package node

import (
	"bytes"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// loginOTP logs an administrator (or auditor) in with the code of n's
// clock. A code is taken once: log an account in once per node and step.
func (b *browser) loginOTP(n *testNode, login, secret string) {
	b.t.Helper()
	otp, err := auth.TOTPCode(secret, n.clock.Now())
	require.NoError(b.t, err)
	code, body, loc := b.post("/login", url.Values{"login": {login}, "password": {testPassword}, "otp": {otp}, "next": {"/admin"}})
	require.Equal(b.t, http.StatusSeeOther, code, body)
	require.Equal(b.t, "/admin", loc)
}

// upload sends a multipart form, with a file if name is given, and the
// CSRF token of the last page read unless fields has one.
func (b *browser) upload(path string, fields url.Values, name string, content []byte) (int, string, string) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if fields == nil {
		fields = url.Values{}
	}
	if _, ok := fields["csrf"]; !ok {
		fields.Set("csrf", b.csrf)
	}
	for k, vs := range fields {
		for _, v := range vs {
			require.NoError(b.t, mw.WriteField(k, v))
		}
	}
	if name != "" {
		fw, err := mw.CreateFormFile("file", name)
		require.NoError(b.t, err)
		_, err = fw.Write(content)
		require.NoError(b.t, err)
	}
	require.NoError(b.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, b.base+path, &buf)
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.read(b.hc.Do(req))
}

// adminCounty is a county with the seed catalog and units and a signed-in
// administrator.
func adminCounty(t *testing.T) (*testNode, *browser) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	secret := addAccount(t, county, "guanli", "330324", "", rules.RoleAdmin)
	require.NotEmpty(t, secret)
	b := newBrowser(t, county)
	b.loginOTP(county, "guanli", secret)
	return county, b
}

var yamlAreaRE = regexp.MustCompile(`(?s)<textarea id="yaml" name="yaml"[^>]*>(.*?)</textarea>`)

// carried is the catalog a preview page carries to its confirmation.
func carried(t *testing.T, body string) string {
	t.Helper()
	m := yamlAreaRE.FindStringSubmatch(body)
	require.NotNil(t, m, "the preview carries the file")
	return html.UnescapeString(m[1])
}

// editedCatalog is the seed catalog with 出生登记 renamed, 居民身份证换领
// (GA-002) left out and one matter added.
func editedCatalog(t *testing.T) string {
	t.Helper()
	s := string(seed.Catalog)
	i, j := strings.Index(s, "  - code: GA-002\n"), strings.Index(s, "  - code: GA-003\n")
	require.True(t, i > 0 && j > i)
	s = s[:i] + s[j:]
	s = strings.Replace(s, "    name: 出生登记\n", "    name: 出生登记（新生儿入户）\n", 1)
	return s + `  - code: MZ-099
    name: 临时救助（试点）
    aliases: [急难救助]
    department: MZ
    kind: 行政给付
    statutory_days: 10
    promised_days: 5
    visits: 1
    fee_yuan: 0
    materials:
      - name: 居民身份证
        required: true
        form: paper
`
}

// TestConsoleAdminCatalog: the administrator browses the catalog in force,
// uploads a new one, sees what it adds, changes and withdraws, and
// publishes it; a file that withdraws most of the catalog needs a tick; a
// broken or oversized file is refused next to the file field.
func TestConsoleAdminCatalog(t *testing.T) {
	county, b := adminCounty(t)
	code, body, _ := b.get("/admin")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{`href="/admin/catalog"`, `href="/admin/delegations"`, `href="/admin/accounts"`, `href="/admin/units"`, "第 1 版", `<a href="/admin">管理</a>`} {
		require.Contains(t, body, want)
	}
	code, body, _ = b.get("/admin/catalog")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"现行清单：第 1 版", "示范县政务服务事项清单（2026年版）", "县民政局（MZ）", "最低生活保障审批", "低保", `enctype="multipart/form-data"`} {
		require.Contains(t, body, want)
	}

	code, body, _ = b.upload("/admin/catalog/preview", nil, "catalog.yaml", []byte("title: [\n"))
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="file"[^>]*>\s*<p class="field-error" role="alert">`, body, "the reason next to the file field")
	code, body, _ = b.upload("/admin/catalog/preview", url.Values{"csrf": {"forged"}}, "catalog.yaml", []byte(editedCatalog(t)))
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "表单已过期或来自别处")
	code, body, _ = b.upload("/admin/catalog/preview", nil, "big.yaml", bytes.Repeat([]byte("#"), 2<<20))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "过大")

	_, _, _ = b.get("/admin/catalog")
	code, body, _ = b.upload("/admin/catalog/preview", nil, "catalog-2027.yaml", []byte(editedCatalog(t)))
	require.Equal(t, http.StatusOK, code, body)
	for _, want := range []string{"核对变化：catalog-2027.yaml", "新增 <strong>1</strong> 项，变更 <strong>1</strong> 项，撤销 <strong>1</strong> 项",
		"MZ-099 临时救助（试点）", "GA-001 出生登记（新生儿入户）", "GA-002 居民身份证换领", "确认发布"} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, `name="allow_withdraw_many"`, "one of 66: no tick needed")
	cat, err := county.Rules.Catalog()
	require.NoError(t, err)
	require.Equal(t, uint64(1), cat.GetVersion(), "a preview publishes nothing")

	code, body, loc := b.upload("/admin/catalog/publish", url.Values{"yaml": {carried(t, body)}, "file_name": {"catalog-2027.yaml"}}, "", nil)
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, "/admin/catalog?published=2", loc)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已发布事项清单第 2 版")
	require.Contains(t, body, "临时救助（试点）")
	require.NotContains(t, body, "居民身份证换领")
	m, err := county.Rules.GetMatter("MZ-099")
	require.NoError(t, err)
	require.Equal(t, []string{"急难救助"}, m.GetAliases())

	// A file that holds only three matters withdraws the rest: a tick first.
	s := editedCatalog(t)
	ms := strings.Index(s, "matters:\n")
	cut := ms
	for range 4 {
		cut += strings.Index(s[cut+1:], "\n  - code: ") + 1
	}
	part := s[:cut+1]
	code, body, _ = b.upload("/admin/catalog/preview", nil, "part.yaml", []byte(part))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `name="allow_withdraw_many"`)
	require.Contains(t, body, "超过三分之一")
	yaml := carried(t, body)
	code, body, _ = b.upload("/admin/catalog/publish", url.Values{"yaml": {yaml}}, "", nil)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `确认撤销以上 \d+ 个事项</label>\s*<p class="field-error" role="alert">这份清单将撤销现行`, body, "the reason next to the tick")
	cat, _ = county.Rules.Catalog()
	require.Equal(t, uint64(2), cat.GetVersion())
	code, _, loc = b.upload("/admin/catalog/publish", url.Values{"yaml": {yaml}, "allow_withdraw_many": {"1"}}, "", nil)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/admin/catalog?published=3", loc)
	code, body, _ = b.get("/matters")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "共 3 项")
}

// TestConsoleAdminDelegations: who decides 低保 at 城关镇 now; a grant
// typed with names (低保, 城关镇, 下放), a refusal next to its field with
// the form kept; the list with the units' names; revoking needs a reason.
func TestConsoleAdminDelegations(t *testing.T) {
	county, b := adminCounty(t)
	code, body, _ := b.get("/admin/delegations")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "没有现行的授权")

	form := url.Values{"matter": {"低保"}, "unit": {"城关镇"}, "mode": {"下放"}, "action": {"preview"}}
	code, body, _ = b.post("/admin/delegations", form)
	require.Equal(t, http.StatusOK, code, body)
	for _, want := range []string{"现在由谁决定", "最低生活保障审批（MZ-001）在 城关镇（330324101）", "<strong>示范县（330324）</strong>", "县级主管部门办理", `value="低保"`} {
		require.Contains(t, body, want)
	}

	form.Set("action", "grant")
	form.Set("unit", "城东社区")
	code, body, _ = b.post("/admin/delegations", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="unit"[^>]*value="城东社区"[^>]*>\s*<p class="field-error" role="alert">下放、委托只能给乡镇`, body, "the reason next to the unit, the input kept")
	require.Contains(t, body, `value="低保"`)
	form.Set("unit", "城关镇")
	form.Set("from", "2026-13-01")
	code, body, _ = b.post("/admin/delegations", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="from"[^>]*>\s*<p class="field-error" role="alert">.*不是 YYYY-MM-DD`, body)
	form.Del("from")
	code, body, loc := b.post("/admin/delegations", form)
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, "/admin/delegations?granted=D-000001", loc)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"已授权 D-000001", "授权后由谁决定", "<strong>城关镇（330324101）</strong>", "下放（授权 D-000001）",
		"<td>城关镇（330324101）</td>", "最低生活保障审批（MZ-001）", "<td>有效</td>", "测试guanli"} {
		require.Contains(t, body, want)
	}
	p, _, err := county.Rules.Route("MZ-001", "330324101201")
	require.NoError(t, err)
	require.Equal(t, "330324101", string(p), "a village below decides at its township now")

	code, body, _ = b.post("/admin/delegations/D-000001/revoke", url.Values{"reason": {" "}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="reason-D-000001"[^>]*>\s*<p class="field-error" role="alert">`, body, "the reason asked for next to its field")
	code, _, loc = b.post("/admin/delegations/D-000001/revoke", url.Values{"reason": {"试点结束"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已撤销 D-000001")
	require.Contains(t, body, "没有现行的授权")
	code, body, _ = b.get("/admin/delegations?all=1")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已撤销：试点结束")
	code, _, _ = b.post("/admin/delegations/D-000099/revoke", url.Values{"reason": {"无"}})
	require.Equal(t, http.StatusBadRequest, code, "an unknown delegation, said on the page")
}

// TestConsoleAdminAccounts: the accounts with units and roles in Chinese;
// adding one (a refusal next to its field, the form kept; an auditor's
// second factor shown once); disabling and enabling.
func TestConsoleAdminAccounts(t *testing.T) {
	county, b := adminCounty(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	code, body, _ := b.get("/admin/accounts")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `<td>guanli</td><td>测试guanli</td><td>示范县（330324）</td><td>管理员</td>`, body)
	require.Contains(t, body, "窗口人员")

	form := url.Values{"login": {"Zhou Qing"}, "name": {"周青"}, "unit": {"城关镇"}, "role": {"worker"}, "password": {"Chushi-kouling-1"}}
	code, body, _ = b.post("/admin/accounts", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="login"[^>]*>\s*<p class="field-error" role="alert">`, body)
	require.Contains(t, body, `value="周青"`)
	require.Contains(t, body, `value="城关镇"`)
	require.Regexp(t, `value="worker" checked`, body, "the roles ticked are kept")
	form.Set("login", "zhouqing")
	form.Del("role")
	code, body, _ = b.post("/admin/accounts", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "请至少勾选一个角色")
	form.Set("role", "worker")
	form.Set("unit", "不存在镇")
	code, body, _ = b.post("/admin/accounts", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="unit"[^>]*>\s*<p class="field-error" role="alert">`, body)
	form.Set("unit", "城关镇")
	code, body, _ = b.post("/admin/accounts", form)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "已添加账户 zhouqing")
	require.NotContains(t, body, "otpauth://", "a worker has no second factor")
	require.Regexp(t, `<td>zhouqing</td><td>周青</td><td>城关镇（330324101）</td><td>窗口人员</td><td></td>\s*<td>启用，待本人改口令</td>`, body)

	code, body, _ = b.post("/admin/accounts", url.Values{"login": {"shenji"}, "name": {"沈计"}, "unit": {"330324"},
		"role": {"auditor"}, "password": {"Chushi-kouling-1"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "动态码（只显示这一次）")
	require.Regexp(t, `id="totp-uri">otpauth://totp/`, body)
	code, body, _ = b.post("/admin/accounts", url.Values{"login": {"canlian"}, "name": {"残联审批"}, "unit": {"330324"},
		"role": {"approver"}, "department": {"县残疾人联合会"}, "password": {"Chushi-kouling-1"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Regexp(t, `<td>canlian</td><td>残联审批</td><td>示范县（330324）</td><td>审批人员</td><td>县残疾人联合会</td>`, body)

	code, _, loc := b.post("/admin/accounts/zhouqing", url.Values{"action": {"disable"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已更新账户 zhouqing")
	require.Contains(t, body, "<td>已停用，待本人改口令</td>")
	require.Contains(t, body, "启用 zhouqing")
	st, err := county.Rules.Account("zhouqing")
	require.NoError(t, err)
	require.True(t, st.Record.GetAccount().GetDisabled())
	code, _, _ = b.post("/admin/accounts/zhouqing", url.Values{"action": {"enable"}})
	require.Equal(t, http.StatusSeeOther, code)
	st, _ = county.Rules.Account("zhouqing")
	require.False(t, st.Record.GetAccount().GetDisabled())

	code, body, _ = b.post("/admin/accounts/guanli", url.Values{"action": {"disable"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "不能停用自己的账户")
	code, body, _ = b.get("/admin/accounts?unit=城关镇")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "zhouqing")
	require.NotContains(t, body, "<td>liufang</td>")
}

// TestConsoleAdminUnits: the units with their phones; one unit's phone
// set, a wrong one refused next to the field with the input kept.
func TestConsoleAdminUnits(t *testing.T) {
	county, b := adminCounty(t)
	code, body, _ := b.get("/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `class="button primary" href="/admin"`, "an administrator's home leads to 管理")
	require.NotContains(t, body, "收件受理：先找事项", "not to an acceptance it may not make")
	code, body, _ = b.get("/admin/units")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `<td>330324101</td><td>乡镇</td><td>城关镇</td><td>0570-6021001</td>`, body)
	code, body, _ = b.get("/admin/units?edit=330324101")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `id="name" name="name" value="城关镇"`, body)

	form := url.Values{"code": {"城关镇"}, "name": {"城关镇"}, "phone": {"6021"}, "address": {"城关镇府前街 12 号"}}
	code, body, _ = b.post("/admin/units", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="phone" name="phone" value="6021"[^>]*>\s*<p class="field-error" role="alert">`, body)
	form.Set("phone", "0570-6021999")
	code, _, loc := b.post("/admin/units", form)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已保存 330324101")
	require.Contains(t, body, "<td>0570-6021999</td>")
	units, err := county.Rules.Units()
	require.NoError(t, err)
	require.Equal(t, "0570-6021999", units["330324101"].GetPhone())
	require.Equal(t, "城关镇府前街 12 号", units["330324101"].GetAddress())
}

// TestConsoleAdminRefusesOthers: a worker sees no 管理 in the menu and gets
// the 403 page for every 管理 page and form; signed out, the login.
func TestConsoleAdminRefusesOthers(t *testing.T) {
	county, adm := adminCounty(t)
	_, body, _ := adm.get("/")
	require.Contains(t, body, `<a href="/admin">管理</a>`)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	w := newBrowser(t, county)
	code, _, loc := w.get("/admin/accounts")
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/login?next=%2Fadmin%2Faccounts", loc)
	w.login("liufang")
	_, body, _ = w.get("/")
	require.NotContains(t, body, `href="/admin"`, "no 管理 in a worker's menu")
	for _, p := range []string{"/admin", "/admin/catalog", "/admin/delegations", "/admin/accounts", "/admin/units"} {
		code, body, _ := w.get(p)
		require.Equal(t, http.StatusForbidden, code, p)
		require.Contains(t, body, "无法完成", p)
		require.NotContains(t, body, "guanli", p)
	}
	_, _, _ = w.get("/")
	for _, p := range []string{"/admin/delegations", "/admin/delegations/D-000001/revoke", "/admin/accounts", "/admin/accounts/guanli", "/admin/units"} {
		code, _, _ := w.post(p, url.Values{"matter": {"低保"}, "unit": {"城关镇"}, "mode": {"下放"}, "action": {"disable"},
			"login": {"x"}, "code": {"330324101"}, "name": {"改名镇"}, "reason": {"x"}})
		require.Equal(t, http.StatusForbidden, code, p)
	}
	code, _, _ = w.upload("/admin/catalog/publish", url.Values{"yaml": {string(seed.Catalog)}}, "", nil)
	require.Equal(t, http.StatusForbidden, code)
	ds, err := county.Rules.Delegations(true, "", "")
	require.NoError(t, err)
	require.Empty(t, ds)
	require.Equal(t, "城关镇", county.Rules.UnitName("330324101"))
	st, _ := county.Rules.Account("guanli")
	require.False(t, st.Record.GetAccount().GetDisabled())
}

// TestConsoleAdminEndToEnd: at the county's console the administrator
// devolves 低保 to 城关镇, gives the township a clerk and a new phone; at
// the township's own node the clerk logs in (changing the initial
// password), finds the township decides 低保 now, and the new phone.
func TestConsoleAdminEndToEnd(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	town := startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	secret := addAccount(t, county, "guanli", "330324", "", rules.RoleAdmin)
	b := newBrowser(t, county)
	b.loginOTP(county, "guanli", secret)

	_, body, _ := b.get("/admin")
	require.Contains(t, body, "管理")
	code, _, _ := b.post("/admin/delegations", url.Values{"matter": {"低保"}, "unit": {"城关镇"}, "mode": {"下放"}, "action": {"grant"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ = b.post("/admin/accounts", url.Values{"login": {"chengguan"}, "name": {"城关经办"}, "unit": {"城关镇"},
		"role": {"clerk", "worker"}, "password": {"Chushi-kouling-1"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "窗口人员、乡镇经办")
	code, _, _ = b.post("/admin/units", url.Values{"code": {"330324101"}, "name": {"城关镇"}, "phone": {"0570-6021999"}})
	require.Equal(t, http.StatusSeeOther, code)

	eventually(t, func() bool { st, err := town.Rules.Account("chengguan"); return err == nil && st != nil }, "the account reaches the township")
	eventually(t, func() bool {
		p, _, err := town.Rules.Route("MZ-001", "330324101")
		return err == nil && string(p) == "330324101"
	}, "the delegation reaches the township")
	eventually(t, func() bool { u, _ := town.Rules.Units(); return u["330324101"].GetPhone() == "0570-6021999" }, "the phone reaches the township")

	c := newBrowser(t, town)
	code, body, _ = c.post("/login", url.Values{"login": {"chengguan"}, "password": {"Chushi-kouling-1"}, "next": {"/"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "new_password")
	code, body, loc := c.post("/login", url.Values{"login": {"chengguan"}, "password": {"Chushi-kouling-1"}, "new_password": {"Chengguan-new-2"}, "next": {"/matters/MZ-001"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	code, body, _ = c.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "城关镇（330324101）（下放）", "the township decides 低保 now")
	require.NotContains(t, body, `href="/admin"`, "a clerk has no 管理")
	code, _, _ = c.get("/admin")
	require.Equal(t, http.StatusForbidden, code)
}
