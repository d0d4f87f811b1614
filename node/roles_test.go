package node

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// as is n's services called with a token of its own, not n's signed-in
// operator.
type as struct {
	apps  jiujinv1connect.ApplicationServiceClient
	accts jiujinv1connect.AccountServiceClient
	cat   jiujinv1connect.CatalogServiceClient
}

func callAs(n *testNode, token string) as {
	bearer := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}))
	return as{apps: jiujinv1connect.NewApplicationServiceClient(n.hc, n.URL(), bearer),
		accts: jiujinv1connect.NewAccountServiceClient(n.hc, n.URL(), bearer),
		cat:   jiujinv1connect.NewCatalogServiceClient(n.hc, n.URL(), bearer)}
}

// tokenOf makes an account at county's unit and logs it in there.
func tokenOf(t *testing.T, county *testNode, login, department string, roles ...string) string {
	t.Helper()
	secret := addAccount(t, county, login, "330324", department, roles...)
	res, err := loginAt(county, login, testPassword, secret)
	require.NoError(t, err)
	return res.GetToken()
}

// TestWhatEachRoleMayDo: the procedure table, an approver's department, a
// reveal's auditor and reason, and the operator recorded on each event.
func TestWhatEachRoleMayDo(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	county.importSeed(t)
	ctx := context.Background()

	worker := callAs(county, tokenOf(t, county, "window", "", rules.RoleWorker))
	res, err := worker.apps.AcceptApplication(ctx, connect.NewRequest(acceptReq()))
	require.NoError(t, err)
	app := res.Msg.GetApplication()
	require.Equal(t, "测试window", app.GetAcceptedBy(), "the actor is the operator, not a name the client sends")
	decide := connect.NewRequest(&pb.DecideApplicationRequest{Id: app.GetId(), Approve: true, Reason: "符合条件"})

	_, err = worker.apps.DecideApplication(ctx, decide)
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "a worker decides: %v", err)

	police := callAs(county, tokenOf(t, county, "ga.liming", "GA", rules.RoleApprover))
	_, err = police.apps.DecideApplication(ctx, decide)
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an approver of another department: %v", err)
	require.Contains(t, err.Error(), "MZ")
	_, err = police.cat.ImportCatalog(ctx, connect.NewRequest(seedCatalog(t)))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an approver imports the catalog: %v", err)

	civil := callAs(county, tokenOf(t, county, "mz.zhouhong", "MZ", rules.RoleApprover))
	out, err := civil.apps.DecideApplication(ctx, decide)
	require.NoError(t, err)
	require.Equal(t, rules.StateApproved, out.Msg.GetApplication().GetState())

	// Reveals: the auditor alone, and only with a reason.
	county.clock.Set(county.clock.Now().Add(time.Minute)) // a fresh TOTP step for the admin
	admin := callAs(county, tokenOf(t, county, "admin2", "", rules.RoleAdmin))
	reveal := connect.NewRequest(&pb.GetApplicationRequest{Id: app.GetId(), Reveal: true, RevealReason: "核对身份"})
	_, err = admin.apps.GetApplication(ctx, reveal)
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an admin reveals: %v", err)
	_, err = civil.apps.GetApplication(ctx, reveal)
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an approver reveals: %v", err)
	county.clock.Set(county.clock.Now().Add(time.Minute))
	auditor := callAs(county, tokenOf(t, county, "audit", "", rules.RoleAuditor))
	_, err = auditor.apps.GetApplication(ctx, connect.NewRequest(&pb.GetApplicationRequest{Id: app.GetId(), Reveal: true}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "a reveal without a reason: %v", err)
	got, err := auditor.apps.GetApplication(ctx, reveal)
	require.NoError(t, err)
	require.Equal(t, acceptReq().GetApplicant().GetIdNumber(), got.Msg.GetApplication().GetApplicant().GetIdNumber())

	// The audit trail names who did what, from where; only auditors read it.
	_, err = admin.accts.ListAudit(ctx, connect.NewRequest(&pb.ListAuditRequest{}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "%v", err)
	trail, err := auditor.accts.ListAudit(ctx, connect.NewRequest(&pb.ListAuditRequest{Login: "audit"}))
	require.NoError(t, err)
	var kinds []string
	for _, it := range trail.Msg.GetItems() {
		kinds = append(kinds, it.GetKind())
		if it.GetActorLogin() == "audit" {
			require.Equal(t, "测试audit", it.GetActor())
			require.Contains(t, it.GetSource(), "127.0.0.1")
		}
	}
	require.Contains(t, kinds, rules.KindSignIn)
	require.Contains(t, kinds, rules.KindAuditIdentityRevealed)

	// No session, an unknown one, or one after logout: Unauthenticated.
	for name, c := range map[string]as{"none": callAs(county, ""), "forged": callAs(county, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")} {
		_, err = c.apps.ListApplications(ctx, connect.NewRequest(&pb.ListApplicationsRequest{}))
		require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%s: %v", name, err)
	}
	_, err = worker.accts.Logout(ctx, connect.NewRequest(&pb.LogoutRequest{}))
	require.NoError(t, err)
	_, err = worker.apps.ListApplications(ctx, connect.NewRequest(&pb.ListApplicationsRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "after logout: %v", err)
}

// TestAccountsAtTheVillage: a village logs its worker in with its link
// down; a worker disabled at the county loses the session and the login
// once the event arrives.
func TestAccountsAtTheVillage(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	town := startTLSNode(t, "330324101", issueBundle(t, ca, "330324101", auth.RoleNode), []string{county.URL()}, nil)
	village := startTLSNode(t, "330324101201", issueBundle(t, ca, "330324101201", auth.RoleNode), []string{town.URL()}, nil)
	county.importSeed(t)
	ctx := context.Background()

	village.signIn(t, county, "zhangli", rules.RoleWorker)
	addAccount(t, county, "wangfang", "330324101201", "", rules.RoleWorker)
	require.Eventually(t, func() bool {
		_, err := village.Rules.Account("wangfang")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)

	// A county account is not even held at the village.
	_, err := loginAt(village, "tester", testPassword, "")
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)

	// The link is cut: the township is gone. The village still logs in
	// and accepts.
	require.NoError(t, town.Shutdown(ctx))
	res, err := loginAt(village, "wangfang", testPassword, "")
	require.NoError(t, err)
	wang := callAs(village, res.GetToken())
	_, err = wang.apps.AcceptApplication(ctx, connect.NewRequest(acceptReq()))
	require.NoError(t, err)

	// Disabled at the county: the event reaches a (new) township and the
	// village; the session ends and no login is taken.
	county.clock.Set(county.clock.Now().Add(time.Minute))
	admin := callAs(county, tokenOf(t, county, "admin", "", rules.RoleAdmin))
	off := true
	_, err = admin.accts.UpdateAccount(ctx, connect.NewRequest(&pb.UpdateAccountRequest{Login: "wangfang", Disabled: &off}))
	require.NoError(t, err)
	_, err = wang.apps.ListApplications(ctx, connect.NewRequest(&pb.ListApplicationsRequest{}))
	require.NoError(t, err, "the event has not arrived: the village does not know yet")

	// The township comes back where it was; the village's link resumes.
	restartTLSNode(t, town)
	require.Eventually(t, func() bool {
		st, err := village.Rules.Account("wangfang")
		return err == nil && st.Record.GetAccount().GetDisabled()
	}, 15*time.Second, 20*time.Millisecond, "the disabling reaches the village")
	_, err = wang.apps.ListApplications(ctx, connect.NewRequest(&pb.ListApplicationsRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)
	// The village's logins reach the county's audit trail.
	county.clock.Set(county.clock.Now().Add(time.Minute))
	auditor := callAs(county, tokenOf(t, county, "audit", "", rules.RoleAuditor))
	require.Eventually(t, func() bool {
		trail, err := auditor.accts.ListAudit(ctx, connect.NewRequest(&pb.ListAuditRequest{Login: "wangfang"}))
		require.NoError(t, err)
		for _, it := range trail.Msg.GetItems() {
			if it.GetKind() == rules.KindSignIn && it.GetUnit() == "330324101201" {
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "the village's login in the county's audit")
	_, err = loginAt(village, "wangfang", testPassword, "")
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "a disabled account logs in: %v", err)
}

// TestConsoleFormLogin: the console's POST /login sets an HttpOnly,
// SameSite=Strict, Secure cookie that the API takes as the session; a
// wrong password answers 401 with the reason; POST /logout ends it.
func TestConsoleFormLogin(t *testing.T) {
	ca := newTestCA(t, "330324")
	county := startTLSNode(t, "330324", issueBundle(t, ca, "330324", auth.RoleNode), nil, nil)
	addAccount(t, county, "liufang", "330324", "", rules.RoleWorker)
	hc := *county.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	post := func(path string, form url.Values, cookie *http.Cookie) *http.Response {
		req, err := http.NewRequest(http.MethodPost, county.URL()+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := hc.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	bad := post("/login", url.Values{"login": {"liufang"}, "password": {"Wrong-pass-1"}}, nil)
	require.Equal(t, http.StatusUnauthorized, bad.StatusCode)
	body, _ := io.ReadAll(bad.Body)
	require.Contains(t, string(body), "账户或口令不对")
	require.Empty(t, bad.Cookies())

	good := post("/login", url.Values{"login": {"liufang"}, "password": {testPassword}, "next": {"//evil.example/"}}, nil)
	require.Equal(t, http.StatusSeeOther, good.StatusCode)
	require.Equal(t, "/", good.Header.Get("Location"), "never sent to another site")
	var c *http.Cookie
	for _, x := range good.Cookies() {
		if x.Name == auth.SessionCookie {
			c = x
		}
	}
	require.NotNil(t, c)
	require.True(t, c.HttpOnly)
	require.True(t, c.Secure)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)

	withCookie := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Cookie", c.Name+"="+c.Value)
			return next(ctx, req)
		}
	}))
	who := jiujinv1connect.NewAccountServiceClient(county.hc, county.URL(), withCookie)
	me, err := who.WhoAmI(context.Background(), connect.NewRequest(&pb.WhoAmIRequest{}))
	require.NoError(t, err)
	require.Equal(t, "liufang", me.Msg.GetAccount().GetLogin())

	out := post("/logout", nil, c)
	require.Equal(t, http.StatusSeeOther, out.StatusCode)
	_, err = who.WhoAmI(context.Background(), connect.NewRequest(&pb.WhoAmIRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)
}
