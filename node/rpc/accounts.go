package rpc

import (
	"context"
	"net"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// --- AccountService

// Bootstrap makes the county's first administrator: at a county node,
// from a loopback address, while the county has no account.
func (h *Service) Bootstrap(ctx context.Context, req *connect.Request[pb.BootstrapRequest]) (*connect.Response[pb.BootstrapResponse], error) {
	op := auth.OperatorFrom(ctx)
	if !loopbackSource(op.Source) {
		return nil, connectError(store.Precondition("node", "第一个管理员只能在县级节点本机设立（从 127.0.0.1 调用），此调用来自 %s", op.Source))
	}
	county := h.rules.Unit()
	acct := &pb.Account{Login: strings.TrimSpace(req.Msg.GetLogin()), Name: strings.TrimSpace(req.Msg.GetName()),
		Unit: string(county), Roles: []string{rules.RoleAdmin}}
	rec, uri, err := h.newAccountRecord(ctx, acct, req.Msg.GetPassword())
	if err != nil {
		return nil, err
	}
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_PutAccount{PutAccount: &pb.PutAccount{Kind: rules.KindAccountCreated, Record: rec, Bootstrap: true}}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.BootstrapResponse{Account: out.(*pb.AccountRecord).GetAccount(), TotpUri: uri}), nil
}

// newAccountRecord checks a new account's password, hashes it and makes
// the second factor of an account that needs one (its otpauth URI is
// returned, to be shown once).
func (h *Service) newAccountRecord(ctx context.Context, a *pb.Account, password string) (*pb.AccountRecord, string, error) {
	if err := auth.CheckPasswordStrength("password", password); err != nil {
		return nil, "", connectError(err)
	}
	// The account is checked before the slow hash.
	probe := &pb.AccountRecord{Account: a, PasswordHash: probeHash, TotpSecret: strings.Repeat("A", 32)}
	if err := rules.CheckAccount(probe); err != nil {
		return nil, "", connectError(err)
	}
	hash, err := h.accounts.Hash(ctx, password)
	if err != nil {
		return nil, "", connectError(err)
	}
	rec := &pb.AccountRecord{Account: a, PasswordHash: hash}
	var uri string
	if rules.NeedsSecondFactor(a.GetRoles()) {
		if rec.TotpSecret, uri, err = auth.NewTOTP(string(h.rules.Unit().County()), a.GetLogin()); err != nil {
			return nil, "", connectError(err)
		}
	}
	return rec, uri, nil
}

// probeHash is a well-formed hash of nothing, for checking an account
// before its password is hashed.
const probeHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func loopbackSource(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Login opens a session at this node.
func (h *Service) Login(ctx context.Context, req *connect.Request[pb.LoginRequest]) (*connect.Response[pb.LoginResponse], error) {
	res, err := h.accounts.Login(ctx, req.Msg, auth.OperatorFrom(ctx).Source)
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(res), nil
}

// Logout ends the caller's session.
func (h *Service) Logout(ctx context.Context, req *connect.Request[pb.LogoutRequest]) (*connect.Response[pb.LogoutResponse], error) {
	h.accounts.Logout(auth.Token(req.Header()))
	return connect.NewResponse(&pb.LogoutResponse{}), nil
}

// WhoAmI is the operator behind the caller's session.
func (h *Service) WhoAmI(ctx context.Context, req *connect.Request[pb.WhoAmIRequest]) (*connect.Response[pb.WhoAmIResponse], error) {
	op := auth.OperatorFrom(ctx)
	if op.Insecure {
		return connect.NewResponse(&pb.WhoAmIResponse{Insecure: true,
			Account: &pb.Account{Name: op.Name, Unit: op.Unit, Roles: rules.OperatorRoles}}), nil
	}
	st, err := h.rules.Account(op.Login)
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.WhoAmIResponse{Account: st.Record.GetAccount()}), nil
}

