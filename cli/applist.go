package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// AppListOptions are the flags of `app list`.
type AppListOptions struct {
	State      string
	Matter     string
	Department string
	Applicant  string
	Overdue    bool
	Mine       bool
	All        bool
	Limit      int
}

func newAppListCmd(f *Factory) *cobra.Command {
	o := &AppListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "列出办件（最新在前），显示剩余时限和超期",
		Example: `  jiujin app list --mine                  # 本单位待办：等本单位办理的，最早到期的在前
  jiujin app list --mine --all            # 本单位持有的全部办件，含已出件、已评价、已撤回
  jiujin app list --department 民政 --matter 低保
  jiujin app list --applicant 王秀英
  jiujin app list --overdue`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Limit < 0 {
				return fmt.Errorf("--limit: 不能为负")
			}
			if o.All && !o.Mine {
				return fmt.Errorf("--all: 与 --mine 一起用（列出本单位持有的全部办件）")
			}
			req := &pb.ListApplicationsRequest{State: o.State, MatterCode: o.Matter, Department: o.Department,
				OverdueOnly: o.Overdue, HeldOnly: o.Mine, Mine: o.Mine && !o.All, Limit: uint32(o.Limit)}
			if rules.LooksLikeIDNumber(o.Applicant) {
				// Sent as its digest: the number does not leave this machine.
				req.ApplicantIdSha256 = rules.IDDigest(o.Applicant)
			} else {
				req.Applicant = o.Applicant
			}
			res, err := f.Apps().ListApplications(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			t := &table{}
			t.add("办件编号", "事项", "申请人", "身份证号", "状态", "持有", "时限", "上报")
			for _, a := range res.Msg.GetApplications() {
				t.add(a.GetId(), truncate(a.GetMatterName(), 24), a.GetApplicant().GetName(), a.GetApplicant().GetIdNumber(),
					rules.StateLabel(a.GetState()), orCode(a.GetHolderName(), a.GetHolder()), timeLeft(a), upstreamCell(a))
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "共 %d 件，显示 %d 件\n", res.Msg.GetTotal(), len(res.Msg.GetApplications()))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.State, "state", "", "只列出此状态："+strings.Join(rules.States, "、"))
	fl.StringVar(&o.Matter, "matter", "", "只列出此事项（代码、名称或常用名，如 低保），含一件事中的子事项")
	fl.StringVar(&o.Department, "department", "", "只列出此部门（代码或名称，如 民政）的办件，含一件事中的子事项")
	fl.StringVar(&o.Applicant, "applicant", "", "申请人姓名（部分即可）或身份证号（只以摘要查找，不外传）")
	fl.BoolVar(&o.Overdue, "overdue", false, "只列出已超期、尚未办结的办件")
	fl.BoolVar(&o.Mine, "mine", false, "本单位待办：本单位持有、尚未出件的办件和本单位办理的子事项，最早到期的在前")
	fl.BoolVar(&o.All, "all", false, "与 --mine 一起：本单位持有的全部办件，含已出件、已评价、已撤回")
	fl.IntVar(&o.Limit, "limit", 100, "最多列出这么多件")
	return cmd
}
