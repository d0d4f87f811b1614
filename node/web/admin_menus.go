package web

// 乡镇分类与菜单 (township classes and their menus, 按需点单), the negative
// list (负面清单), and a township's own order: the county administrator
// sets classes and the negative list at the county's node (SetClass,
// SetNegativeList); a township's clerk orders from its class's menu at the
// township's node (OrderMatters).

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// splitList splits what a person typed into items: one a line, or
// separated by 、 or commas (or semicolons).
func splitList(s string) []string {
	var out []string
	for _, x := range strings.FieldsFunc(s, func(r rune) bool {
		return r == '\n' || r == '\r' || r == '、' || r == ',' || r == '，' || r == ';' || r == '；'
	}) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// matterLabel is a matter as people read it: 临时救助（MZ-004).
func (c *Console) matterLabel(code string) string {
	if m, err := c.cfg.Rules.GetMatter(code); err == nil && m.GetName() != "" {
		return m.GetName() + "（" + code + "）"
	}
	return code
}

// matterText is what a form shows for a matter: its name where the name
// finds it again, else its code.
func (c *Console) matterText(code string) string {
	if m, err := c.cfg.Rules.GetMatter(code); err == nil && m.GetName() != "" {
		if back, err := c.cfg.Rules.ResolveMatter("matter", m.GetName()); err == nil && back == code {
			return m.GetName()
		}
	}
	return code
}

// unitText is what a form shows for a unit: its name where the name finds
// it again, else its code.
func (c *Console) unitText(code string) string {
	if n := c.cfg.Rules.UnitName(code); n != "" && n != code {
		if back, err := c.cfg.Rules.ResolveUnit("unit", n); err == nil && back == code {
			return n
		}
	}
	return code
}

// indexRE finds the item a rule's field names: class.menu[2], matters[0].
var indexRE = regexp.MustCompile(`\[(\d+)\]`)

func fieldIndex(field string) int {
	m := indexRE.FindStringSubmatch(field)
	if m == nil {
		return -1
	}
	i, _ := strconv.Atoi(m[1])
	return i
}

// itemMessage names the item of a list a refusal is about, where its
// message does not already.
func itemMessage(items []string, i int, msg string) string {
	if i < 0 || i >= len(items) || strings.Contains(msg, items[i]) {
		return msg
	}
	return fmt.Sprintf("第 %d 项「%s」：%s", i+1, items[i], msg)
}

// refused is whether err is a refusal to show next to the form (else the
// error page).
func refused(err error) bool {
	s := statusOf(rpc.ConnectError(err))
	return s == http.StatusBadRequest || s == http.StatusNotFound
}

// --- 乡镇分类与菜单

type menusData struct {
	Classes []classRow
	Orders  []orderRow
	// Unclassed: the county's townships (of those named) in no class.
	Unclassed []string
	// The form, as typed or as the class to edit is.
	Code, Name, Townships, Menu string
	Editing                     bool
	Saved                       string
}

type classRow struct {
	C         *pb.TownshipClass
	Townships []string
	Menu      []string
}

type orderRow struct {
	Township, Class string
	Matters         []string
	O               *pb.TownshipOrder
}

func (c *Console) menusPage(q *request, d menusData) (menusData, error) {
	res, err := c.cfg.Service.ListClasses(q.ctx(), connect.NewRequest(&pb.ListClassesRequest{}))
	if err != nil {
		return d, err
	}
	orders := map[string]*pb.TownshipOrder{}
	for _, o := range res.Msg.GetOrders() {
		orders[o.GetTownship()] = o
	}
	classed := map[string]bool{}
	for _, cl := range res.Msg.GetClasses() {
		row := classRow{C: cl}
		for _, t := range cl.GetTownships() {
			row.Townships = append(row.Townships, c.cfg.Rules.UnitLabel(t))
			classed[t] = true
			or := orderRow{Township: c.cfg.Rules.UnitLabel(t), Class: cl.GetName(), O: orders[t]}
			if o := orders[t]; o != nil && o.GetClassCode() == cl.GetCode() {
				for _, m := range o.GetMatters() {
					or.Matters = append(or.Matters, c.matterLabel(m))
				}
			} else {
				or.O = nil // ordered from a class it has left: nothing in force
			}
			d.Orders = append(d.Orders, or)
		}
		for _, m := range cl.GetMenu() {
			row.Menu = append(row.Menu, c.matterLabel(m))
		}
		d.Classes = append(d.Classes, row)
	}
	units, err := c.cfg.Rules.Units()
	if err != nil {
		return d, err
	}
	county := c.cfg.Rules.Unit().County()
	var codes []string
	for code := range units {
		if u, err := tiers.Parse(code); err == nil && u.Tier() == tiers.Township && u.Parent() == county && !classed[code] {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	for _, code := range codes {
		d.Unclassed = append(d.Unclassed, c.cfg.Rules.UnitLabel(code))
	}
	return d, nil
}

func (c *Console) adminMenus(q *request) error {
	qs := q.r.URL.Query()
	d := menusData{Saved: qs.Get("saved")}
	d, err := c.menusPage(q, d)
	if err != nil {
		return err
	}
	if code := strings.TrimSpace(qs.Get("edit")); code != "" {
		for _, row := range d.Classes {
			if cl := row.C; cl.GetCode() == code {
				d.Code, d.Name, d.Editing = cl.GetCode(), cl.GetName(), true
				var ts, ms []string
				for _, t := range cl.GetTownships() {
					ts = append(ts, c.unitText(t))
				}
				for _, m := range cl.GetMenu() {
					ms = append(ms, c.matterText(m))
				}
				d.Townships, d.Menu = strings.Join(ts, "\n"), strings.Join(ms, "\n")
			}
		}
	}
	c.render(q.w, q, http.StatusOK, "admin_menus", "乡镇分类与菜单", d, nil, "")
	return nil
}

// setClass sets (or replaces) a class: its name, townships and menu; a
// refusal is shown next to its field, naming the item, the form kept.
func (c *Console) setClass(q *request) error {
	f := q.r.PostForm
	d := menusData{Code: strings.TrimSpace(f.Get("code")), Name: strings.TrimSpace(f.Get("name")),
		Townships: f.Get("townships"), Menu: f.Get("menu"), Editing: f.Get("editing") == "1"}
	ts, ms := splitList(d.Townships), splitList(d.Menu)
	req := &pb.SetClassRequest{Class: &pb.TownshipClass{Code: d.Code, Name: d.Name,
		Townships: slices.Clone(ts), Menu: slices.Clone(ms)}}
	err := c.cfg.Rules.Normalize(req)
	if err == nil && len(ms) == 0 {
		err = store.Invalid("class.menu", "请至少填一个事项（名称、常用名或代码，如 低保）")
	}
	var res *connect.Response[pb.SetClassResponse]
	if err == nil {
		res, err = c.cfg.Service.SetClass(q.ctx(), connect.NewRequest(req))
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		field, msg := adminField(err)
		switch {
		case field == "class.code":
			field = "code"
		case field == "class.name":
			field = "name"
		case strings.HasPrefix(field, "class.townships"):
			field, msg = "townships", itemMessage(ts, fieldIndex(field), msg)
		case strings.HasPrefix(field, "class.menu"):
			field, msg = "menu", itemMessage(ms, fieldIndex(field), msg)
		default:
			field = ""
		}
		d, lerr := c.menusPage(q, d)
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_menus", "乡镇分类与菜单", d, map[string]string{field: msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/admin/menus?saved="+urlQueryEscape(res.Msg.GetClass().GetCode()), http.StatusSeeOther)
	return nil
}

// --- 负面清单

type negativeData struct {
	Version uint64
	Rows    []negativeRow
	// Text: the list as lines 事项:村, as typed or as it is.
	Text  string
	Saved bool
}

type negativeRow struct{ Matter, Tier string }

// tierWords are what a person may type for a tier in the negative list.
var tierWords = map[string]string{"村": "village", "村（社区）": "village", "村(社区)": "village", "社区": "village", "村社": "village",
	"village": "village", "乡镇": "township", "乡": "township", "镇": "township", "街道": "township", "township": "township"}

var tierNames = map[string]string{"village": "村（社区）", "township": "乡镇"}

func (c *Console) negativePage(q *request, d negativeData, keepText bool) (negativeData, error) {
	res, err := c.cfg.Service.GetNegativeList(q.ctx(), connect.NewRequest(&pb.GetNegativeListRequest{}))
	if err != nil {
		return d, err
	}
	l := res.Msg.GetList()
	d.Version = l.GetVersion()
	var lines []string
	for _, e := range l.GetEntries() {
		d.Rows = append(d.Rows, negativeRow{Matter: c.matterLabel(e.GetMatterCode()), Tier: orCode(tierNames[e.GetTier()], e.GetTier())})
		lines = append(lines, c.matterText(e.GetMatterCode())+":"+orCode(map[string]string{"village": "村", "township": "乡镇"}[e.GetTier()], e.GetTier()))
	}
	if !keepText {
		d.Text = strings.Join(lines, "\n")
	}
	return d, nil
}

func (c *Console) adminNegative(q *request) error {
	d, err := c.negativePage(q, negativeData{Saved: q.r.URL.Query().Get("saved") == "1"}, false)
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "admin_negative", "负面清单", d, nil, "")
	return nil
}

// parseNegative reads the lines 事项:村 / 事项:乡镇; lineOf[i] is the line
// number of entry i.
func (c *Console) parseNegative(text string) (entries []*pb.NegativeEntry, lines []string, lineOf []int, err error) {
	lines = strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for n, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		at := func(format string, args ...any) error {
			return store.Invalid("entries", "第 %d 行「%s」：%s", n+1, line, fmt.Sprintf(format, args...))
		}
		i := strings.LastIndexAny(line, ":：")
		if i < 0 {
			return nil, lines, nil, at("请写成 事项:村 或 事项:乡镇")
		}
		_, size := utf8.DecodeRuneInString(line[i:])
		matter, tierText := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+size:])
		tier := tierWords[tierText]
		if tier == "" {
			return nil, lines, nil, at("层级「%s」应为 村 或 乡镇（县级受理一切事项，不上负面清单）", tierText)
		}
		if matter == "" {
			return nil, lines, nil, at("冒号前请写事项（名称、常用名或代码）")
		}
		code, err := c.cfg.Rules.ResolveMatter("matter", matter)
		if err != nil {
			_, msg := formField(err)
			return nil, lines, nil, at("%s", msg)
		}
		entries = append(entries, &pb.NegativeEntry{MatterCode: code, Tier: tier})
		lineOf = append(lineOf, n)
	}
	return entries, lines, lineOf, nil
}

