package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	v1 "github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// routes are the console's stable addresses (bookmarks and scripts rely on
// them): / 工作台, /login, /matters 事项检索, /matters/{code} 办事指南,
// /accept 收件受理, /apps 办件列表, /apps/{id} 详情, /apps/{id}/receipt 受理回执,
// /stats 改革指标 (/stats.csv), /links 链路.
func (c *Console) routes(static http.Handler) {
	m := c.mux
	m.Handle("GET /static/", static)
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", c.cfg.Accounts.FormLogout)
	m.HandleFunc("GET /{$}", c.page(v1.AccountServiceWhoAmIProcedure, c.home))
	m.HandleFunc("GET /matters", c.page(v1.CatalogServiceListMattersProcedure, c.matters))
	m.HandleFunc("GET /matters/{code}", c.page(v1.CatalogServiceGetMatterProcedure, c.matter))
	m.HandleFunc("GET /accept", c.page(v1.ApplicationServiceAcceptApplicationProcedure, c.acceptForm))
	m.HandleFunc("POST /accept", c.page(v1.ApplicationServiceAcceptApplicationProcedure, c.accept))
	m.HandleFunc("GET /apps", c.page(v1.ApplicationServiceListApplicationsProcedure, c.apps))
	m.HandleFunc("GET /apps/{id}", c.page(v1.ApplicationServiceGetApplicationProcedure, c.app))
	m.HandleFunc("GET /apps/{id}/receipt", c.page(v1.ApplicationServiceGetApplicationProcedure, c.receipt))
	m.HandleFunc("GET /apps/{id}/notice/{kind}", c.page(v1.ApplicationServiceGetApplicationProcedure, c.notice))
	m.HandleFunc("POST /apps/{id}/decide", c.page(v1.ApplicationServiceDecideApplicationProcedure, c.decide))
	m.HandleFunc("POST /apps/{id}/reveal", c.page(v1.ApplicationServiceGetApplicationProcedure, c.reveal))
	m.HandleFunc("POST /apps/{id}/supply", c.page(v1.ApplicationServiceSupplyMaterialsProcedure, c.supply))
	m.HandleFunc("POST /apps/{id}/deliver", c.page(v1.ApplicationServiceDeliverApplicationProcedure, c.deliver))
	m.HandleFunc("GET /stats", c.page(v1.NodeServiceGetStatsProcedure, c.stats))
	m.HandleFunc("GET /stats.csv", c.page(v1.NodeServiceGetStatsProcedure, c.statsCSV))
	m.HandleFunc("GET /links", c.page(v1.NodeServiceGetStatusProcedure, c.links))
	m.HandleFunc("GET /apps/{id}/rate", c.page(v1.ApplicationServiceRateApplicationProcedure, c.rateForm))
	m.HandleFunc("POST /apps/{id}/rate", c.page(v1.ApplicationServiceRateApplicationProcedure, c.rate))
	c.refuseRoutes() // /refuse 不予受理, /refusals 登记, /refusals/{id} 告知书
	// /admin 管理 (/admin/catalog, /delegations, /accounts, /units): each page
	// takes the rule of the administrator's call it offers.
	m.HandleFunc("GET /admin", c.page(v1.CatalogServiceImportCatalogProcedure, c.adminIndex))
	m.HandleFunc("GET /admin/catalog", c.page(v1.CatalogServiceImportCatalogProcedure, c.adminCatalog))
	m.HandleFunc("POST /admin/catalog/preview", c.uploadPage(v1.CatalogServiceImportCatalogProcedure, c.catalogPreview))
	m.HandleFunc("POST /admin/catalog/publish", c.uploadPage(v1.CatalogServiceImportCatalogProcedure, c.catalogPublish))
	m.HandleFunc("GET /admin/delegations", c.page(v1.DelegationServiceGrantDelegationProcedure, c.adminDelegations))
	m.HandleFunc("POST /admin/delegations", c.page(v1.DelegationServiceGrantDelegationProcedure, c.grant))
	m.HandleFunc("POST /admin/delegations/{id}/revoke", c.page(v1.DelegationServiceRevokeDelegationProcedure, c.revokeDelegation))
	m.HandleFunc("GET /admin/accounts", c.page(v1.AccountServiceAddAccountProcedure, c.adminAccounts))
	m.HandleFunc("POST /admin/accounts", c.page(v1.AccountServiceAddAccountProcedure, c.addAccount))
	m.HandleFunc("POST /admin/accounts/{login}", c.page(v1.AccountServiceUpdateAccountProcedure, c.updateAccount))
	m.HandleFunc("GET /admin/units", c.page(v1.UnitServiceSetUnitsProcedure, c.adminUnits))
	m.HandleFunc("POST /admin/units", c.page(v1.UnitServiceSetUnitsProcedure, c.setUnit))
	m.HandleFunc("GET /admin/accounts/{login}", c.page(v1.AccountServiceUpdateAccountProcedure, c.adminAccount))
	m.HandleFunc("POST /admin/accounts/{login}/password", c.page(v1.AccountServiceUpdateAccountProcedure, c.resetPassword))
	m.HandleFunc("POST /admin/accounts/{login}/roles", c.page(v1.AccountServiceUpdateAccountProcedure, c.setRoles))
	m.HandleFunc("POST /admin/accounts/{login}/totp", c.page(v1.AccountServiceUpdateAccountProcedure, c.resetTOTP))
	m.HandleFunc("GET /admin/menus", c.page(v1.DelegationServiceSetClassProcedure, c.adminMenus))
	m.HandleFunc("POST /admin/menus", c.page(v1.DelegationServiceSetClassProcedure, c.setClass))
	m.HandleFunc("GET /admin/negative", c.page(v1.DelegationServiceSetNegativeListProcedure, c.adminNegative))
	m.HandleFunc("POST /admin/negative", c.page(v1.DelegationServiceSetNegativeListProcedure, c.setNegative))
	// /menus 按需点单: a township's own act, by its clerk at its node.
	m.HandleFunc("GET /menus", c.page(v1.DelegationServiceOrderMattersProcedure, c.orders))
	m.HandleFunc("POST /menus", c.page(v1.DelegationServiceOrderMattersProcedure, c.order))
}