// AddAccount makes an account (county administrators).
func (h *Service) AddAccount(ctx context.Context, req *connect.Request[pb.AddAccountRequest]) (*connect.Response[pb.AddAccountResponse], error) {
	m := req.Msg
	acct := &pb.Account{Login: strings.TrimSpace(m.GetLogin()), Name: strings.TrimSpace(m.GetName()),
		Unit: strings.TrimSpace(m.GetUnit()), Roles: m.GetRoles(), MustChangePassword: true}
	dep, err := h.departmentCode(m.GetDepartment())
	if err != nil {
		return nil, err
	}
	acct.Department = dep
	rec, uri, err := h.newAccountRecord(ctx, acct, m.GetPassword())
	if err != nil {
		return nil, err
	}
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_PutAccount{PutAccount: &pb.PutAccount{Kind: rules.KindAccountCreated, Record: rec}}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.AddAccountResponse{Account: out.(*pb.AccountRecord).GetAccount(), TotpUri: uri}), nil
}

// departmentCode is the catalog's code of a department given by code or
// name ("" stays "").
func (h *Service) departmentCode(dep string) (string, error) {
	dep = strings.TrimSpace(dep)
	if dep == "" {
		return "", nil
	}
	cat, err := h.rules.Catalog()
	if err != nil {
		return "", connectError(err)
	}
	var known []string
	for _, d := range cat.GetDepartments() {
		if d.GetCode() == dep || d.GetName() == dep {
			return d.GetCode(), nil
		}
		known = append(known, d.GetCode()+" "+d.GetName())
	}
	return "", connectError(store.Invalid("department", "事项清单中没有部门 %q（有：%s）", dep, strings.Join(known, "、")))
}

// UpdateAccount makes one change to an account (county administrators):
// disable or enable it, reset its password or second factor, or set its
// roles.
func (h *Service) UpdateAccount(ctx context.Context, req *connect.Request[pb.UpdateAccountRequest]) (*connect.Response[pb.UpdateAccountResponse], error) {
	m := req.Msg
	changes := 0
	for _, set := range []bool{m.Disabled != nil, m.GetResetPassword() != "", m.GetSetRoles(), m.GetResetTotp()} {
		if set {
			changes++
		}
	}
	if changes != 1 {
		return nil, connectError(store.Invalid("change", "每次只改一项：停用/启用、重置口令、设定角色或重置第二因子"))
	}
	st, err := h.rules.Account(strings.TrimSpace(m.GetLogin()))
	if err != nil {
		return nil, connectError(err)
	}
	rec := proto.Clone(st.Record).(*pb.AccountRecord)
	a := rec.GetAccount()
	var kind, uri string
	switch {
	case m.Disabled != nil:
		if a.GetDisabled() == m.GetDisabled() {
			return nil, connectError(store.Precondition("disabled", "账户 %s 已是%s状态", a.GetLogin(), map[bool]string{true: "停用", false: "启用"}[a.GetDisabled()]))
		}
		if op := auth.OperatorFrom(ctx); m.GetDisabled() && op.Login == a.GetLogin() {
			return nil, connectError(store.Precondition("login", "不能停用自己的账户"))
		}
		a.Disabled, kind = m.GetDisabled(), rules.KindAccountEnabled
		if a.Disabled {
			kind = rules.KindAccountDisabled
		}
	case m.GetResetPassword() != "":
		if err := auth.CheckPasswordStrength("reset_password", m.GetResetPassword()); err != nil {
			return nil, connectError(err)
		}
		if rec.PasswordHash, err = h.accounts.Hash(ctx, m.GetResetPassword()); err != nil {
			return nil, connectError(err)
		}
		a.MustChangePassword, kind = true, rules.KindAccountPasswordReset
	case m.GetSetRoles():
		dep, err := h.departmentCode(m.GetDepartment())
		if err != nil {
			return nil, err
		}
		a.Roles, a.Department, kind = m.GetRoles(), dep, rules.KindAccountChanged
		if rules.NeedsSecondFactor(a.GetRoles()) && rec.GetTotpSecret() == "" {
			if rec.TotpSecret, uri, err = auth.NewTOTP(string(h.rules.Unit().County()), a.GetLogin()); err != nil {
				return nil, connectError(err)
			}
		}
	case m.GetResetTotp():
		if rec.TotpSecret, uri, err = auth.NewTOTP(string(h.rules.Unit().County()), a.GetLogin()); err != nil {
			return nil, connectError(err)
		}
		kind = rules.KindAccountTOTPReset
	}
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_PutAccount{PutAccount: &pb.PutAccount{Kind: kind, Record: rec, ExpectVersion: st.Version}}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.UpdateAccountResponse{Account: out.(*pb.AccountRecord).GetAccount(), TotpUri: uri}), nil
}

