package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// StatsOptions are the flags of `stats`.
type StatsOptions struct {
	Unit       string
	Department string
	From, To   string
}

func newStatsCmd(f *Factory) *cobra.Command {
	o := &StatsOptions{}
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "改革指标：最多跑一次率、零上门率、按时办结率、时限压缩、满意度、就近办比例",
		Example: `  jiujin stats
  jiujin stats --unit 330324101 --from 2026-11-01 --to 2026-11-30 -o json
  jiujin stats --department MZ
  jiujin stats --unit 城关镇 --department 民政`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Node().GetStats(cmd.Context(), connect.NewRequest(&pb.GetStatsRequest{Unit: o.Unit, Department: o.Department, From: o.From, To: o.To}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			s := res.Msg
			pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
			w := f.Out
			scope := "全县"
			if s.GetUnit() != "" {
				scope = unitLabel(s.GetUnit(), s.GetUnitName()) + "及下辖"
			}
			if s.GetDepartment() != "" {
				scope += "，" + unitLabel(s.GetDepartment(), s.GetDepartmentName())
			}
			fmt.Fprintf(w, "范围：%s\n", scope)
			fmt.Fprintf(w, "事项 %d 项：最多跑一次 %s，零上门 %s\n", s.GetMatters(), pct(s.GetOneTripShare()), pct(s.GetZeroVisitShare()))
			fmt.Fprintf(w, "受理 %d 件，办结 %d 件；按时 %d 件（按时办结率 %s），提前 %d 件，超期 %d 件（含超期后撤回的）\n",
				s.GetAccepted(), s.GetDecided(), s.GetOnTime(), pct(s.GetOnTimeRate()), s.GetEarly(), s.GetOverdue())
			fmt.Fprintf(w, "撤回 %d 件，其中容缺材料逾期自动撤回 %d 件\n", s.GetWithdrawn(), s.GetWithdrawnBySweep())
			fmt.Fprintf(w, "不予受理 %d 件（窗口当场不予受理并告知理由的，不计入受理）\n", s.GetRefused())
			fmt.Fprintf(w, "平均用时 %.1f 个工作日（法定 %.1f），时限压缩 %s\n", s.GetAverageWorkingDays(), s.GetAverageStatutoryDays(), pct(s.GetCompression()))
			var dist []string
			for i, n := range s.GetSatisfactionDistribution() {
				dist = append(dist, fmt.Sprintf("%d分 %d 件", i+1, n))
			}
			fmt.Fprintf(w, "评价 %d 件，平均 %.2f 分：%s\n", s.GetRated(), s.GetSatisfaction(), strings.Join(dist, "，"))
			fmt.Fprintf(w, "就近办（在办理单位以外受理）：%s\n", pct(s.GetNearbyShare()))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Unit, "unit", "", "单位（代码或名称）：统计其下辖范围内受理或办结的办件")
	fl.StringVar(&o.Department, "department", "", "部门：代码或名称，如 MZ、民政")
	fl.StringVar(&o.From, "from", "", "受理日期起，YYYY-MM-DD")
	fl.StringVar(&o.To, "to", "", "受理日期止，YYYY-MM-DD")
	return cmd
}
