package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// --- 登录

type loginData struct {
	Login, Next string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, nil, http.StatusOK, "login", "登录", loginData{Next: auth.SafeNext(r.URL.Query().Get("next"))}, nil, "")
}

// login signs in from the form: a refusal is shown next to the field it
// concerns, with the login kept.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "表单无效或过大", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	d := loginData{Login: strings.TrimSpace(f.Get("login")), Next: auth.SafeNext(f.Get("next"))}
	res, err := c.cfg.Accounts.Login(r.Context(), &pb.LoginRequest{Login: d.Login, Password: f.Get("password"),
		Otp: strings.TrimSpace(f.Get("otp")), NewPassword: f.Get("new_password")}, r.RemoteAddr)
	if err != nil {
		status, field := http.StatusUnauthorized, "password"
		switch {
		case errors.Is(err, auth.ErrOTPRequired):
			status, field = http.StatusBadRequest, "otp"
		case errors.Is(err, auth.ErrPasswordChange), errors.Is(err, auth.ErrBadPassword):
			status, field = http.StatusBadRequest, "new_password"
		}
		c.render(w, nil, status, "login", "登录", d, map[string]string{field: err.Error()}, "")
		return
	}
	auth.SetSessionCookie(w, r, res, c.cfg.Rules.Store().Now())
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// --- 工作台

// homeData counts what waits on this unit, each count a link to its list.
type homeData struct {
	MayList                                 bool
	Supplement, Decide, Deliver, Soon, Late int
	Total                                   int
}

func (c *Console) home(q *request) error {
	d := homeData{}
	for _, r := range []string{rules.RoleWorker, rules.RoleClerk, rules.RoleApprover, rules.RoleAuditor} {
		d.MayList = d.MayList || q.op.Has(r)
	}
	if d.MayList {
		as, _, err := c.cfg.Rules.ListApplications(rules.AppFilter{Mine: true, Limit: 1000})
		if err != nil {
			return err
		}
		d.Total = len(as)
		for _, a := range as {
			for _, s := range stagesOf(a) {
				switch s {
				case "supplement":
					d.Supplement++
				case "decide":
					d.Decide++
				case "deliver":
					d.Deliver++
				case "soon":
					d.Soon++
				case "overdue":
					d.Late++
				}
			}
		}
	}
	c.render(q.w, q, http.StatusOK, "home", "工作台", d, nil, "")
	return nil
}

// stagesOf are the home page's buckets an application of the to-do list
// is in.
func stagesOf(a *pb.Application) []string {
	var out []string
	switch a.GetState() {
	case rules.StateSupplementRequested:
		out = append(out, "supplement")
	case rules.StateApproved, rules.StateRejected:
		return append(out, "deliver")
	default:
		out = append(out, "decide")
	}
	d := a.GetDeadline()
	switch {
	case d.GetOverdue():
		out = append(out, "overdue")
	case !d.GetPaused() && d.GetPromisedDaysLeft() <= 2:
		out = append(out, "soon")
	}
	return out
}

// --- 事项检索 / 办事指南

type mattersData struct {
	Query, Department string
	Departments       []*pb.Department
	Matters           []*pb.Matter
}

func (c *Console) matters(q *request) error {
	qs := q.r.URL.Query()
	req := &pb.ListMattersRequest{Query: strings.TrimSpace(qs.Get("q")), Department: strings.TrimSpace(qs.Get("department"))}
	d := mattersData{Query: req.Query, Department: req.Department}
	if err := c.cfg.Rules.Normalize(req); err != nil {
		c.render(q.w, q, http.StatusOK, "matters", "事项检索", d, map[string]string{"department": err.Error()}, "")
		return nil
	}
	res, err := c.cfg.Service.ListMatters(q.ctx(), connect.NewRequest(req))
	if err != nil {
		return err
	}
	d.Departments, d.Matters = res.Msg.GetDepartments(), res.Msg.GetMatters()
	c.render(q.w, q, http.StatusOK, "matters", "事项检索", d, nil, "")
	return nil
}