// setNegative replaces the negative list with the lines of the form.
func (c *Console) setNegative(q *request) error {
	d := negativeData{Text: q.r.PostForm.Get("entries")}
	entries, lines, lineOf, err := c.parseNegative(d.Text)
	if err == nil {
		_, err = c.cfg.Service.SetNegativeList(q.ctx(), connect.NewRequest(&pb.SetNegativeListRequest{Entries: entries}))
		if err != nil && refused(err) {
			// The rules name entries[i]: say which line.
			field, msg := adminField(err)
			if i := fieldIndex(field); i >= 0 && i < len(lineOf) {
				n := lineOf[i]
				if msg == "重复" {
					msg = "与前面的一行重复"
				}
				msg = fmt.Sprintf("第 %d 行「%s」：%s", n+1, strings.TrimSpace(lines[n]), msg)
			}
			err = store.Invalid("entries", "%s", msg)
		}
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		_, msg := adminField(err)
		d, lerr := c.negativePage(q, d, true)
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_negative", "负面清单", d, map[string]string{"entries": msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/admin/negative?saved=1", http.StatusSeeOther)
	return nil
}

// --- 按需点单 (a township's own act)

type orderData struct {
	// AtTownship: this node is a township's, where orders are placed.
	AtTownship bool
	Township   string
	Tier       string
	Class      *pb.TownshipClass
	Options    []orderOption
	// Order: the order in force (of this township, or at a village, of
	// its township), its matters by name.
	Order   *pb.TownshipOrder
	Ordered []string
	Saved   bool
}

