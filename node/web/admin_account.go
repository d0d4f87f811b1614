package web

// One account's page (/admin/accounts/{login}): reset its password (the
// owner changes it at the next login), set its roles and department, reset
// its second factor (the new 动态码 shown once). Each is one
// UpdateAccount call, as `jiujin account update` makes it.

import (
	"net/http"
	"net/url"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

type accountData struct {
	Row      accountRow
	RoleOpts []modeOption
	Depts    []*pb.Department
	// The roles form, as typed or as the account is.
	Roles      []string
	Department string
	// Done: the change just made (password, roles, totp); TOTPURI the new
	// second factor, shown once.
	Done, TOTPURI string
	// TOTP: the account has, or its roles need, a second factor.
	TOTP bool
}

// accountRowOf is one account as the list shows it.
func (c *Console) accountRowOf(a *pb.Account) accountRow {
	row := accountRow{A: a, Unit: c.cfg.Rules.UnitLabel(a.GetUnit()), State: "启用", MustChange: a.GetMustChangePassword(),
		SecondAuth: a.GetSecondFactor(), Updated: when(a.GetUpdatedAt()), UpdatedBy: a.GetUpdatedBy()}
	var ls []string
	for _, r := range rules.OperatorRoles {
		if contains(a.GetRoles(), r) {
			ls = append(ls, rules.RoleLabel(r))
		}
	}
	for _, r := range a.GetRoles() {
		if !contains(rules.OperatorRoles, r) {
			ls = append(ls, rules.RoleLabel(r))
		}
	}
	row.Roles = strings.Join(ls, "、")
	if a.GetDepartment() != "" {
		row.Dept = orCode(c.cfg.Rules.DepartmentName(a.GetDepartment()), a.GetDepartment())
	}
	if a.GetDisabled() {
		row.State = "已停用"
	}
	return row
}

// accountPage is the account's page; keep: the roles form as typed.
func (c *Console) accountPage(q *request, login string, d accountData, keep bool) (accountData, error) {
	res, err := c.cfg.Service.ListAccounts(q.ctx(), connect.NewRequest(&pb.ListAccountsRequest{}))
	if err != nil {
		return d, err
	}
	var a *pb.Account
	for _, x := range res.Msg.GetAccounts() {
		if x.GetLogin() == login {
			a = x
		}
	}
	if a == nil {
		return d, store.NotFound("login", "没有账户 %q", login)
	}
	d.Row, d.RoleOpts = c.accountRowOf(a), roleOptions()
	if cat, err := c.cfg.Rules.Catalog(); err == nil {
		d.Depts = cat.GetDepartments()
	}
	if !keep {
		d.Roles, d.Department = a.GetRoles(), a.GetDepartment()
	}
	d.TOTP = a.GetSecondFactor() || rules.NeedsSecondFactor(a.GetRoles())
	return d, nil
}

func (c *Console) adminAccount(q *request) error {
	login := q.r.PathValue("login")
	d, err := c.accountPage(q, login, accountData{Done: q.r.URL.Query().Get("done")}, false)
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "admin_account", "账户 "+login, d, nil, "")
	return nil
}

// updateOne makes one change; a refusal is shown next to its field on the
// account's page, the roles form kept as typed.
func (c *Console) updateOne(q *request, req *pb.UpdateAccountRequest, d accountData, done string) error {
	login := q.r.PathValue("login")
	req.Login = login
	err := c.cfg.Rules.Normalize(req)
	if err == nil && req.GetSetRoles() && len(req.GetRoles()) == 0 {
		err = store.Invalid("roles", "请至少勾选一个角色")
	}
	var res *connect.Response[pb.UpdateAccountResponse]
	if err == nil {
		res, err = c.cfg.Service.UpdateAccount(q.ctx(), connect.NewRequest(req))
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		field, msg := adminField(err)
		if _, rest, ok := strings.Cut(msg, "reset_password: "); ok && field == "" {
			field, msg = "password", rest // the password checks name their field in the text
		}
		if strings.HasPrefix(field, "role") {
			field = "roles"
		}
		switch field {
		case "password", "roles", "department":
		default:
			field = ""
		}
		d, lerr := c.accountPage(q, login, d, req.GetSetRoles())
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_account", "账户 "+login, d, map[string]string{field: msg}, "")
		return nil
	}
	if uri := res.Msg.GetTotpUri(); uri != "" {
		// Shown on the page that answers, once: never in an address.
		d, err := c.accountPage(q, login, accountData{Done: done, TOTPURI: uri}, false)
		if err != nil {
			return err
		}
		c.render(q.w, q, http.StatusOK, "admin_account", "账户 "+login, d, nil, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/admin/accounts/"+url.PathEscape(login)+"?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) resetPassword(q *request) error {
	pw := q.r.PostForm.Get("password")
	if pw == "" {
		d, err := c.accountPage(q, q.r.PathValue("login"), accountData{}, false)
		if err != nil {
			return err
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_account", "账户 "+q.r.PathValue("login"), d,
			map[string]string{"password": "请填写新的口令（本人下次登录时改掉）"}, "")
		return nil
	}
	return c.updateOne(q, &pb.UpdateAccountRequest{ResetPassword: pw}, accountData{}, "password")
}

func (c *Console) setRoles(q *request) error {
	f := q.r.PostForm
	d := accountData{Roles: f["role"], Department: strings.TrimSpace(f.Get("department"))}
	return c.updateOne(q, &pb.UpdateAccountRequest{SetRoles: true, Roles: f["role"], Department: d.Department}, d, "roles")
}

func (c *Console) resetTOTP(q *request) error {
	return c.updateOne(q, &pb.UpdateAccountRequest{ResetTotp: true}, accountData{}, "totp")
}
