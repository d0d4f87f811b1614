package node

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// TestConsoleMenusClasses: the administrator sets a township class typed
// with names (青山乡; 老年证、救助, 宅基地), a wrong township or matter
// refused next to its field naming the item, the form kept; the classes
// and every township's order by name; editing fills the form.
func TestConsoleMenusClasses(t *testing.T) {
	county, b := adminCounty(t)
	code, body, _ := b.get("/admin")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `href="/admin/menus"`)
	require.Contains(t, body, `href="/admin/negative"`)
	code, body, _ = b.get("/admin/menus")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "尚未设定任何分类")
	require.Regexp(t, `尚未归类的乡镇：城关镇（330324101）、青山乡（330324102）`, body)

	form := url.Values{"code": {"mountain"}, "name": {"山区型"}, "townships": {"青山乡\n城东社区"}, "menu": {"老年证、救助，宅基地"}}
	code, body, _ = b.post("/admin/menus", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `(?s)id="townships"[^>]*>青山乡\n城东社区</textarea>\s*<p class="field-error" role="alert">第 2 项「城东社区」：330324101201 不是本县的乡镇`, body,
		"the township refused next to its field, named, the input kept")
	require.Contains(t, body, `value="山区型"`)
	form.Set("townships", "青山乡")
	form.Set("menu", "老年证\n不存在的事项")
	code, body, _ = b.post("/admin/menus", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="menu"[^>]*>老年证\n不存在的事项</textarea>\s*<p class="field-error" role="alert">[^<]*不存在的事项`, body)
	form.Set("code", "Mountain Area")
	form.Set("menu", "老年证")
	code, body, _ = b.post("/admin/menus", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="code"[^>]*>\s*<p class="field-error" role="alert">`, body)
	form.Set("code", "mountain")
	form.Set("menu", "老年证、救助，宅基地")
	code, body, loc := b.post("/admin/menus", form)
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, "/admin/menus?saved=mountain", loc)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"已保存分类 mountain", "<td>mountain</td><td>山区型</td><td>青山乡（330324102）</td>",
		"老年人优待证办理（MZ-005）、临时救助（MZ-004）、农村宅基地申请审批（NY-001）", "<td>青山乡（330324102）</td><td>山区型</td>", "尚未点单"} {
		require.Contains(t, body, want)
	}
	require.Regexp(t, `尚未归类的乡镇：城关镇（330324101）。`, body)
	res, err := county.Rules.Classes()
	require.NoError(t, err)
	require.Len(t, res.GetClasses(), 1)
	require.Equal(t, []string{"MZ-005", "MZ-004", "NY-001"}, res.GetClasses()[0].GetMenu())
	require.Equal(t, []string{"330324102"}, res.GetClasses()[0].GetTownships())

	// Another class may not take 青山乡.
	code, body, _ = b.post("/admin/menus", url.Values{"code": {"riverside"}, "name": {"沿江型"}, "townships": {"城关镇, 青山乡"}, "menu": {"低保"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="townships"[^>]*>[^<]*</textarea>\s*<p class="field-error" role="alert">[^<]*已属于分类 mountain`, body)

	code, body, _ = b.get("/admin/menus?edit=mountain")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "修改分类 mountain")
	require.Regexp(t, `id="townships"[^>]*>青山乡</textarea>`, body)
	require.Regexp(t, `id="menu"[^>]*>老年人优待证办理\n临时救助\n农村宅基地申请审批</textarea>`, body)
}

// TestConsoleMenusNegativeList: the negative list replaced with lines
// 事项:村 / 事项：乡镇 (names, aliases or codes); a wrong tier, an unknown
// matter, a line without a colon or a repeated line refused naming the
// line, the text kept; the list shown with the tiers in Chinese.
func TestConsoleMenusNegativeList(t *testing.T) {
	county, b := adminCounty(t)
	code, body, _ := b.get("/admin/negative")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "负面清单是空的")

	for _, bad := range []struct{ text, want string }{
		{"老年证:村\n低保:县", `第 2 行「低保:县」：层级「县」应为 村 或 乡镇`},
		{"老年证:村\n\n不存在的事项:乡镇", `第 3 行「不存在的事项:乡镇」：`},
		{"老年证 村", `第 1 行「老年证 村」：请写成 事项:村 或 事项:乡镇`},
		{"老年证:村\nMZ-005：村（社区）", `第 2 行「MZ-005：村（社区）」：与前面的一行重复`},
	} {
		code, body, _ = b.post("/admin/negative", url.Values{"entries": {bad.text}})
		require.Equal(t, http.StatusBadRequest, code, bad.text)
		require.Regexp(t, `id="entries"[^>]*>`+regexp.QuoteMeta(bad.text)+`</textarea>\s*<p class="field-error" role="alert">`+regexp.QuoteMeta(bad.want), body, bad.text)
	}
	l, err := county.Rules.NegativeList()
	require.NoError(t, err)
	require.Empty(t, l.GetEntries())

	code, body, loc := b.post("/admin/negative", url.Values{"entries": {"老年证:村\nMZ-004：乡镇\n宅基地：村"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"已保存负面清单（第 1 版）", "<td>老年人优待证办理（MZ-005）</td><td>村（社区）</td>", "<td>临时救助（MZ-004）</td><td>乡镇</td>",
		"<td>农村宅基地申请审批（NY-001）</td><td>村（社区）</td>"} {
		require.Contains(t, body, want)
	}
	require.Regexp(t, `id="entries"[^>]*>老年人优待证办理:村\n临时救助:乡镇\n农村宅基地申请审批:村</textarea>`, body, "the list in force, to edit")
	l, err = county.Rules.NegativeList()
	require.NoError(t, err)
	require.Len(t, l.GetEntries(), 3)
	require.Equal(t, "village", l.GetEntries()[0].GetTier())
	require.Equal(t, "township", l.GetEntries()[1].GetTier())

	code, _, _ = b.post("/admin/negative", url.Values{"entries": {""}})
	require.Equal(t, http.StatusSeeOther, code)
	l, _ = county.Rules.NegativeList()
	require.Empty(t, l.GetEntries(), "emptied")
}

// TestConsoleMenusRefusesOthers: a worker or a clerk gets the 403 page for
// the classes, the negative list and an account's page and forms; a worker
// may not order either; nothing changes.
func TestConsoleMenusRefusesOthers(t *testing.T) {
	county, _ := adminCounty(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	addAccount(t, county, "jingban", "330324", "", rules.RoleClerk)
	for _, login := range []string{"liufang", "jingban"} {
		w := newBrowser(t, county)
		w.login(login)
		for _, p := range []string{"/admin/menus", "/admin/negative", "/admin/accounts/guanli"} {
			code, body, _ := w.get(p)
			require.Equal(t, http.StatusForbidden, code, login+" "+p)
			require.Contains(t, body, "无法完成", p)
		}
		_, _, _ = w.get("/")
		for _, p := range []string{"/admin/menus", "/admin/negative", "/admin/accounts/guanli/password", "/admin/accounts/guanli/roles", "/admin/accounts/guanli/totp"} {
			code, _, _ := w.post(p, url.Values{"code": {"mountain"}, "name": {"山区型"}, "townships": {"青山乡"}, "menu": {"低保"},
				"entries": {"低保:村"}, "password": {"Xin-kouling-2026"}, "role": {"worker"}})
			require.Equal(t, http.StatusForbidden, code, login+" "+p)
		}
	}
	w := newBrowser(t, county)
	w.login("liufang")
	code, _, _ := w.get("/menus")
	require.Equal(t, http.StatusForbidden, code, "a worker does not order")
	res, err := county.Rules.Classes()
	require.NoError(t, err)
	require.Empty(t, res.GetClasses())
	l, _ := county.Rules.NegativeList()
	require.Empty(t, l.GetEntries())
	st, _ := county.Rules.Account("guanli")
	require.False(t, st.Record.GetAccount().GetMustChangePassword())
}

// TestConsoleMenusOrderAtTownship: the administrator puts 城关镇 in a
// class; at the township's own node its clerk ticks matters of the menu
// and submits, a matter off the menu refused next to the list; the order
// reaches the county, whose 管理 page shows it; at the county /menus says
// orders are placed at a township.
func TestConsoleMenusOrderAtTownship(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	town := startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	secret := addAccount(t, county, "guanli", "330324", "", rules.RoleAdmin)
	addAccount(t, county, "chengguan", "330324101", "", rules.RoleClerk)
	addAccount(t, county, "chuangkou", "330324101", "", rules.RoleWorker)
	b := newBrowser(t, county)
	b.loginOTP(county, "guanli", secret)
	code, body, _ := b.get("/menus")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "本节点是县单位，不能在这里点单")

	c := newBrowser(t, town)
	eventually(t, func() bool { st, err := town.Rules.Account("chengguan"); return err == nil && st != nil }, "the clerk reaches the township")
	c.login("chengguan")
	code, body, _ = c.get("/menus")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "尚未把 城关镇（330324101） 归入任何分类")

	_, _, _ = b.get("/admin/menus")
	code, _, _ = b.post("/admin/menus", url.Values{"code": {"riverside"}, "name": {"沿江型"}, "townships": {"城关镇"}, "menu": {"老年证、救助、宅基地"}})
	require.Equal(t, http.StatusSeeOther, code)
	eventually(t, func() bool { r, _ := town.Rules.Classes(); return len(r.GetClasses()) == 1 }, "the class reaches the township")

	code, body, _ = c.get("/menus")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"属于「沿江型」类乡镇", `value="MZ-005" >`, "老年人优待证办理（MZ-005）", "临时救助（MZ-004）", "农村宅基地申请审批（NY-001）", "尚未点单"} {
		require.Contains(t, body, want)
	}
	code, body, _ = c.post("/menus", url.Values{"matter": {"MZ-005", "GA-001"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `<p class="field-error" role="alert">事项 &#34;GA-001&#34; 不在「沿江型」类乡镇的菜单中`, body)
	require.Contains(t, body, `value="MZ-005" checked`, "the ticks kept")
	code, body, loc := c.post("/menus", url.Values{"matter": {"MZ-005", "NY-001"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	code, body, _ = c.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已提交点单（第 1 版）")
	require.Contains(t, body, "老年人优待证办理（MZ-005）、农村宅基地申请审批（NY-001）")
	require.Contains(t, body, `value="NY-001" checked`)
	require.Contains(t, body, `value="MZ-004" >`)

	eventually(t, func() bool {
		r, _ := county.Rules.Classes()
		return len(r.GetOrders()) == 1 && len(r.GetOrders()[0].GetMatters()) == 2
	}, "the order reaches the county")
	code, body, _ = b.get("/admin/menus")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `<td>城关镇（330324101）</td><td>沿江型</td>\s*<td>老年人优待证办理（MZ-005）、农村宅基地申请审批（NY-001）</td><td>第 1 版，测试chengguan`, body)

	w := newBrowser(t, town)
	w.login("chuangkou")
	code, _, _ = w.get("/menus")
	require.Equal(t, http.StatusForbidden, code, "a window worker does not order")
}

// TestConsoleAdminAccountResets: on an account's page the administrator
// resets its password (a weak one refused next to the field; the owner
// must change it at the next login), sets its roles and department (an
// approver without a department refused next to it; an auditor's new
// 动态码 shown once), and resets an administrator's 动态码.
func TestConsoleAdminAccountResets(t *testing.T) {
	county, b := adminCounty(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	code, body, _ := b.get("/admin/accounts")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `href="/admin/accounts/liufang"`)
	code, body, _ = b.get("/admin/accounts/liufang")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"账户 liufang（测试liufang）", "<td>窗口人员</td>", `value="worker" checked`, "重置口令", "角色与部门"} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "重置 liufang 的动态码", "a worker has no second factor")
	code, _, _ = b.get("/admin/accounts/nobody")
	require.Equal(t, http.StatusNotFound, code)

	code, body, _ = b.post("/admin/accounts/liufang/password", url.Values{"password": {"123"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="password"[^>]*>\s*<p class="field-error" role="alert">`, body)
	code, body, loc := b.post("/admin/accounts/liufang/password", url.Values{"password": {"Xin-kouling-2026"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, "/admin/accounts/liufang?done=password", loc)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已重置 liufang 的口令")
	require.Contains(t, body, "待本人改口令")
	_, err := loginAt(county, "liufang", testPassword, "")
	require.Error(t, err, "the old password no longer works")
	_, err = loginAt(county, "liufang", "Xin-kouling-2026", "")
	require.Error(t, err, "the new one must be changed first")
	st, _ := county.Rules.Account("liufang")
	require.True(t, st.Record.GetAccount().GetMustChangePassword())

	code, body, _ = b.post("/admin/accounts/liufang/roles", url.Values{"role": {"worker", "approver"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `(?s)id="department".*</select>\s*<p class="field-error" role="alert">审批人员须指定所属部门`, body)
	require.Contains(t, body, `value="approver" checked`, "the ticks kept")
	code, body, _ = b.post("/admin/accounts/liufang/roles", url.Values{})
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `请至少勾选一个角色</p>\s*</fieldset>`, body)
	code, body, loc = b.post("/admin/accounts/liufang/roles", url.Values{"role": {"worker", "approver"}, "department": {"县残疾人联合会"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	code, body, _ = b.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已更新 liufang 的角色与部门")
	require.Contains(t, body, "<td>窗口人员、审批人员</td>")
	require.Contains(t, body, "<td>县残疾人联合会</td>")
	st, _ = county.Rules.Account("liufang")
	require.Equal(t, "CL", st.Record.GetAccount().GetDepartment())

	code, body, _ = b.post("/admin/accounts/liufang/roles", url.Values{"role": {"auditor"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "动态码（只显示这一次）")
	require.Regexp(t, `id="totp-uri">otpauth://totp/`, body)
	require.Contains(t, body, "<td>审计员</td>")

	addAccount(t, county, "guanli2", "330324", "", rules.RoleAdmin)
	code, body, _ = b.get("/admin/accounts/guanli2")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "重置 guanli2 的动态码")
	before, _ := county.Rules.Account("guanli2")
	code, body, _ = b.post("/admin/accounts/guanli2/totp", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "已重置 guanli2 的动态码")
	require.Regexp(t, `id="totp-uri">otpauth://totp/[^<]*guanli2`, body)
	after, _ := county.Rules.Account("guanli2")
	require.NotEqual(t, before.Record.GetTotpSecret(), after.Record.GetTotpSecret())
	code, body, _ = b.get("/admin/accounts/guanli2")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "otpauth://", "shown once")
}
