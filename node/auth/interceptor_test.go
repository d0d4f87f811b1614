package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	v1 "github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/rules"
)

// Tests of the table of procedures and the interceptor that enforces it.

// peopleFiles are the files of the services people call (the console and
// the CLI); node-to-node services (sync, cluster) are guarded by node
// certificates instead.
var peopleFiles = []protoreflect.FileDescriptor{pb.File_jiujin_v1_account_proto, pb.File_jiujin_v1_catalog_proto,
	pb.File_jiujin_v1_application_proto, pb.File_jiujin_v1_delegation_proto, pb.File_jiujin_v1_node_proto, pb.File_jiujin_v1_unit_proto}

// proceduresOf is every procedure of the files' services, as connect
// spells it ("/jiujin.v1.Service/Method").
func proceduresOf(files ...protoreflect.FileDescriptor) []string {
	var out []string
	for _, fd := range files {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				out = append(out, "/"+string(sd.FullName())+"/"+string(sd.Methods().Get(j).Name()))
			}
		}
	}
	return out
}

// TestEveryProcedureHasAnAccessRule: a procedure added to a service people
// call cannot be forgotten in the table (it would be refused to everyone),
// and the table names no procedure that does not exist.
func TestEveryProcedureHasAnAccessRule(t *testing.T) {
	procs := proceduresOf(peopleFiles...)
	services := map[string]bool{}
	for _, p := range procs {
		_, ok := procedures[p]
		require.True(t, ok, "%s has no entry in procedures", p)
		services[strings.Split(p, "/")[1]] = true
	}
	require.Equal(t, map[string]bool{"jiujin.v1.AccountService": true, "jiujin.v1.CatalogService": true,
		"jiujin.v1.ApplicationService": true, "jiujin.v1.DelegationService": true, "jiujin.v1.NodeService": true,
		"jiujin.v1.EnrollService": true, "jiujin.v1.UnitService": true}, services)
	require.Len(t, procedures, len(procs), "the table has entries of no procedure")
	// The generated constants spell procedures the same way.
	require.Contains(t, procs, v1.ApplicationServiceDecideApplicationProcedure)
	require.Contains(t, procs, v1.AccountServiceLoginProcedure)

	// Node-to-node procedures are not reachable with an operator's session.
	for _, p := range proceduresOf(pb.File_jiujin_v1_sync_proto, pb.File_jiujin_v1_cluster_proto) {
		_, ok := procedures[p]
		require.False(t, ok, p)
	}
	// Only the login and the county's bootstrap are open to anyone.
	for p, rule := range procedures {
		if rule.public {
			require.Contains(t, []string{v1.AccountServiceLoginProcedure, v1.AccountServiceBootstrapProcedure,
				v1.EnrollServiceEnrollProcedure, v1.EnrollServiceGetEnrollmentProcedure}, p)
		}
	}
	// Every role the table names is a role accounts may hold.
	for p, rule := range procedures {
		for _, r := range rule.roles {
			require.Contains(t, rules.OperatorRoles, r, p)
		}
	}
}

func bearer(token string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

func TestAuthorize(t *testing.T) {
	f := newLoginFixture(t, false)
	f.worker(t)
	_, secret := f.admin(t, false)
	w, err := f.login("wang", pwWang, "", "")
	require.NoError(t, err)
	a, err := f.login("zhao", pwZhao, f.otp(t, secret), "")
	require.NoError(t, err)
	cookie := http.Header{}
	cookie.Set("Cookie", SessionCookie+"="+w.GetToken())

	tests := []struct {
		name, procedure string
		header          http.Header
		code            connect.Code // 0: allowed
		login           string       // the operator when allowed
	}{
		{"a procedure not in the table", "/jiujin.v1.ApplicationService/DeleteEverything", bearer(a.GetToken()), connect.CodePermissionDenied, ""},
		{"a sync procedure", v1.SyncServicePushProcedure, bearer(a.GetToken()), connect.CodePermissionDenied, ""},
		{"no token", v1.CatalogServiceListMattersProcedure, bearer(""), connect.CodeUnauthenticated, ""},
		{"a token of no session", v1.CatalogServiceListMattersProcedure, bearer("not-a-session"), connect.CodeUnauthenticated, ""},
		{"the login needs no token", v1.AccountServiceLoginProcedure, bearer(""), 0, ""},
		{"any operator reads the catalog", v1.CatalogServiceListMattersProcedure, bearer(w.GetToken()), 0, "wang"},
		{"a worker accepts", v1.ApplicationServiceAcceptApplicationProcedure, bearer(w.GetToken()), 0, "wang"},
		{"a worker does not decide", v1.ApplicationServiceDecideApplicationProcedure, bearer(w.GetToken()), connect.CodePermissionDenied, ""},
		{"a worker does not import the catalog", v1.CatalogServiceImportCatalogProcedure, bearer(w.GetToken()), connect.CodePermissionDenied, ""},
		{"a worker does not read the audit", v1.AccountServiceListAuditProcedure, bearer(w.GetToken()), connect.CodePermissionDenied, ""},
		{"an admin imports the catalog", v1.CatalogServiceImportCatalogProcedure, bearer(a.GetToken()), 0, "zhao"},
		{"an admin adds accounts", v1.AccountServiceAddAccountProcedure, bearer(a.GetToken()), 0, "zhao"},
		{"an admin does not decide", v1.ApplicationServiceDecideApplicationProcedure, bearer(a.GetToken()), connect.CodePermissionDenied, ""},
		{"the console's cookie", v1.ApplicationServiceAcceptApplicationProcedure, cookie, 0, "wang"},
		{"a worker refuses at the window", v1.ApplicationServiceRefuseApplicationProcedure, bearer(w.GetToken()), 0, "wang"},
		{"a worker lists refusals", v1.ApplicationServiceListRefusalsProcedure, bearer(w.GetToken()), 0, "wang"},
		{"an admin does not refuse", v1.ApplicationServiceRefuseApplicationProcedure, bearer(a.GetToken()), connect.CodePermissionDenied, ""},
		{"an admin does not list refusals", v1.ApplicationServiceListRefusalsProcedure, bearer(a.GetToken()), connect.CodePermissionDenied, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := f.acc.authorize(tt.procedure, tt.header, source)
			if tt.code != 0 {
				require.Equal(t, tt.code, connect.CodeOf(err), "%v", err)
				require.Nil(t, op)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.login, op.Login)
			require.Equal(t, source, op.Source)
			require.False(t, op.Insecure)
		})
	}

	// A refusal says which roles the procedure needs.
	_, err = f.acc.authorize(v1.ApplicationServiceDecideApplicationProcedure, bearer(w.GetToken()), source)
	require.ErrorIs(t, err, ErrForbidden)
	require.ErrorContains(t, err, rules.RoleLabel(rules.RoleApprover))
}

