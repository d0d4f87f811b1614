package web

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// --- 统计

type statsData struct {
	Unit, Department, From, To string
	Stats                      *pb.GetStatsResponse
	// Charts drawn on the server.
	Shares, Ratings template.HTML
}

func (c *Console) statsRequest(q *request) (*pb.GetStatsRequest, statsData) {
	qs := q.r.URL.Query()
	d := statsData{Unit: strings.TrimSpace(qs.Get("unit")), Department: strings.TrimSpace(qs.Get("department")),
		From: strings.TrimSpace(qs.Get("from")), To: strings.TrimSpace(qs.Get("to"))}
	return &pb.GetStatsRequest{Unit: d.Unit, Department: d.Department, From: d.From, To: d.To}, d
}

func (c *Console) stats(q *request) error {
	req, d := c.statsRequest(q)
	if err := c.cfg.Rules.Normalize(req); err != nil {
		field, msg := formField(err)
		c.render(q.w, q, http.StatusOK, "stats", "改革指标", d, map[string]string{field: msg}, "")
		return nil
	}
	res, err := c.cfg.Service.GetStats(q.ctx(), connect.NewRequest(req))
	if err != nil {
		if statusOf(err) == http.StatusBadRequest {
			field, msg := formField(err)
			c.render(q.w, q, http.StatusOK, "stats", "改革指标", d, map[string]string{field: msg}, "")
			return nil
		}
		return err
	}
	s := res.Msg
	d.Stats = s
	d.Shares = barChart([]bar{
		{"最多跑一次", s.GetOneTripShare()}, {"零上门", s.GetZeroVisitShare()}, {"按时办结率", s.GetOnTimeRate()},
		{"时限压缩", s.GetCompression()}, {"就近办", s.GetNearbyShare()},
	}, true)
	var ratings []bar
	var most uint64
	for _, n := range s.GetSatisfactionDistribution() {
		most = max(most, n)
	}
	for i, n := range s.GetSatisfactionDistribution() {
		v := 0.0
		if most > 0 {
			v = float64(n) / float64(most)
		}
		ratings = append(ratings, bar{fmt.Sprintf("%d 分（%d 件）", i+1, n), v})
	}
	d.Ratings = barChart(ratings, false)
	c.render(q.w, q, http.StatusOK, "stats", "改革指标", d, nil, "")
	return nil
}

// statsCSV is the figures as a spreadsheet reads them (UTF-8 with BOM, so
// that a spreadsheet on a Chinese desktop opens it right).
func (c *Console) statsCSV(q *request) error {
	req, _ := c.statsRequest(q)
	if err := c.cfg.Rules.Normalize(req); err != nil {
		return err
	}
	res, err := c.cfg.Service.GetStats(q.ctx(), connect.NewRequest(req))
	if err != nil {
		return err
	}
	s := res.Msg
	q.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	q.w.Header().Set("Content-Disposition", `attachment; filename="jiujin-stats.csv"`)
	_, _ = q.w.Write([]byte("\uFEFF"))
	w := csv.NewWriter(q.w)
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	rows := [][]string{
		{"指标", "值"},
		{"单位", unitLabel(s.GetUnit(), s.GetUnitName())}, {"部门", unitLabel(s.GetDepartment(), s.GetDepartmentName())},
		{"受理起", req.GetFrom()}, {"受理止", req.GetTo()},
		{"事项数", fmt.Sprint(s.GetMatters())}, {"最多跑一次", pct(s.GetOneTripShare())}, {"零上门", pct(s.GetZeroVisitShare())},
		{"受理", fmt.Sprint(s.GetAccepted())}, {"办结", fmt.Sprint(s.GetDecided())}, {"按时", fmt.Sprint(s.GetOnTime())},
		{"提前", fmt.Sprint(s.GetEarly())}, {"超期", fmt.Sprint(s.GetOverdue())}, {"按时办结率", pct(s.GetOnTimeRate())},
		{"平均用时（工作日）", fmt.Sprintf("%.1f", s.GetAverageWorkingDays())}, {"平均法定时限（工作日）", fmt.Sprintf("%.1f", s.GetAverageStatutoryDays())},
		{"时限压缩", pct(s.GetCompression())}, {"评价", fmt.Sprint(s.GetRated())}, {"平均评分", fmt.Sprintf("%.2f", s.GetSatisfaction())},
		{"就近办", pct(s.GetNearbyShare())}, {"撤回", fmt.Sprint(s.GetWithdrawn())}, {"容缺逾期自动撤回", fmt.Sprint(s.GetWithdrawnBySweep())},
		{"不予受理", fmt.Sprint(s.GetRefused())},
	}
	for i, n := range s.GetSatisfactionDistribution() {
		rows = append(rows, []string{fmt.Sprintf("%d 分", i+1), fmt.Sprint(n)})
	}
	if err := w.WriteAll(rows); err != nil {
		c.cfg.Logger.Warn("stats csv", "err", err)
	}
	return nil
}

type bar struct {
	label string
	value float64 // 0..1
}

// barChart draws horizontal bars as SVG, each labelled in words (the
// chart is read without colour too).
func barChart(bars []bar, percent bool) template.HTML {
	const rowH, labelW, barW = 34, 170, 360
	var b strings.Builder
	h := rowH*len(bars) + 8
	fmt.Fprintf(&b, `<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		labelW+barW+90, h, labelW+barW+90, h)
	for i, x := range bars {
		v := min(max(x.value, 0), 1)
		y := i*rowH + 4
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="label">%s</text>`, labelW-8, y+20, template.HTMLEscapeString(x.label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="22" class="track"/>`, labelW, y+4, barW)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="22" class="fill"/>`, labelW, y+4, v*barW)
		if percent {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%.1f%%</text>`, labelW+barW+8, y+20, 100*x.value)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// --- 下级节点（链路图）

type linksData struct {
	Status   *pb.GetStatusResponse
	Children []*pb.ChildStatus
}

func (c *Console) links(q *request) error {
	res, err := c.cfg.Service.GetStatus(q.ctx(), connect.NewRequest(&pb.GetStatusRequest{}))
	if err != nil {
		return err
	}
	c.render(q.w, q, http.StatusOK, "links", "链路", linksData{Status: res.Msg, Children: res.Msg.GetChildren()}, nil, "")
	return nil
}