type matterData struct {
	Matter *pb.Matter
	// Who decides it for an application accepted here, and how.
	Decider, DeciderName, Mode string
	RouteError                 string
	MayAccept                  bool
}

func (c *Console) matter(q *request) error {
	req := &pb.GetMatterRequest{Code: q.r.PathValue("code")}
	if err := c.cfg.Rules.Normalize(req); err != nil {
		return err
	}
	res, err := c.cfg.Service.GetMatter(q.ctx(), connect.NewRequest(req))
	if err != nil {
		return err
	}
	m := res.Msg.GetMatter()
	d := matterData{Matter: m, MayAccept: q.op.Has(rules.RoleWorker) || q.op.Has(rules.RoleClerk)}
	if p, del, err := c.cfg.Rules.Route(m.GetCode(), c.cfg.Rules.Unit()); err != nil {
		d.RouteError = errorText(err)
	} else {
		d.Decider, d.DeciderName, d.Mode = string(p), c.cfg.Rules.UnitName(string(p)), del.GetMode()
	}
	c.render(q.w, q, http.StatusOK, "matter", m.GetName(), d, nil, "")
	return nil
}

// --- 收件受理

type acceptData struct {
	Matter *pb.Matter
	// The form as typed, kept when it is refused.
	Name, IDNumber, Phone, Note string
	Received, Missing           []string
}

func (c *Console) acceptForm(q *request) error {
	code := strings.TrimSpace(q.r.URL.Query().Get("matter"))
	if code == "" {
		http.Redirect(q.w, q.r, "/matters", http.StatusSeeOther)
		return nil
	}
	m, err := c.matterOf(q, code)
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "accept", "收件受理："+m.GetName(), acceptData{Matter: m}, nil, "")
	return nil
}