// TestAuthorizeInsecure: an insecure node lets anyone call every procedure
// of the table, and still none outside it.
func TestAuthorizeInsecure(t *testing.T) {
	f := newLoginFixture(t, true)
	for _, p := range proceduresOf(peopleFiles...) {
		op, err := f.acc.authorize(p, http.Header{}, source)
		require.NoError(t, err, p)
		require.True(t, op.Insecure, p)
		require.Equal(t, AnonymousName, op.Name)
	}
	_, err := f.acc.authorize(v1.SyncServicePushProcedure, http.Header{}, source)
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
}

func TestToken(t *testing.T) {
	tests := []struct {
		name          string
		authorization string
		cookie        string
		want          string
	}{
		{"none", "", "", ""},
		{"bearer", "Bearer abc", "", "abc"},
		{"bearer in lower case", "bearer abc", "", "abc"},
		{"bearer with spaces around", "Bearer   abc  ", "", "abc"},
		{"another scheme", "Basic YWxhZGRpbjpvcGVu", "", ""},
		{"the cookie", "", SessionCookie + "=tok", "tok"},
		{"the cookie among others", "", "theme=dark; " + SessionCookie + "=tok; lang=zh", "tok"},
		{"another cookie only", "", "theme=dark", ""},
		{"the bearer before the cookie", "Bearer abc", SessionCookie + "=tok", "abc"},
		{"an empty bearer falls back to the cookie", "Bearer ", SessionCookie + "=tok", "tok"},
		{"another scheme falls back to the cookie", "Basic x", SessionCookie + "=tok", "tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.authorization != "" {
				h.Set("Authorization", tt.authorization)
			}
			if tt.cookie != "" {
				h.Set("Cookie", tt.cookie)
			}
			require.Equal(t, tt.want, Token(h))
		})
	}
}

// nodeStatus answers GetStatus with nothing, remembering its operator.
type nodeStatus struct {
	v1.UnimplementedNodeServiceHandler
	op *Operator
}

func (n *nodeStatus) GetStatus(ctx context.Context, _ *connect.Request[pb.GetStatusRequest]) (*connect.Response[pb.GetStatusResponse], error) {
	n.op = OperatorFrom(ctx)
	return connect.NewResponse(&pb.GetStatusResponse{}), nil
}

// TestInterceptorOverHTTP: the interceptor refuses a call without a
// session before its handler runs, and hands the handler the operator
// with the caller's address.
func TestInterceptorOverHTTP(t *testing.T) {
	f := newLoginFixture(t, false)
	f.worker(t)
	resp, err := f.login("wang", pwWang, "", "")
	require.NoError(t, err)

	h := &nodeStatus{}
	mux := http.NewServeMux()
	mux.Handle(v1.NewNodeServiceHandler(h, connect.WithInterceptors(f.acc.Interceptor())))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := v1.NewNodeServiceClient(srv.Client(), srv.URL)

	_, err = client.GetStatus(context.Background(), connect.NewRequest(&pb.GetStatusRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)
	require.Nil(t, h.op, "the handler did not run")

	req := connect.NewRequest(&pb.GetStatusRequest{})
	req.Header().Set("Authorization", "Bearer "+resp.GetToken())
	_, err = client.GetStatus(context.Background(), req)
	require.NoError(t, err)
	require.NotNil(t, h.op)
	require.Equal(t, "wang", h.op.Login)
	require.True(t, strings.HasPrefix(h.op.Source, "127.0.0.1:"), h.op.Source)
}
