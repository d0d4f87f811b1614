package web

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/store"
)

// --- 下放、委托、代办

// delegationsData is the delegations in force (or all of them), the grant
// form as typed, and a routing answer: who decides the matter for an
// application accepted at the unit.
type delegationsData struct {
	All  bool
	Rows []delegationRow
	// The grant form, as typed.
	Matter, Unit, Mode, From, Until string
	Modes                           []modeOption
	// Route answers the preview, or what a grant just made changes.
	Route *routeView
	// Granted, Revoked: the delegation just granted or revoked.
	Granted, Revoked string
	// RevokeID, Reason: the revoke form refused, kept.
	RevokeID, Reason string
	RevokeRow        bool // the revoked one is a row of the list
}

type modeOption struct{ Code, Label string }

type delegationRow struct {
	D                 *pb.Delegation
	MatterName        string
	Unit, Mode, State string
	Ended             bool
}

// routeView is a routing answer as people read it.
type routeView struct {
	Matter, MatterName, Accepting string
	Decider, How                  string
	Path                          []string
	// Now: before a grant (the preview); else after it.
	Now bool
}

func (c *Console) routeOf(q *request, matter, unit string) (*routeView, error) {
	res, err := c.cfg.Service.Route(q.ctx(), connect.NewRequest(&pb.RouteRequest{MatterCode: matter, AcceptingUnit: unit}))
	if err != nil {
		return nil, err
	}
	r := res.Msg
	v := &routeView{Matter: matter, Accepting: c.cfg.Rules.UnitLabel(unit), Decider: c.cfg.Rules.UnitLabel(r.GetProcessingUnit())}
	if m, err := c.cfg.Rules.GetMatter(matter); err == nil {
		v.MatterName = m.GetName()
	}
	if r.GetDelegationId() == "" {
		v.How = "县级主管部门办理"
	} else {
		v.How = delegation.ModeLabels[r.GetMode()] + "（授权 " + r.GetDelegationId() + "）"
	}
	for _, u := range r.GetPath() {
		v.Path = append(v.Path, c.cfg.Rules.UnitLabel(u))
	}
	return v, nil
}

var modeOptions = []modeOption{{delegation.ModeDevolve, "下放（给乡镇的派出机构，由乡镇决定）"},
	{delegation.ModeEntrust, "委托（委托乡镇政府决定）"}, {delegation.ModeProxy, "代办（只受理和出件，不决定）"}}

func (c *Console) delegationsPage(q *request, d delegationsData) (delegationsData, error) {
	d.Modes = modeOptions
	res, err := c.cfg.Service.ListDelegations(q.ctx(), connect.NewRequest(&pb.ListDelegationsRequest{All: d.All}))
	if err != nil {
		return d, err
	}
	today := delegation.FormatDate(c.cfg.Rules.Store().Now())
	for _, x := range res.Msg.GetDelegations() {
		row := delegationRow{D: x, Unit: c.cfg.Rules.UnitLabel(x.GetUnit()), Mode: delegation.ModeLabels[x.GetMode()], State: "有效"}
		if m, err := c.cfg.Rules.GetMatter(x.GetMatterCode()); err == nil {
			row.MatterName = m.GetName()
		}
		switch {
		case x.GetRevokedAt() != nil:
			row.State, row.Ended = "已撤销", true
		case x.GetUntil() != "" && x.GetUntil() < today:
			row.State, row.Ended = "已到期", true
		case x.GetFrom() > today:
			row.State = "未生效（" + chineseDate(x.GetFrom()) + "起）"
		}
		d.Rows = append(d.Rows, row)
		d.RevokeRow = d.RevokeRow || x.GetId() == d.RevokeID
	}
	return d, nil
}

func (c *Console) adminDelegations(q *request) error {
	qs := q.r.URL.Query()
	d := delegationsData{All: qs.Get("all") == "1", Granted: qs.Get("granted"), Revoked: qs.Get("revoked")}
	d, err := c.delegationsPage(q, d)
	if err != nil {
		return err
	}
	if d.Granted != "" {
		for _, r := range d.Rows {
			if r.D.GetId() == d.Granted {
				if v, err := c.routeOf(q, r.D.GetMatterCode(), r.D.GetUnit()); err == nil {
					d.Route = v
				}
			}
		}
	}
	c.render(q.w, q, http.StatusOK, "admin_delegations", "下放、委托与代办", d, nil, "")
	return nil
}

// grant previews the route (action preview) or grants (action grant); a
// refusal is shown next to its field with the form kept.
func (c *Console) grant(q *request) error {
	f := q.r.PostForm
	d := delegationsData{Matter: strings.TrimSpace(f.Get("matter")), Unit: strings.TrimSpace(f.Get("unit")),
		Mode: strings.TrimSpace(f.Get("mode")), From: strings.TrimSpace(f.Get("from")), Until: strings.TrimSpace(f.Get("until"))}
	refuse := func(err error) error {
		if statusOf(rpc.ConnectError(err)) != http.StatusBadRequest && statusOf(rpc.ConnectError(err)) != http.StatusNotFound {
			return err
		}
		field, msg := adminField(err)
		d, lerr := c.delegationsPage(q, d)
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_delegations", "下放、委托与代办", d, map[string]string{field: msg}, "")
		return nil
	}
	req := &pb.GrantDelegationRequest{MatterCode: d.Matter, Unit: d.Unit, Mode: d.Mode, From: d.From, Until: d.Until}
	if err := c.cfg.Rules.Normalize(req); err != nil {
		return refuse(err)
	}
	if f.Get("action") == "preview" {
		if req.GetMatterCode() == "" {
			return refuse(store.Invalid("matter_code", "请填写事项（代码、名称或常用名，如 低保）"))
		}
		if req.GetUnit() == "" {
			return refuse(store.Invalid("unit", "请填写单位（代码或名称，如 城关镇）"))
		}
		v, err := c.routeOf(q, req.GetMatterCode(), req.GetUnit())
		if err != nil {
			return refuse(err)
		}
		v.Now = true
		d.Route = v
		d, err = c.delegationsPage(q, d)
		if err != nil {
			return err
		}
		c.render(q.w, q, http.StatusOK, "admin_delegations", "下放、委托与代办", d, nil, "")
		return nil
	}
	res, err := c.cfg.Service.GrantDelegation(q.ctx(), connect.NewRequest(req))
	if err != nil {
		return refuse(err)
	}
	http.Redirect(q.w, q.r, "/admin/delegations?granted="+urlQueryEscape(res.Msg.GetDelegation().GetId()), http.StatusSeeOther)
	return nil
}

func (c *Console) revokeDelegation(q *request) error {
	id := q.r.PathValue("id")
	reason := strings.TrimSpace(q.r.PostForm.Get("reason"))
	_, err := c.cfg.Service.RevokeDelegation(q.ctx(), connect.NewRequest(&pb.RevokeDelegationRequest{Id: id, Reason: reason}))
	if err != nil {
		if s := statusOf(rpc.ConnectError(err)); s != http.StatusBadRequest && s != http.StatusNotFound {
			return err
		}
		_, msg := adminField(err)
		d, lerr := c.delegationsPage(q, delegationsData{RevokeID: id, Reason: reason})
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_delegations", "下放、委托与代办", d, map[string]string{"reason": msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/admin/delegations?revoked="+urlQueryEscape(id), http.StatusSeeOther)
	return nil
}
