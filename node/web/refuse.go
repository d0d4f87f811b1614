package web

import (
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	v1 "github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
)

// 不予受理 at the window: /refuse?matter=CODE the form (applicant, reason),
// /refusals/{id} the printable 不予受理告知书, /refusals the list.
func (c *Console) refuseRoutes() {
	m := c.mux
	m.HandleFunc("GET /refuse", c.page(v1.ApplicationServiceRefuseApplicationProcedure, c.refuseForm))
	m.HandleFunc("POST /refuse", c.page(v1.ApplicationServiceRefuseApplicationProcedure, c.refuse))
	m.HandleFunc("GET /refusals", c.page(v1.ApplicationServiceListRefusalsProcedure, c.refusals))
	m.HandleFunc("GET /refusals/{id}", c.page(v1.ApplicationServiceListRefusalsProcedure, c.refusal))
}

type refuseData struct {
	Matter *pb.Matter
	// The form as typed, kept when it is refused.
	Name, IDNumber, Phone, Reason string
}

func (c *Console) refuseForm(q *request) error {
	code := strings.TrimSpace(q.r.URL.Query().Get("matter"))
	if code == "" {
		http.Redirect(q.w, q.r, "/matters", http.StatusSeeOther)
		return nil
	}
	m, err := c.matterOf(q, code)
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "refuse", "不予受理："+m.GetName(), refuseData{Matter: m}, nil, "")
	return nil
}

func (c *Console) refuse(q *request) error {
	f := q.r.PostForm
	m, err := c.matterOf(q, f.Get("matter"))
	if err != nil {
		return err
	}
	d := refuseData{Matter: m, Name: strings.TrimSpace(f.Get("applicant_name")), IDNumber: strings.TrimSpace(f.Get("id_number")),
		Phone: strings.TrimSpace(f.Get("phone")), Reason: strings.TrimSpace(f.Get("reason"))}
	res, err := c.cfg.Service.RefuseApplication(q.ctx(), connect.NewRequest(&pb.RefuseApplicationRequest{MatterCode: m.GetCode(),
		Applicant: &pb.Applicant{Name: d.Name, IdNumber: d.IDNumber, Phone: d.Phone}, Reason: d.Reason}))
	if err != nil {
		if statusOf(err) != http.StatusBadRequest && statusOf(err) != http.StatusNotFound {
			return err
		}
		field, msg := formField(err)
		c.render(q.w, q, http.StatusBadRequest, "refuse", "不予受理："+m.GetName(), d, map[string]string{field: msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/refusals/"+res.Msg.GetRefusal().GetId(), http.StatusSeeOther)
	return nil
}

// refusal is the 不予受理告知书 of one refusal, to print.
func (c *Console) refusal(q *request) error {
	res, err := c.cfg.Service.ListRefusals(q.ctx(), connect.NewRequest(&pb.ListRefusalsRequest{Id: q.r.PathValue("id")}))
	if err != nil {
		return err
	}
	r := res.Msg.GetRefusals()[0]
	day := ""
	if t := r.GetRefusedAt(); t != nil {
		day = t.AsTime().In(china).Format("2006-01-02")
	}
	c.render(q.w, q, http.StatusOK, "refusal", "不予受理告知书", struct {
		Refusal *pb.Refusal
		Day     string
	}{r, day}, nil, "")
	return nil
}

type refusalsData struct {
	Matter, Unit, From, To string
	Refusals               []*pb.Refusal
	Total                  int
}

// refusals lists the refusals this node holds, newest first.
func (c *Console) refusals(q *request) error {
	qs := q.r.URL.Query()
	d := refusalsData{Matter: strings.TrimSpace(qs.Get("matter")), Unit: strings.TrimSpace(qs.Get("unit")),
		From: strings.TrimSpace(qs.Get("from")), To: strings.TrimSpace(qs.Get("to"))}
	req := &pb.ListRefusalsRequest{MatterCode: d.Matter, Unit: d.Unit, From: d.From, To: d.To}
	if n, err := strconv.Atoi(qs.Get("limit")); err == nil && n > 0 && n <= 1000 {
		req.Limit = uint32(n)
	}
	if err := c.cfg.Rules.Normalize(req); err != nil {
		field, msg := formField(err)
		c.render(q.w, q, http.StatusOK, "refusals", "不予受理登记", d, map[string]string{refusalsField(field): msg}, "")
		return nil
	}
	res, err := c.cfg.Service.ListRefusals(q.ctx(), connect.NewRequest(req))
	if err != nil {
		if statusOf(err) != http.StatusBadRequest {
			return err
		}
		field, msg := formField(err)
		c.render(q.w, q, http.StatusOK, "refusals", "不予受理登记", d, map[string]string{refusalsField(field): msg}, "")
		return nil
	}
	d.Refusals, d.Total = res.Msg.GetRefusals(), int(res.Msg.GetTotal())
	c.render(q.w, q, http.StatusOK, "refusals", "不予受理登记", d, nil, "")
	return nil
}

// refusalsField is the list form's field an API field is shown next to.
func refusalsField(f string) string {
	if f == "matter_code" {
		return "matter"
	}
	return f
}
