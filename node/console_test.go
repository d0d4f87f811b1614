package node

import (
	"bytes"
	"compress/gzip"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// browser is a person at the console: a cookie jar, no redirects followed
// unless asked, and the CSRF token of the last page it read.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func newBrowser(t *testing.T, n *testNode) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Transport: n.hc.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, base: n.URL(), hc: hc}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) read(res *http.Response, err error) (int, string, string) {
	b.t.Helper()
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return res.StatusCode, string(body), res.Header.Get("Location")
}

func (b *browser) get(path string) (int, string, string) {
	b.t.Helper()
	return b.read(b.hc.Get(b.base + path))
}

// post submits a form with the CSRF token of the last page read.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	return b.read(b.hc.PostForm(b.base+path, form))
}

func (b *browser) login(login string) {
	b.t.Helper()
	code, body, loc := b.post("/login", url.Values{"login": {login}, "password": {testPassword}, "next": {"/"}})
	require.Equal(b.t, http.StatusSeeOther, code, body)
	require.Equal(b.t, "/", loc)
}

// TestConsoleTakesAnApplicationThrough: at the console a worker finds a
// matter by pinyin, accepts it with a 容缺 material (a wrong identity
// number refused next to its field, the form kept), prints the receipt and
// finds it on the to-do list; the department's approver decides it; the
// worker hands it out and the applicant rates it.
func TestConsoleTakesAnApplicationThrough(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	addAccount(t, county, "canlian", "330324", "CL", rules.RoleApprover)

	w := newBrowser(t, county)
	code, _, loc := w.get("/apps?mine=1")
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/login?next=%2Fapps%3Fmine%3D1", loc, "signed out: to the login, and back after")
	code, body, _ := w.post("/login", url.Values{"login": {"liufang"}, "password": {"wrong-Pass-1"}})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, `value="liufang"`, "the login is kept")
	require.Contains(t, body, "账户或口令不对")
	w.login("liufang")

	code, body, _ = w.get("/")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"示范县（330324）", "测试liufang（liufang）", "窗口人员", "县级节点", "待办理", "收件受理：先找事项"} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, `href="/admin"`, "no 管理 for a worker")
	code, body, _ = w.get("/matters?q=cjrz")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "残疾人证核发（新办）", "found by pinyin initials")
	code, body, _ = w.get("/matters/CL-001")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "示范县（330324）（县级主管部门）", "who decides it")
	code, body, _ = w.get("/accept?matter=残疾证")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, strings.Count(body, `name="missing"`), "a 容缺 toggle only where the catalog allows one")

	form := url.Values{"matter": {"CL-001"}, "applicant_name": {"冯志明"}, "id_number": {rules.MakeIDNumber("33032419801010335")[:17] + "0"},
		"phone": {"13857704444"}, "material": {"残疾人证申请表", "居民身份证", "居民户口簿", "近期二寸免冠彩色照片", "残疾评定表"},
		"missing": {"残疾评定表"}}
	code, body, _ = w.post("/accept", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="id_number"[^>]*value="330324198010103350"`, body, "the number typed is kept")
	require.Contains(t, body, "校验位错误", "the reason next to the field")
	require.Contains(t, body, `value="冯志明"`)

	form.Set("id_number", rules.MakeIDNumber("33032419801010335"))
	code, _, loc = w.post("/accept", form)
	require.Equal(t, http.StatusSeeOther, code)
	require.True(t, strings.HasSuffix(loc, "/receipt"), loc)
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "/apps/"), "/receipt")
	code, body, _ = w.get(loc)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{id, "残疾人证核发（新办）", rules.MaskIDNumber(rules.MakeIDNumber("33032419801010335")), "容缺材料", "残疾评定表", "0570-6012345", "测试liufang"} {
		require.Contains(t, body, want, "the receipt")
	}
	require.NotContains(t, body, rules.MakeIDNumber("33032419801010335"), "the number is masked")
	check, err := county.Rules.CheckCode(id)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9A-F]{4}-[0-9A-F]{4}$`, check)
	require.Contains(t, body, `<span id="check-code">`+check+`</span>`)
	require.Contains(t, body, `<svg class="qr"`, "the QR code, drawn on the server")
	code, body, _ = w.get("/apps?mine=1")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, id)
	code, body, _ = w.get("/apps/" + id + "/notice/supplement")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "补正材料通知书")
	require.Contains(t, body, "残疾评定表")
	code, _, _ = w.get("/apps/" + id + "/notice/result")
	require.Equal(t, http.StatusBadRequest, code, "not decided yet")

	// A worker does not decide.
	code, body, _ = w.post("/apps/"+id+"/decide", url.Values{"action": {"approve"}})
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "需要")

	code, body, _ = w.get("/apps/" + id)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "补交材料")
	code, _, _ = w.post("/apps/"+id+"/supply", url.Values{"material": {"残疾评定表"}})
	require.Equal(t, http.StatusSeeOther, code)

	a := newBrowser(t, county)
	a.login("canlian")
	code, body, _ = a.get("/apps/" + id)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "准予")
	code, body, _ = a.post("/apps/"+id+"/decide", url.Values{"action": {"approve"}, "reason": {"符合条件"}})
	require.Equal(t, http.StatusSeeOther, code, body)

	code, body, _ = w.get("/apps/" + id)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "已办结（准予）")
	require.Contains(t, body, "出件")
	code, body, _ = w.get("/apps/" + id + "/notice/result")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "办理结果领取通知")
	require.Contains(t, body, "准予（符合条件）")
	code, _, _ = w.post("/apps/"+id+"/deliver", url.Values{"method": {"window"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ = w.get("/apps/" + id + "/rate")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "非常满意")
	code, body, _ = w.post("/apps/"+id+"/rate", url.Values{"score": {"2"}})
	require.Equal(t, http.StatusBadRequest, code, "a low rating needs a comment")
	require.Contains(t, body, "comment")
	code, body, _ = w.post("/apps/"+id+"/rate", url.Values{"score": {"5"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "谢谢您的评价")
	x := appOn(county, id)
	require.Equal(t, rules.StateRated, x.GetState())
}

// TestConsoleRefusesForgedForms: a form without the session's token, or
// from another site, changes nothing; a role reaches only its own pages.
func TestConsoleRefusesForgedForms(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	w := newBrowser(t, county)
	w.login("liufang")
	form := url.Values{"matter": {"MZ-005"}, "applicant_name": {"王秀英"}, "id_number": {idWang},
		"material": {"居民身份证", "近期一寸免冠证件照"}}

	forged := url.Values{}
	for k, v := range form {
		forged[k] = v
	}
	forged.Set("csrf", "forged")
	code, body, loc := w.post("/accept", forged)
	require.Equal(t, http.StatusForbidden, code, loc)
	require.Contains(t, body, "表单已过期或来自别处")

	_, _, _ = w.get("/accept?matter=MZ-005")
	form.Set("csrf", w.csrf)
	req, err := http.NewRequest(http.MethodPost, county.URL()+"/accept", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	code, _, _ = w.read(w.hc.Do(req))
	require.Equal(t, http.StatusForbidden, code, "another site's form")
	as, _, err := county.Rules.ListApplications(rules.AppFilter{})
	require.NoError(t, err)
	require.Empty(t, as, "nothing was accepted")

	addAccount(t, county, "auditor2", "330324", "", rules.RoleAuditor)
	code, body, _ = w.get("/apps?mine=1")
	require.Equal(t, http.StatusOK, code, body)
	adm := newBrowser(t, county)
	code, _, _ = adm.post("/login", url.Values{"login": {"auditor2"}, "password": {testPassword}})
	require.Equal(t, http.StatusBadRequest, code, "an auditor needs the second factor")
}

// TestConsoleFiguresAndLinks: the figures with their charts and the CSV a
// spreadsheet opens; a parent's page of its children; pages go gzipped.
func TestConsoleFiguresAndLinks(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	county.accept(t, acceptReq())
	w := newBrowser(t, county)
	w.login("liufang")

	code, body, _ := w.get("/stats?unit=城关镇")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "城关镇（330324101）及下辖")
	code, body, _ = w.get("/stats")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<svg", "charts drawn on the server")
	require.Contains(t, body, "按时办结率")
	require.Regexp(t, `受理</dt><dd>1 件`, body)
	code, body, _ = w.get("/stats?unit=青山")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "对应多个单位", "next to the field")
	res, err := w.hc.Get(county.URL() + "/stats.csv")
	require.NoError(t, err)
	csvBody, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(string(csvBody), "\uFEFF指标,值"), "%q", csvBody[:min(len(csvBody), 40)])
	require.Contains(t, string(csvBody), "受理,1")

	eventually(t, func() bool {
		_, body, _ := w.get("/links")
		return strings.Contains(body, "城关镇（330324101）") && strings.Contains(body, "在线")
	}, "the township on the county's link page")

	req, err := http.NewRequest(http.MethodGet, county.URL()+"/matters", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err = w.hc.Do(req)
	require.NoError(t, err)
	zipped, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	require.NoError(t, err)
	page, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Contains(t, string(page), "最低生活保障审批")
	t.Logf("事项检索: %d bytes, %d gzipped", len(page), len(zipped))
	require.Less(t, len(zipped)*3, len(page), "compressed")
}

// TestConsoleListPages: a long list comes a page at a time, newest first
// or the one due first on top, and the pager walks it.
func TestConsoleListPages(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	var ids []string
	for range 5 {
		ids = append(ids, county.accept(t, acceptReq()).GetId())
		county.clock.Set(county.clock.Now().Add(10 * time.Minute))
	}
	w := newBrowser(t, county)
	w.login("liufang")
	code, body, _ := w.get("/apps?limit=2")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "共 5 件，第 1–2 件，最新受理的在前")
	require.Contains(t, body, ids[4])
	require.NotContains(t, body, ids[2])
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
	require.NotNil(t, next, "a next page")
	code, body, _ = w.get(html.UnescapeString(next[1]))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "第 3–4 件")
	require.Contains(t, body, ids[2])
	require.Contains(t, body, `rel="prev"`)
	code, body, _ = w.get("/apps?limit=2&offset=4")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "第 5–5 件")
	require.Contains(t, body, ids[0])
	require.NotContains(t, body, `rel="next"`, "the last page")
	code, body, _ = w.get("/apps?limit=2&order=due")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "最早到期的在前")
	require.Contains(t, body, ids[0], "accepted first, due first")
}

