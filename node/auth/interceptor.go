package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	v1 "github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/rules"
)

// SessionCookie is the console's session cookie.
const SessionCookie = "jiujin_session"

// access is who may call a procedure: anyone (public, the login itself),
// any operator (no roles), or an operator with one of the roles.
type access struct {
	public bool
	roles  []string
}

var (
	anyone   = access{public: true}
	operator = access{}
)

func roles(r ...string) access { return access{roles: r} }

const (
	worker   = rules.RoleWorker
	clerk    = rules.RoleClerk
	approver = rules.RoleApprover
	admin    = rules.RoleAdmin
	auditor  = rules.RoleAuditor
)

// procedures is every procedure of the services people call, and who may
// call it; a procedure not listed here is refused. What a handler checks
// beyond the role (an approver's department, a reveal's auditor and
// reason) is the handler's.
var procedures = map[string]access{
	v1.AccountServiceBootstrapProcedure:     anyone,
	v1.AccountServiceLoginProcedure:         anyone,
	v1.AccountServiceLogoutProcedure:        operator,
	v1.AccountServiceWhoAmIProcedure:        operator,
	v1.AccountServiceAddAccountProcedure:    roles(admin),
	v1.AccountServiceUpdateAccountProcedure: roles(admin),
	v1.AccountServiceListAccountsProcedure:  roles(admin, auditor),
	v1.AccountServiceListAuditProcedure:     roles(auditor),

	v1.NodeServiceGetStatusProcedure:         operator,
	v1.NodeServiceGetStatsProcedure:          operator,
	v1.NodeServiceRevokeCertificateProcedure: roles(admin),
	v1.NodeServiceListRevocationsProcedure:   operator,
	v1.NodeServiceListEnrollmentsProcedure:   roles(admin),
	v1.NodeServiceAnswerEnrollmentProcedure:  roles(admin),
	// A new box has no account and no certificate yet.
	v1.EnrollServiceEnrollProcedure:        anyone,
	v1.EnrollServiceGetEnrollmentProcedure: anyone,

	v1.CatalogServiceListMattersProcedure:   operator,
	v1.CatalogServiceGetMatterProcedure:     operator,
	v1.CatalogServiceImportCatalogProcedure: roles(admin),

	v1.UnitServiceListUnitsProcedure: operator,
	v1.UnitServiceSetUnitsProcedure:  roles(admin),

	v1.DelegationServiceListDelegationsProcedure:  operator,
	v1.DelegationServiceRouteProcedure:            operator,
	v1.DelegationServiceListClassesProcedure:      operator,
	v1.DelegationServiceGetNegativeListProcedure:  operator,
	v1.DelegationServiceGrantDelegationProcedure:  roles(admin),
	v1.DelegationServiceRevokeDelegationProcedure: roles(admin),
	v1.DelegationServiceSetClassProcedure:         roles(admin),
	v1.DelegationServiceSetNegativeListProcedure:  roles(admin),
	// A township's own menu order (按需点单) is its clerks'.
	v1.DelegationServiceOrderMattersProcedure: roles(clerk, admin),

	v1.ApplicationServiceListApplicationsProcedure:    roles(worker, clerk, approver, auditor),
	v1.ApplicationServiceGetApplicationProcedure:      roles(worker, clerk, approver, auditor),
	v1.ApplicationServiceListFollowUpsProcedure:       roles(worker, clerk, approver, admin, auditor),
	v1.ApplicationServiceAcceptApplicationProcedure:   roles(worker, clerk),
	v1.ApplicationServiceSupplyMaterialsProcedure:     roles(worker, clerk),
	v1.ApplicationServiceDeliverApplicationProcedure:  roles(worker, clerk),
	v1.ApplicationServiceRateApplicationProcedure:     roles(worker, clerk),
	v1.ApplicationServiceWithdrawApplicationProcedure: roles(worker, clerk),
	v1.ApplicationServiceForwardApplicationProcedure:  roles(worker, clerk, approver),
	v1.ApplicationServiceRequestSupplementProcedure:   roles(clerk, approver),
	v1.ApplicationServiceDecideApplicationProcedure:   roles(clerk, approver),
	v1.ApplicationServiceUpdateFollowUpProcedure:      roles(clerk, approver),
	// 不予受理 is the window's; everyone who reads applications reads them.
	v1.ApplicationServiceRefuseApplicationProcedure: roles(worker, clerk),
	v1.ApplicationServiceListRefusalsProcedure:      roles(worker, clerk, approver, auditor),
}

// privileged: a procedure only administrators or auditors may call.
func privileged(procedure string) bool {
	rule := procedures[procedure]
	return slices.Contains(rule.roles, admin) || (len(rule.roles) == 1 && rule.roles[0] == auditor)
}

// reveals: a call that shows a full identity number.
func reveals(req connect.AnyRequest) bool {
	m, ok := req.Any().(*pb.GetApplicationRequest)
	return ok && m.GetReveal()
}

// Interceptor authenticates and authorizes every call of the services
// people use, in one place: the session (a bearer token, or the console's
// cookie) gives the operator, the operator's roles the procedures. The
// handler finds the operator with OperatorFrom.
func (a *Accounts) Interceptor() connect.Interceptor { return interceptor{a} }

type interceptor struct{ a *Accounts }

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		op, err := i.a.authorize(req.Spec().Procedure, req.Header(), req.Peer().Addr)
		if err != nil {
			return nil, err
		}
		res, err := next(WithOperator(ctx, op), req)
		if privileged(req.Spec().Procedure) || reveals(req) {
			// Besides the events they write, in the node's own log.
			i.a.cfg.Logger.Info("privileged call", "procedure", req.Spec().Procedure, "login", op.Login,
				"source", op.Source, "ok", err == nil)
		}
		return res, err
	}
}

func (interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s 未开放", ErrForbidden, conn.Spec().Procedure))
	}
}

// Authorize is authorize for the console: its pages call the same
// handlers as the API, under the same table, with the session of the
// browser's cookie.
func (a *Accounts) Authorize(procedure string, h http.Header, source string) (*Operator, error) {
	return a.authorize(procedure, h, source)
}

// authorize is the operator allowed to call procedure, or why not as a
// connect error (Unauthenticated without a session, PermissionDenied
// without the role).
func (a *Accounts) authorize(procedure string, h http.Header, source string) (*Operator, error) {
	rule, ok := procedures[procedure]
	if !ok {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s 未开放", ErrForbidden, procedure))
	}
	if rule.public {
		return &Operator{Source: source, Insecure: a.cfg.Insecure, Name: anonymousIf(a.cfg.Insecure)}, nil
	}
	op, err := a.Authenticate(Token(h), source)
	if err != nil {
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
	}
	if len(rule.roles) == 0 {
		return op, nil
	}
	for _, r := range rule.roles {
		if op.Has(r) {
			return op, nil
		}
	}
	labels := make([]string, len(rule.roles))
	for k, r := range rule.roles {
		labels[k] = rules.RoleLabel(r)
	}
	return nil, connect.NewError(connect.CodePermissionDenied,
		fmt.Errorf("%w: 需要%s角色，%s 没有", ErrForbidden, strings.Join(labels, "或"), op.Login))
}

func anonymousIf(insecure bool) string {
	if insecure {
		return AnonymousName
	}
	return ""
}

// Token is a call's session token: the bearer of its Authorization
// header, or the console's cookie.
func Token(h http.Header) string {
	if v := h.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	r := http.Request{Header: h}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}
