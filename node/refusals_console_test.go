package node

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// TestRefusalAtTheConsole: from the matter's guide and the acceptance form
// a worker reaches 不予受理; a form without a reason, or with a wrong
// identity number, comes back with the error next to its field and the
// input kept; a forged form is refused; the refusal leads to its printable
// notice, is on the list and in the figures. An approver sees the list but
// not the form.
func TestRefusalAtTheConsole(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	county.importUnits(t)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	addAccount(t, county, "canlian", "330324", "CL", rules.RoleApprover)
	w := newBrowser(t, county)
	w.login("liufang")

	code, body, _ := w.get("/matters/MZ-005")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `href="/refuse?matter=MZ-005"`, "from the guide")
	code, body, _ = w.get("/accept?matter=MZ-005")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `href="/refuse?matter=MZ-005"`, "from the acceptance form")
	code, _, loc := w.get("/refuse")
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/matters", loc, "no matter: find one first")
	code, body, _ = w.get("/refuse?matter=老年证")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "不予受理：老年人优待证办理")
	require.Contains(t, body, `name="csrf"`)

	idLi := rules.MakeIDNumber("33032419660405301")
	form := url.Values{"matter": {"MZ-005"}, "applicant_name": {"李建国"}, "id_number": {idLi}, "reason": {"  "}}
	code, body, _ = w.post("/refuse", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="reason"[^>]*>\s*</textarea>\s*<p class="field-error" role="alert">不予受理须写明理由`, body, "the error next to the field")
	require.Contains(t, body, `value="李建国"`, "the input kept")

	const reason = "申请人未满六十周岁，不符合老年人优待证办理条件"
	form.Set("reason", reason)
	form.Set("id_number", idLi[:17]+"0")
	code, body, _ = w.post("/refuse", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Regexp(t, `id="id_number"[^>]*value="`+idLi[:17]+`0"`, body, "the number typed is kept")
	require.Regexp(t, `id_number_hint"[^>]*></p>\s*<p class="field-error" role="alert">[^<]*校验位错误`, body)
	require.Contains(t, body, reason, "the reason kept")

	form.Set("id_number", idLi)
	forged := url.Values{}
	for k, v := range form {
		forged[k] = v
	}
	forged.Set("csrf", "forged")
	code, _, _ = w.post("/refuse", forged)
	require.Equal(t, http.StatusForbidden, code, "a forged form")
	rs, _, err := county.Rules.Refusals(rules.RefusalFilter{})
	require.NoError(t, err)
	require.Empty(t, rs, "nothing recorded by a refused form")

	_, _, _ = w.get("/refuse?matter=MZ-005")
	code, _, loc = w.post("/refuse", form)
	require.Equal(t, http.StatusSeeOther, code)
	require.Regexp(t, `^/refusals/330324-\d{8}-000001$`, loc)
	id := strings.TrimPrefix(loc, "/refusals/")
	code, body, _ = w.get(loc)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"不予受理告知书", `class="print-page a4"`, `class="print primary"`, id, "李建国",
		rules.MaskIDNumber(idLi), "老年人优待证办理", reason, "测试liufang", "行政复议"} {
		require.Contains(t, body, want, "the notice")
	}
	require.NotContains(t, body, idLi, "the number is masked")

	code, body, _ = w.get("/refusals")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `href="/refusals/`+id+`"`)
	require.Contains(t, body, "共 1 件")
	code, body, _ = w.get("/refusals?from=2026-13-01")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `id="from"[^>]*>\s*<p class="field-error"`, body, "next to the field")
	code, body, _ = w.get("/refusals/330324-20261123-000099")
	require.Equal(t, http.StatusNotFound, code, body)

	code, body, _ = w.get("/stats")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `不予受理</dt><dd>1 件`, body)
	require.Regexp(t, `受理</dt><dd>0 件`, body, "not among the accepted")

	// An approver reads the list and the notice, but has no form.
	a := newBrowser(t, county)
	a.login("canlian")
	code, body, _ = a.get("/refuse?matter=MZ-005")
	require.Equal(t, http.StatusForbidden, code)
	require.Regexp(t, regexp.MustCompile(`需要窗口人员或.*角色`), body)
	code, _, _ = a.get(loc)
	require.Equal(t, http.StatusOK, code)
	code, body, _ = a.get("/matters/MZ-005")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, `href="/refuse?`, "no link to a form it may not use")
}