// TestConsoleRevealsOnlyToAnAuditor: the full identity number is shown to
// an auditor who gives a reason, and the reveal is in the history; a
// worker is refused.
func TestConsoleRevealsOnlyToAnAuditor(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	secret := addAccount(t, county, "shenji", "330324", "", rules.RoleAuditor)
	id := county.accept(t, acceptReq()).GetId()

	w := newBrowser(t, county)
	w.login("liufang")
	code, body, _ := w.get("/apps/" + id)
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "/reveal", "no form for a worker")
	code, _, _ = w.post("/apps/"+id+"/reveal", url.Values{"reason": {"好奇"}})
	require.Equal(t, http.StatusForbidden, code)

	a := newBrowser(t, county)
	otp, err := auth.TOTPCode(secret, county.clock.Now())
	require.NoError(t, err)
	code, body, _ = a.post("/login", url.Values{"login": {"shenji"}, "password": {testPassword}, "otp": {otp}, "next": {"/apps/" + id}})
	require.Equal(t, http.StatusSeeOther, code, body)
	code, body, _ = a.get("/apps/" + id)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, rules.MaskIDNumber(idWang))
	require.NotContains(t, body, idWang)
	code, _, _ = a.post("/apps/"+id+"/reveal", url.Values{"reason": {""}})
	require.Equal(t, http.StatusBadRequest, code, "a reason is required")
	code, body, _ = a.post("/apps/"+id+"/reveal", url.Values{"reason": {"核对身份"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `<span id="id-number">`+idWang+`</span>`)
	require.Contains(t, body, "查看完整身份证号（核对身份）", "the reveal is in the history")
}