func (c *Console) matterOf(q *request, code string) (*pb.Matter, error) {
	req := &pb.GetMatterRequest{Code: code}
	if err := c.cfg.Rules.Normalize(req); err != nil {
		return nil, err
	}
	res, err := c.cfg.Service.GetMatter(q.ctx(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetMatter(), nil
}

func (c *Console) accept(q *request) error {
	f := q.r.PostForm
	m, err := c.matterOf(q, f.Get("matter"))
	if err != nil {
		return err
	}
	d := acceptData{Matter: m, Name: strings.TrimSpace(f.Get("applicant_name")), IDNumber: strings.TrimSpace(f.Get("id_number")),
		Phone: strings.TrimSpace(f.Get("phone")), Note: strings.TrimSpace(f.Get("note")), Received: f["material"], Missing: f["missing"]}
	var received []string
	for _, x := range d.Received {
		if !contains(d.Missing, x) {
			received = append(received, x)
		}
	}
	res, err := c.cfg.Service.AcceptApplication(q.ctx(), connect.NewRequest(&pb.AcceptApplicationRequest{MatterCode: m.GetCode(),
		Applicant: &pb.Applicant{Name: d.Name, IdNumber: d.IDNumber, Phone: d.Phone}, Materials: received, Missing: d.Missing, Note: d.Note}))
	if err != nil {
		if statusOf(err) != http.StatusBadRequest && statusOf(err) != http.StatusNotFound {
			return err
		}
		field, msg := formField(err)
		c.render(q.w, q, http.StatusBadRequest, "accept", "收件受理："+m.GetName(), d, map[string]string{field: msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/apps/"+res.Msg.GetApplication().GetId()+"/receipt", http.StatusSeeOther)
	return nil
}

// formField is the form field an API error concerns, and its message.
func formField(err error) (string, string) {
	var fe *store.FieldError
	if !errors.As(err, &fe) {
		return "", errorText(err)
	}
	f := fe.Field
	switch {
	case f == "applicant.name":
		f = "applicant_name"
	case f == "applicant.id_number":
		f = "id_number"
	case f == "applicant.phone":
		f = "phone"
	case strings.HasPrefix(f, "materials"):
		f = "material"
	case strings.HasPrefix(f, "missing"):
		f = "missing"
	}
	return f, fe.Reason
}

func errorText(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// --- 办件列表

type appsData struct {
	Filter appsFilter
	States []string
	Apps   []*pb.Application
	Total  int
	// From and To number the rows shown (1-based); the addresses of the
	// pages before and after, and of the list in either order.
	From, To                 int
	Prev, Next, ByNew, ByDue string
}

type appsFilter struct {
	Mine, Overdue                    bool
	State, Matter, Department, Stage string
	Applicant, Order                 string
	Limit, Offset                    int
}

func (c *Console) apps(q *request) error {
	qs := q.r.URL.Query()
	f := appsFilter{Mine: qs.Get("mine") == "1", Overdue: qs.Get("overdue") == "1", State: qs.Get("state"),
		Matter: strings.TrimSpace(qs.Get("matter")), Department: strings.TrimSpace(qs.Get("department")),
		Stage: qs.Get("stage"), Applicant: strings.TrimSpace(qs.Get("applicant")), Limit: 100}
	if n, err := strconv.Atoi(qs.Get("limit")); err == nil && n > 0 && n <= 1000 {
		f.Limit = n
	}
	if n, err := strconv.Atoi(qs.Get("offset")); err == nil && n > 0 {
		f.Offset = n
	}
	if qs.Get("order") == "due" || f.Mine || f.Stage != "" {
		f.Order = "due"
	}
	req := &pb.ListApplicationsRequest{State: f.State, MatterCode: f.Matter, Department: f.Department, OverdueOnly: f.Overdue,
		Mine: f.Mine || f.Stage != "", HeldOnly: f.Mine, Limit: uint32(f.Limit), Offset: uint32(f.Offset), Order: f.Order}
	if rules.LooksLikeIDNumber(f.Applicant) {
		req.ApplicantIdSha256 = rules.IDDigest(f.Applicant)
	} else {
		req.Applicant = f.Applicant
	}
	if f.Stage != "" {
		req.Limit, req.Offset = 1000, 0
	}
	d := appsData{Filter: f, States: rules.States}
	if err := c.cfg.Rules.Normalize(req); err != nil {
		field, msg := formField(err)
		c.render(q.w, q, http.StatusOK, "apps", "办件列表", d, map[string]string{field: msg}, "")
		return nil
	}
	res, err := c.cfg.Service.ListApplications(q.ctx(), connect.NewRequest(req))
	if err != nil {
		if statusOf(err) == http.StatusBadRequest {
			field, msg := formField(err)
			c.render(q.w, q, http.StatusOK, "apps", "办件列表", d, map[string]string{field: msg}, "")
			return nil
		}
		return err
	}
	d.Apps, d.Total = res.Msg.GetApplications(), int(res.Msg.GetTotal())
	if f.Stage != "" {
		var keep []*pb.Application
		for _, a := range d.Apps {
			if contains(stagesOf(a), f.Stage) {
				keep = append(keep, a)
			}
		}
		d.Apps, d.Total = keep, len(keep)
	}
	if len(d.Apps) > 0 {
		d.From, d.To = f.Offset+1, f.Offset+len(d.Apps)
	}
	at := func(key, value string) string {
		u := url.Values{}
		for k, v := range qs {
			u[k] = v
		}
		u.Set(key, value)
		if key == "order" {
			u.Del("offset")
		}
		return "/apps?" + u.Encode()
	}
	if f.Offset > 0 && f.Stage == "" {
		d.Prev = at("offset", strconv.Itoa(max(f.Offset-f.Limit, 0)))
	}
	if d.To < d.Total && f.Stage == "" {
		d.Next = at("offset", strconv.Itoa(d.To))
	}
	if !f.Mine && f.Stage == "" {
		d.ByNew, d.ByDue = at("order", ""), at("order", "due")
	}
	c.render(q.w, q, http.StatusOK, "apps", "办件列表", d, nil, "")
	return nil
}

// --- 办件详情

type appData struct {
	App     *pb.Application
	History []*pb.HistoryEntry
	// What this operator may do here, now.
	MayDecide, MayDeliver, MayRate, MaySupply, MayReveal, Revealed bool
	// What may be handed in: 容缺 materials and those asked for.
	Owed      []string
	OpenParts []*pb.Task
	Here      bool // this unit holds it
}

func (c *Console) app(q *request) error {
	return c.showApp(q, &pb.GetApplicationRequest{Id: q.r.PathValue("id")})
}

// reveal shows the full identity number to an auditor who gives a reason:
// the API records the reveal before it answers.
func (c *Console) reveal(q *request) error {
	return c.showApp(q, &pb.GetApplicationRequest{Id: q.r.PathValue("id"), Reveal: true,
		RevealReason: strings.TrimSpace(q.r.PostForm.Get("reason"))})
}

func (c *Console) showApp(q *request, req *pb.GetApplicationRequest) error {
	res, err := c.cfg.Service.GetApplication(q.ctx(), connect.NewRequest(req))
	if err != nil {
		return err
	}
	a := res.Msg.GetApplication()
	unit := string(c.cfg.Rules.Unit())
	d := appData{App: a, History: res.Msg.GetHistory(), Here: a.GetHolder() == unit}
	undecided := a.GetDecision() == nil && a.GetWithdrawal() == nil
	decider := q.op.Has(rules.RoleClerk) || q.op.Has(rules.RoleApprover)
	for _, t := range a.GetTasks() {
		if t.GetState() == rules.TaskOpen && t.GetHolder() == unit {
			d.OpenParts = append(d.OpenParts, t)
		}
	}
	d.MayDecide = decider && undecided && (d.Here && len(a.GetParts()) == 0 || len(d.OpenParts) > 0) &&
		a.GetState() != rules.StateSupplementRequested
	window := q.op.Has(rules.RoleWorker) || q.op.Has(rules.RoleClerk)
	d.MayDeliver = window && d.Here && (a.GetState() == rules.StateApproved || a.GetState() == rules.StateRejected)
	d.MayRate = window && d.Here && a.GetState() == rules.StateDelivered
	d.Owed = append(append([]string(nil), a.GetMaterialsMissing()...), a.GetMaterialsRequested()...)
	d.MaySupply = window && undecided && len(d.Owed) > 0
	d.MayReveal, d.Revealed = q.op.Has(rules.RoleAuditor) && !req.GetReveal(), req.GetReveal()
	c.render(q.w, q, http.StatusOK, "app", "办件 "+a.GetId(), d, nil, "")
	return nil
}

func (c *Console) receipt(q *request) error {
	res, err := c.cfg.Service.GetApplication(q.ctx(), connect.NewRequest(&pb.GetApplicationRequest{Id: q.r.PathValue("id")}))
	if err != nil {
		return err
	}
	r := res.Msg.GetReceipt()
	qr, err := qrSVG("JIUJIN:" + r.GetApplicationId() + ":" + r.GetCheckCode())
	if err != nil {
		return err
	}
	data := struct {
		Receipt *pb.Receipt
		App     *pb.Application
		Tier    string
		QR      template.HTML
	}{r, res.Msg.GetApplication(), tiers.Unit(res.Msg.GetApplication().GetAcceptingUnit()).Tier().Label(), qr}
	c.render(q.w, q, http.StatusOK, "receipt", "受理回执", data, nil, "")
	return nil
}

// notice is a print view for the applicant: 补正通知书 (kind supplement:
// what the open supplement request asks for, or the 容缺 materials owed)
// or the result's notice (kind result).
func (c *Console) notice(q *request) error {
	kind := q.r.PathValue("kind")
	if kind != "supplement" && kind != "result" {
		return store.NotFound("kind", "没有 %q 这种通知书（supplement 补正，result 结果）", kind)
	}
	res, err := c.cfg.Service.GetApplication(q.ctx(), connect.NewRequest(&pb.GetApplicationRequest{Id: q.r.PathValue("id")}))
	if err != nil {
		return err
	}
	a := res.Msg.GetApplication()
	var open *pb.Pause
	for _, p := range a.GetPauses() {
		if p.GetSuppliedAt() == nil {
			open = p
		}
	}
	switch {
	case kind == "supplement" && open == nil && len(a.GetMaterialsMissing()) == 0:
		return store.Precondition("kind", "此办件没有待补正的材料")
	case kind == "result" && a.GetDecision() == nil:
		return store.Precondition("kind", "此办件尚未办结")
	}
	title := map[string]string{"supplement": "补正材料通知书", "result": "办理结果领取通知"}[kind]
	c.render(q.w, q, http.StatusOK, "notice", title, struct {
		Kind    string
		App     *pb.Application
		Receipt *pb.Receipt
		Pause   *pb.Pause
		Today   string
	}{kind, a, res.Msg.GetReceipt(), open, c.cfg.Rules.Store().Now().In(china).Format("2006-01-02")}, nil, "")
	return nil
}

// --- 审批、出件、评价

func (c *Console) decide(q *request) error {
	f := q.r.PostForm
	id := q.r.PathValue("id")
	var err error
	switch f.Get("action") {
	case "approve", "reject":
		_, err = c.cfg.Service.DecideApplication(q.ctx(), connect.NewRequest(&pb.DecideApplicationRequest{Id: id,
			Approve: f.Get("action") == "approve", Reason: strings.TrimSpace(f.Get("reason")), Part: f.Get("part")}))
	case "supplement":
		var mats []string
		for _, m := range strings.FieldsFunc(f.Get("materials"), func(r rune) bool { return r == '、' || r == ',' || r == '，' || r == '\n' }) {
			if m = strings.TrimSpace(m); m != "" {
				mats = append(mats, m)
			}
		}
		_, err = c.cfg.Service.RequestSupplement(q.ctx(), connect.NewRequest(&pb.RequestSupplementRequest{Id: id,
			Materials: mats, Reason: strings.TrimSpace(f.Get("reason"))}))
	default:
		return store.Invalid("action", "请选择准予、不予或要求补正")
	}
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/apps/"+id, http.StatusSeeOther)
	return nil
}

// supply records materials handed in at the window: a 容缺 material, or
// what a supplement request asked for.
func (c *Console) supply(q *request) error {
	id := q.r.PathValue("id")
	_, err := c.cfg.Service.SupplyMaterials(q.ctx(), connect.NewRequest(&pb.SupplyMaterialsRequest{Id: id, Materials: q.r.PostForm["material"]}))
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/apps/"+id, http.StatusSeeOther)
	return nil
}

func (c *Console) deliver(q *request) error {
	f := q.r.PostForm
	id := q.r.PathValue("id")
	_, err := c.cfg.Service.DeliverApplication(q.ctx(), connect.NewRequest(&pb.DeliverApplicationRequest{Id: id,
		Method: f.Get("method"), Tracking: strings.TrimSpace(f.Get("tracking"))}))
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/apps/"+id, http.StatusSeeOther)
	return nil
}

// rateScores are the rating screen's buttons, best first.
var rateScores = []struct {
	Score int
	Label string
}{{5, "非常满意"}, {4, "满意"}, {3, "基本满意"}, {2, "不满意"}, {1, "非常不满意"}}

type rateData struct {
	ID      string
	Scores  any
	Score   int
	Comment string
}

func (c *Console) rateForm(q *request) error {
	c.render(q.w, q, http.StatusOK, "rate", "请您评价", rateData{ID: q.r.PathValue("id"), Scores: rateScores}, nil, "")
	return nil
}

func (c *Console) rate(q *request) error {
	f := q.r.PostForm
	id := q.r.PathValue("id")
	score, _ := strconv.Atoi(f.Get("score"))
	d := rateData{ID: id, Scores: rateScores, Score: score, Comment: strings.TrimSpace(f.Get("comment"))}
	_, err := c.cfg.Service.RateApplication(q.ctx(), connect.NewRequest(&pb.RateApplicationRequest{Id: id, Score: uint32(score), Comment: d.Comment}))
	if err != nil {
		if statusOf(err) != http.StatusBadRequest {
			return err
		}
		field, msg := formField(err)
		c.render(q.w, q, http.StatusBadRequest, "rate", "请您评价", d, map[string]string{field: msg, "": msg}, "")
		return nil
	}
	c.render(q.w, q, http.StatusOK, "rated", "谢谢您的评价", d, nil, "")
	return nil
}
