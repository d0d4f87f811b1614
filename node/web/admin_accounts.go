package web

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// --- 账户

type accountsData struct {
	// UnitFilter: only one unit's accounts (as typed).
	UnitFilter string
	Rows       []accountRow
	RoleOpts   []modeOption
	Depts      []*pb.Department
	// The add form, as typed.
	Login, Name, Unit, Department string
	Roles                         []string
	// Added: the account just added; TOTPURI its second factor, shown once.
	Added, TOTPURI string
	Changed        string
}

type accountRow struct {
	A                      *pb.Account
	Unit, Roles, Dept      string
	State                  string
	Updated, UpdatedBy     string
	MustChange, SecondAuth bool
}

func roleOptions() []modeOption {
	var out []modeOption
	for _, r := range rules.OperatorRoles {
		out = append(out, modeOption{r, rules.RoleLabel(r)})
	}
	return out
}

func (c *Console) accountsPage(q *request, d accountsData) (accountsData, map[string]string, error) {
	d.RoleOpts = roleOptions()
	if cat, err := c.cfg.Rules.Catalog(); err == nil {
		d.Depts = cat.GetDepartments()
	}
	req := &pb.ListAccountsRequest{Unit: d.UnitFilter}
	if err := c.cfg.Rules.Normalize(req); err != nil {
		field, msg := adminField(err)
		if field == "unit" {
			field = "unit_filter"
		}
		return d, map[string]string{field: msg}, nil
	}
	res, err := c.cfg.Service.ListAccounts(q.ctx(), connect.NewRequest(req))
	if err != nil {
		return d, nil, err
	}
	for _, a := range res.Msg.GetAccounts() {
		row := accountRow{A: a, Unit: c.cfg.Rules.UnitLabel(a.GetUnit()), State: "启用", MustChange: a.GetMustChangePassword(),
			SecondAuth: a.GetSecondFactor(), Updated: when(a.GetUpdatedAt()), UpdatedBy: a.GetUpdatedBy()}
		var ls []string
		for _, r := range rules.OperatorRoles { // in the order people read them
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
		d.Rows = append(d.Rows, row)
	}
	return d, nil, nil
}

func (c *Console) adminAccounts(q *request) error {
	qs := q.r.URL.Query()
	d, errs, err := c.accountsPage(q, accountsData{UnitFilter: strings.TrimSpace(qs.Get("unit")), Changed: qs.Get("changed")})
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "admin_accounts", "账户", d, errs, "")
	return nil
}

// addAccount adds an account; the TOTP of an administrator's or auditor's
// account is shown on the page that answers, once.
func (c *Console) addAccount(q *request) error {
	f := q.r.PostForm
	d := accountsData{Login: strings.TrimSpace(f.Get("login")), Name: strings.TrimSpace(f.Get("name")),
		Unit: strings.TrimSpace(f.Get("unit")), Department: strings.TrimSpace(f.Get("department")), Roles: f["role"]}
	req := &pb.AddAccountRequest{Login: d.Login, Name: d.Name, Unit: d.Unit, Roles: d.Roles, Department: d.Department,
		Password: f.Get("password")}
	err := c.cfg.Rules.Normalize(req)
	if err == nil && len(req.GetRoles()) == 0 {
		err = store.Invalid("roles", "请至少勾选一个角色")
	}
	var res *connect.Response[pb.AddAccountResponse]
	if err == nil {
		res, err = c.cfg.Service.AddAccount(q.ctx(), connect.NewRequest(req))
	}
	if err != nil {
		if s := statusOf(rpc.ConnectError(err)); s != http.StatusBadRequest && s != http.StatusNotFound {
			return err
		}
		field, msg := adminField(err)
		if strings.HasPrefix(field, "roles") {
			field = "roles"
		}
		d, _, lerr := c.accountsPage(q, d)
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_accounts", "账户", d, map[string]string{field: msg}, "")
		return nil
	}
	d, errs, err := c.accountsPage(q, accountsData{Added: res.Msg.GetAccount().GetLogin(), TOTPURI: res.Msg.GetTotpUri()})
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "admin_accounts", "账户", d, errs, "")
	return nil
}

// updateAccount disables or enables an account (action disable, enable).
func (c *Console) updateAccount(q *request) error {
	login := q.r.PathValue("login")
	req := &pb.UpdateAccountRequest{Login: login}
	switch q.r.PostForm.Get("action") {
	case "disable":
		req.Disabled = new(true)
	case "enable":
		req.Disabled = new(false)
	default:
		return store.Invalid("action", "请选择停用或启用")
	}
	if _, err := c.cfg.Service.UpdateAccount(q.ctx(), connect.NewRequest(req)); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/admin/accounts?changed="+urlQueryEscape(login), http.StatusSeeOther)
	return nil
}

// --- 单位

type unitsData struct {
	Query string
	Rows  []unitRow
	// The form, as typed or as the unit to edit is.
	Code, Name, Phone, Address string
	Saved                      string
}

type unitRow struct {
	U    *pb.Unit
	Tier string
}

func (c *Console) unitsPage(q *request, d unitsData) (unitsData, error) {
	res, err := c.cfg.Service.ListUnits(q.ctx(), connect.NewRequest(&pb.ListUnitsRequest{Query: d.Query}))
	if err != nil {
		return d, err
	}
	for _, u := range res.Msg.GetUnits() {
		row := unitRow{U: u}
		if p, err := tiers.Parse(u.GetCode()); err == nil {
			row.Tier = p.Tier().Label()
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

func (c *Console) adminUnits(q *request) error {
	qs := q.r.URL.Query()
	d := unitsData{Query: strings.TrimSpace(qs.Get("q")), Saved: qs.Get("saved")}
	if code := strings.TrimSpace(qs.Get("edit")); code != "" {
		units, err := c.cfg.Rules.Units()
		if err != nil {
			return err
		}
		u := units[code]
		d.Code, d.Name, d.Phone, d.Address = code, u.GetName(), u.GetPhone(), u.GetAddress()
	}
	d, err := c.unitsPage(q, d)
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "admin_units", "单位名称与电话", d, nil, "")
	return nil
}

// setUnit sets one unit's name, phone and address.
func (c *Console) setUnit(q *request) error {
	f := q.r.PostForm
	d := unitsData{Code: strings.TrimSpace(f.Get("code")), Name: strings.TrimSpace(f.Get("name")),
		Phone: strings.TrimSpace(f.Get("phone")), Address: strings.TrimSpace(f.Get("address"))}
	code, err := c.cfg.Rules.ResolveUnit("code", d.Code)
	if err == nil && code == "" {
		err = store.Invalid("code", "请填写单位代码（县 6 位、乡镇 9 位、村 12 位）")
	}
	if err == nil {
		_, err = c.cfg.Service.SetUnits(q.ctx(), connect.NewRequest(&pb.SetUnitsRequest{Units: []*pb.Unit{{Code: code,
			Name: d.Name, Phone: d.Phone, Address: d.Address}}}))
	}
	if err != nil {
		if s := statusOf(rpc.ConnectError(err)); s != http.StatusBadRequest && s != http.StatusNotFound {
			return err
		}
		field, msg := adminField(err)
		if field == "units" || field == "" {
			field = "code"
		}
		d, lerr := c.unitsPage(q, d)
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_units", "单位名称与电话", d, map[string]string{field: msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/admin/units?saved="+urlQueryEscape(code), http.StatusSeeOther)
	return nil
}