// linkView is the upstream link as every page shows it.
type linkView struct {
	// Top: the county, which has no parent.
	Top     bool
	Online  bool
	Since   string // last contact, Beijing time
	Pending uint64 // events not yet acknowledged by the parent
	Error   string
}

func (c *Console) link() linkView {
	ls := c.cfg.Links()
	if len(ls) == 0 {
		return linkView{Top: true}
	}
	v := linkView{Online: true}
	var last time.Time
	for _, l := range ls {
		if !l.GetConnected() {
			v.Online = false
			if l.GetLastError() != "" {
				v.Error = l.GetLastError()
			}
		}
		if t := l.GetLastContact(); t != nil && t.AsTime().After(last) {
			last = t.AsTime()
		}
		if l.GetDirection() == "push" {
			v.Pending = l.GetEventsBehind()
		}
	}
	if !last.IsZero() {
		v.Since = last.In(delegation.China).Format("01-02 15:04")
	}
	return v
}

var china = delegation.China

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"state":   rules.StateLabel,
	"date":    chineseDate,
	"when":    when,
	"unit":    unitLabel,
	"orCode":  orCode,
	"join":    strings.Join,
	"fee":     fee,
	"kind":    delegation.KindLabel,
	"mode":    func(m string) string { return delegation.ModeLabels[m] },
	"left":    timeLeft,
	"urgency": urgency,
	"add":     func(a, b int) int { return a + b },
	"has":     func(op *auth.Operator, role string) bool { return op != nil && op.Has(role) },
	"contains": func(xs []string, x string) bool {
		for _, y := range xs {
			if y == x {
				return true
			}
		}
		return false
	},
}

// chineseDate turns YYYY-MM-DD into 2026年12月2日.
func chineseDate(s string) string {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return s
	}
	return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
}

func when(ts interface{ AsTime() time.Time }) string {
	if ts == nil {
		return ""
	}
	t := ts.AsTime()
	if t.IsZero() || t.Unix() == 0 {
		return ""
	}
	t = t.In(delegation.China)
	return fmt.Sprintf("%d年%d月%d日 %s", t.Year(), t.Month(), t.Day(), t.Format("15:04"))
}

func unitLabel(code, name string) string {
	if name == "" {
		return code
	}
	return name + "（" + code + "）"
}

func orCode(name, code string) string {
	if name == "" {
		return code
	}
	return name
}

func fee(fen int64) string {
	if fen == 0 {
		return "不收费"
	}
	return fmt.Sprintf("%d.%02d 元", fen/100, fen%100)
}

// timeLeft is the deadline as a list shows it.
func timeLeft(a *pb.Application) string {
	d := a.GetDeadline()
	switch a.GetState() {
	case rules.StateApproved, rules.StateRejected, rules.StateDelivered, rules.StateRated:
		if d.GetOverdue() {
			return "超期办结"
		}
		return "已办结"
	case rules.StateWithdrawn:
		return "已撤回"
	}
	switch {
	case d.GetPaused():
		return "补正中，暂停计时"
	case d.GetOverdue():
		return fmt.Sprintf("已超期 %d 个工作日", -d.GetStatutoryDaysLeft())
	case d.GetPromiseBroken():
		return fmt.Sprintf("超过承诺，法定剩 %d 日", d.GetStatutoryDaysLeft())
	}
	return fmt.Sprintf("剩 %d 个工作日", d.GetPromisedDaysLeft())
}

// urgency is a list row's class: the deadline as colour, next to the text.
func urgency(a *pb.Application) string {
	d := a.GetDeadline()
	switch {
	case a.GetState() == rules.StateWithdrawn, a.GetDecision() != nil:
		return "done"
	case d.GetOverdue():
		return "overdue"
	case d.GetPromiseBroken() || d.GetPromisedDaysLeft() <= 2:
		return "soon"
	}
	return "ok"
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