type orderOption struct {
	Code, Name string
	Checked    bool
}

func (c *Console) orderPage(q *request, d orderData, chosen []string) (orderData, error) {
	unit := c.cfg.Rules.Unit()
	d.Tier = unit.Tier().Label()
	township := unit
	switch unit.Tier() {
	case tiers.Township:
		d.AtTownship = true
	case tiers.Village:
		township = unit.Parent()
	default:
		return d, nil
	}
	d.Township = c.cfg.Rules.UnitLabel(string(township))
	res, err := c.cfg.Service.ListClasses(q.ctx(), connect.NewRequest(&pb.ListClassesRequest{}))
	if err != nil {
		return d, err
	}
	for _, cl := range res.Msg.GetClasses() {
		if slices.Contains(cl.GetTownships(), string(township)) {
			d.Class = cl
		}
	}
	for _, o := range res.Msg.GetOrders() {
		if o.GetTownship() == string(township) && o.GetClassCode() == d.Class.GetCode() {
			d.Order = o
			for _, m := range o.GetMatters() {
				d.Ordered = append(d.Ordered, c.matterLabel(m))
			}
		}
	}
	if chosen == nil {
		chosen = d.Order.GetMatters()
	}
	for _, m := range d.Class.GetMenu() {
		name := m
		if x, err := c.cfg.Rules.GetMatter(m); err == nil {
			name = x.GetName()
		}
		d.Options = append(d.Options, orderOption{Code: m, Name: name, Checked: slices.Contains(chosen, m)})
	}
	return d, nil
}

func (c *Console) orders(q *request) error {
	d, err := c.orderPage(q, orderData{Saved: q.r.URL.Query().Get("saved") == "1"}, nil)
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "menus", "按需点单", d, nil, "")
	return nil
}

// order replaces this township's order with the matters ticked.
func (c *Console) order(q *request) error {
	chosen := q.r.PostForm["matter"]
	if chosen == nil {
		chosen = []string{}
	}
	req := &pb.OrderMattersRequest{Matters: slices.Clone(chosen)}
	err := c.cfg.Rules.Normalize(req)
	if err == nil {
		_, err = c.cfg.Service.OrderMatters(q.ctx(), connect.NewRequest(req))
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		field, msg := adminField(err)
		if strings.HasPrefix(field, "matters") {
			field = "matters"
		} else {
			field = ""
		}
		d, lerr := c.orderPage(q, orderData{}, chosen)
		if lerr != nil {
			return lerr
		}
		c.render(q.w, q, http.StatusBadRequest, "menus", "按需点单", d, map[string]string{field: msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/menus?saved=1", http.StatusSeeOther)
	return nil
}