// ListAccounts lists the accounts this node holds.
func (h *Service) ListAccounts(ctx context.Context, req *connect.Request[pb.ListAccountsRequest]) (*connect.Response[pb.ListAccountsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	var unit tiers.Unit
	if u := strings.TrimSpace(req.Msg.GetUnit()); u != "" {
		p, err := tiers.Parse(u)
		if err != nil {
			return nil, connectError(store.Invalid("unit", "%v", err))
		}
		unit = p
	}
	as, err := h.rules.Accounts(unit)
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.ListAccountsResponse{Accounts: as}), nil
}

// ListAudit is the audit trail this node holds (auditors).
func (h *Service) ListAudit(ctx context.Context, req *connect.Request[pb.ListAuditRequest]) (*connect.Response[pb.ListAuditResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	var since int64
	if s := strings.TrimSpace(req.Msg.GetSince()); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, delegation.China)
		if err != nil {
			return nil, connectError(store.Invalid("since", "%q 应为 YYYY-MM-DD", s))
		}
		since = t.UnixMilli()
	}
	items, err := h.rules.Audit(strings.TrimSpace(req.Msg.GetLogin()), since, int(req.Msg.GetLimit()))
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(&pb.ListAuditResponse{Items: items}), nil
}

// mayDecide refuses a decision (or a supplement request) that the
// caller's roles do not cover: a clerk decides what a township holds, an
// approver its own department's matters (or parts).
func (h *Service) mayDecide(ctx context.Context, id, part string) error {
	op := auth.OperatorFrom(ctx)
	if op.Insecure {
		return nil
	}
	if op.Has(rules.RoleClerk) && h.rules.Unit().Tier() == tiers.Township {
		return nil
	}
	if !op.Has(rules.RoleApprover) {
		return connectError(auth.Forbidden("乡镇经办只在乡镇节点办结；%s 没有审批人员角色", op.Login))
	}
	dep, err := h.rules.DepartmentOf(id, part)
	if err != nil {
		return connectError(err)
	}
	if dep != op.Department {
		return connectError(auth.Forbidden("办件 %s 由部门 %s 办理，%s 属于部门 %s", id, dep, op.Login, op.Department))
	}
	return nil
}

// RevokeCertificate publishes a revocation the county's CA signed.
func (h *Service) RevokeCertificate(ctx context.Context, req *connect.Request[pb.RevokeCertificateRequest]) (*connect.Response[pb.RevokeCertificateResponse], error) {
	if h.tls == nil {
		return nil, connectError(store.Precondition("node", "insecure 节点没有证书，也就没有可吊销的证书"))
	}
	r := req.Msg.GetRevocation()
	if err := auth.VerifyRevocation(h.tls.CA, r); err != nil {
		return nil, connectError(store.Invalid("ca_signature", "%v", err))
	}
	cmd := h.command(ctx, req)
	cmd.Op = &pb.Command_RevokeCertificate{RevokeCertificate: r}
	out, err := h.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.RevokeCertificateResponse{Revocation: out.(*pb.Revocation)}), nil
}

// ListRevocations lists the revocations this node holds, by serial.
func (h *Service) ListRevocations(ctx context.Context, req *connect.Request[pb.ListRevocationsRequest]) (*connect.Response[pb.ListRevocationsResponse], error) {
	if err := h.read(ctx); err != nil {
		return nil, err
	}
	revs, err := h.rules.Revocations()
	if err != nil {
		return nil, connectError(err)
	}
	res := &pb.ListRevocationsResponse{}
	for _, r := range revs {
		res.Revocations = append(res.Revocations, r)
	}
	slices.SortFunc(res.Revocations, func(a, b *pb.Revocation) int { return strings.Compare(a.GetSerial(), b.GetSerial()) })
	return connect.NewResponse(res), nil
}
