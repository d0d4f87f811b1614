package cli

import (
	"fmt"
	"io"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
)

// AppRefuseOptions are the flags of `app refuse`.
type AppRefuseOptions struct {
	Matter        string
	ApplicantName string
	ApplicantID   string
	Phone         string
	Reason        string
}

func newAppRefuseCmd(f *Factory) *cobra.Command {
	o := &AppRefuseOptions{}
	cmd := &cobra.Command{
		Use:   "refuse --matter 事项 --applicant-name 姓名 --applicant-id 身份证号 --reason 理由",
		Short: "不予受理：申请人不符合条件或事项不属本窗口受理范围时，登记理由并打印不予受理告知书（计入统计）",
		Example: `  jiujin app refuse --matter 老年证 --applicant-name 李建国 --applicant-id 330324196604053017 \
      --reason 申请人未满六十周岁，不符合老年人优待证办理条件`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(o.Reason) == "" {
				return fmt.Errorf("--reason: 不予受理须写明理由（将印在告知书上）")
			}
			res, err := f.Apps().RefuseApplication(cmd.Context(), connect.NewRequest(&pb.RefuseApplicationRequest{
				MatterCode: o.Matter,
				Applicant:  &pb.Applicant{Name: o.ApplicantName, IdNumber: o.ApplicantID, Phone: o.Phone},
				Reason:     o.Reason,
			}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			printRefusalNotice(f.Out, res.Msg.GetRefusal())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Matter, "matter", "", "申请的事项：代码、名称或常用名，如 MZ-005、老年证（必填）")
	fl.StringVar(&o.ApplicantName, "applicant-name", "", "申请人姓名（必填）")
	fl.StringVar(&o.ApplicantID, "applicant-id", "", "申请人 18 位居民身份证号（必填）")
	fl.StringVar(&o.Phone, "phone", "", "申请人联系电话")
	fl.StringVar(&o.Reason, "reason", "", "不予受理的理由，至多 500 字，印在告知书上（必填）")
	for _, n := range []string{"matter", "applicant-name", "applicant-id", "reason"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// printRefusalNotice prints the 不予受理告知书 handed to the applicant.
func printRefusalNotice(w io.Writer, r *pb.Refusal) {
	unit := unitLabel(r.GetUnit(), r.GetUnitName())
	fmt.Fprintln(w, "═══════════ 不予受理告知书 ═══════════")
	fmt.Fprintf(w, "编号：%s\n", r.GetId())
	fmt.Fprintf(w, "%s（居民身份证 %s）：\n", r.GetApplicant().GetName(), r.GetApplicant().GetIdNumber())
	fmt.Fprintf(w, "  您于 %s 在%s申请办理“%s”（%s），经审查，本窗口决定不予受理。\n",
		when(r.GetRefusedAt()), unit, r.GetMatterName(), r.GetMatterCode())
	fmt.Fprintf(w, "  理由：%s\n", r.GetReason())
	fmt.Fprintln(w, "  如对本决定有异议，可向本窗口咨询，也可依法申请行政复议或者提起行政诉讼。")
	fmt.Fprintf(w, "经办人：%s\n", orNone(r.GetActor()))
	if r.GetUnitPhone() != "" || r.GetUnitAddress() != "" {
		fmt.Fprintf(w, "咨询电话：%s  地址：%s\n", orNone(r.GetUnitPhone()), orNone(r.GetUnitAddress()))
	}
	fmt.Fprintf(w, "%s  %s\n", orCode(r.GetUnitName(), r.GetUnit()), chineseDay(r))
	fmt.Fprintln(w, "══════════════════════════════════════")
}

// chineseDay is the refusal's day as a notice is dated: 2026年11月23日.
func chineseDay(r *pb.Refusal) string {
	if r.GetRefusedAt() == nil {
		return ""
	}
	t := r.GetRefusedAt().AsTime().In(delegation.China)
	return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
}

// AppRefusalsOptions are the flags of `app refusals`.
type AppRefusalsOptions struct {
	Matter   string
	Unit     string
	From, To string
	Limit    int
}

func newAppRefusalsCmd(f *Factory) *cobra.Command {
	o := &AppRefusalsOptions{}
	cmd := &cobra.Command{
		Use:   "refusals [编号]",
		Short: "列出不予受理的登记（最新在前）；给出编号时再打印一次该告知书",
		Example: `  jiujin app refusals
  jiujin app refusals --matter 老年证 --from 2026-11-01 --to 2026-11-30
  jiujin app refusals --unit 城关镇 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Limit < 0 || o.Limit > 1000 {
				return fmt.Errorf("--limit: 应在 1 到 1000 之间")
			}
			req := &pb.ListRefusalsRequest{MatterCode: o.Matter, Unit: o.Unit, From: o.From, To: o.To, Limit: uint32(o.Limit)}
			if len(args) == 1 {
				req.Id = args[0]
			}
			res, err := f.Apps().ListRefusals(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if f.json() {
					return f.printJSON(res.Msg.GetRefusals()[0])
				}
				printRefusalNotice(f.Out, res.Msg.GetRefusals()[0])
				return nil
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			t := &table{}
			t.add("编号", "时间", "事项", "申请人", "身份证号", "单位", "经办人", "理由")
			for _, r := range res.Msg.GetRefusals() {
				t.add(r.GetId(), when(r.GetRefusedAt()), truncate(r.GetMatterName(), 16), r.GetApplicant().GetName(),
					r.GetApplicant().GetIdNumber(), orCode(r.GetUnitName(), r.GetUnit()), r.GetActor(), truncate(r.GetReason(), 30))
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "共 %d 件，显示 %d 件\n", res.Msg.GetTotal(), len(res.Msg.GetRefusals()))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Matter, "matter", "", "只列出此事项（代码、名称或常用名）")
	fl.StringVar(&o.Unit, "unit", "", "只列出此单位及其下辖（代码或名称）")
	fl.StringVar(&o.From, "from", "", "不予受理日期起，YYYY-MM-DD")
	fl.StringVar(&o.To, "to", "", "不予受理日期止，YYYY-MM-DD")
	fl.IntVar(&o.Limit, "limit", 100, "最多列出这么多件")
	return cmd
}
