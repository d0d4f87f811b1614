package cli

import (
	"fmt"
	"io"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/rules"
)

func newAppCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "办件：accept 受理、refuse 不予受理、list 列表、show 详情、receipt 补打回执、supplement 补正、decide 办结、deliver 出件、rate 评价、withdraw 撤回、forward 改派",
	}
	cmd.AddCommand(newAppAcceptCmd(f), newAppListCmd(f), newAppShowCmd(f), newAppReceiptCmd(f), newAppSupplementCmd(f),
		newAppDecideCmd(f), newAppDeliverCmd(f), newAppRateCmd(f), newAppWithdrawCmd(f), newAppForwardCmd(f),
		newAppFollowUpsCmd(f), newAppFollowUpCmd(f), newAppRefuseCmd(f), newAppRefusalsCmd(f))
	return cmd
}

// AppAcceptOptions are the flags of `app accept`.
type AppAcceptOptions struct {
	Matter        string
	ApplicantName string
	ApplicantID   string
	Phone         string
	Materials     []string
	Missing       []string
	Note          string
}

func newAppAcceptCmd(f *Factory) *cobra.Command {
	o := &AppAcceptOptions{}
	cmd := &cobra.Command{
		Use:   "accept",
		Short: "受理一件申请，打印受理回执",
		Example: `  jiujin app accept --matter MZ-001 --applicant-name 王秀英 --applicant-id 330324195803121225 \
      --material 最低生活保障申请书 --material 家庭成员居民身份证 --material 家庭经济状况核对授权书 \
      --material 家庭收入及财产状况申报表 --missing 家庭成员居民户口簿`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Apps().AcceptApplication(cmd.Context(), connect.NewRequest(&pb.AcceptApplicationRequest{
				MatterCode: o.Matter,
				Applicant:  &pb.Applicant{Name: o.ApplicantName, IdNumber: o.ApplicantID, Phone: o.Phone},
				Materials:  o.Materials, Missing: o.Missing, Note: o.Note,
			}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			printReceipt(f.Out, res.Msg.GetReceipt())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Matter, "matter", "", "事项：代码、名称或常用名，如 MZ-001、低保（必填）")
	fl.StringVar(&o.ApplicantName, "applicant-name", "", "申请人姓名（必填）")
	fl.StringVar(&o.ApplicantID, "applicant-id", "", "申请人 18 位居民身份证号（必填）")
	fl.StringVar(&o.Phone, "phone", "", "申请人联系电话")
	fl.StringArrayVar(&o.Materials, "material", nil, "已收取的材料名称，须与事项材料清单一致（可重复）")
	fl.StringArrayVar(&o.Missing, "missing", nil, "容缺受理的材料（可重复）")
	fl.StringVar(&o.Note, "note", "", "给办理单位的备注")
	for _, n := range []string{"matter", "applicant-name", "applicant-id"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func printReceipt(w io.Writer, r *pb.Receipt) {
	fmt.Fprintln(w, "══════════ 受理回执 ══════════")
	fmt.Fprintf(w, "办件编号：%s  校验码：%s\n", r.GetApplicationId(), r.GetCheckCode())
	fmt.Fprintf(w, "事项：%s %s\n", r.GetMatterCode(), r.GetMatterName())
	fmt.Fprintf(w, "申请人：%s（%s）\n", r.GetApplicantName(), r.GetApplicantIdNumber())
	fmt.Fprintf(w, "受理单位：%s  办理单位：%s\n", unitLabel(r.GetAcceptingUnit(), r.GetAcceptingUnitName()), unitLabel(r.GetProcessingUnit(), r.GetProcessingUnitName()))
	fmt.Fprintf(w, "受理时间：%s\n", when(r.GetAcceptedAt()))
	fmt.Fprintf(w, "已收材料：%s\n", listOrNone(r.GetMaterialsReceived()))
	if len(r.GetMaterialsMissing()) > 0 {
		fmt.Fprintf(w, "容缺材料：%s（请于 %s 前补齐）\n", strings.Join(r.GetMaterialsMissing(), "、"), r.GetSupplementDue())
	}
	fmt.Fprintf(w, "承诺办结：%s  法定期限：%s\n", dueDate(r.GetPromisedDue(), r.GetPromisedDueProvisional()), dueDate(r.GetStatutoryDue(), r.GetStatutoryDueProvisional()))
	fmt.Fprintf(w, "结果领取：本窗口领取或快递送达（%s）\n", visitsText(r.GetVisits()))
	if r.GetAcceptingUnitPhone() != "" || r.GetAcceptingUnitAddress() != "" {
		fmt.Fprintf(w, "咨询电话：%s  地址：%s\n", orNone(r.GetAcceptingUnitPhone()), orNone(r.GetAcceptingUnitAddress()))
	}
	fmt.Fprintln(w, "══════════════════════════════")
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "无"
	}
	return strings.Join(xs, "、")
}

func when(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().In(delegation.China).Format("2006-01-02 15:04")
}

// timeLeft renders the deadline column of a list.
func timeLeft(a *pb.Application) string {
	d := a.GetDeadline()
	switch a.GetState() {
	case rules.StateWithdrawn:
		return "—"
	case rules.StateApproved, rules.StateRejected, rules.StateDelivered, rules.StateRated:
		switch {
		case d.GetOverdue():
			return fmt.Sprintf("逾期办结（用时 %d 日）", d.GetWorkingDaysUsed())
		case d.GetPromiseBroken():
			return fmt.Sprintf("超承诺期、法定期限内办结（用时 %d 日）", d.GetWorkingDaysUsed())
		}
		return fmt.Sprintf("按时办结（用时 %d 日）", d.GetWorkingDaysUsed())
	}
	var s string
	switch {
	case d.GetOverdue():
		s = fmt.Sprintf("已超期 %d 日", -d.GetStatutoryDaysLeft())
	case d.GetPromiseBroken():
		s = fmt.Sprintf("超承诺期，法定期限剩 %d 日", d.GetStatutoryDaysLeft())
	default:
		s = fmt.Sprintf("剩 %d 日（承诺 %s）", d.GetPromisedDaysLeft(), d.GetPromisedDue())
		if d.GetPromisedProvisional() {
			s = fmt.Sprintf("剩 %d 日（承诺 %s，暂定）", d.GetPromisedDaysLeft(), d.GetPromisedDue())
		}
	}
	if d.GetPaused() {
		s = "补正中，暂停计时；" + s
	}
	if d.GetSupplementOverdue() {
		s += "；容缺材料逾期未补"
	}
	return s
}

// AppShowOptions are the flags of `app show`.
type AppShowOptions struct {
	Reveal bool
	Reason string
}

func newAppShowCmd(f *Factory) *cobra.Command {
	o := &AppShowOptions{}
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "显示一件办件及其全部经过；--reveal 显示完整身份证号（记入审计）",
		Example: "  jiujin app show 330324-20261122-000001\n  jiujin app show 330324-20261122-000001 --reveal --reason 核对身份",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Reveal && strings.TrimSpace(o.Reason) == "" {
				return fmt.Errorf("--reason: 查看完整身份证号须说明理由（将记入审计）")
			}
			res, err := f.Apps().GetApplication(cmd.Context(), connect.NewRequest(&pb.GetApplicationRequest{Id: args[0], Reveal: o.Reveal, RevealReason: o.Reason}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			printApplication(f.Out, res.Msg.GetApplication())
			fmt.Fprintln(f.Out, "经过：")
			for _, h := range res.Msg.GetHistory() {
				fmt.Fprintf(f.Out, "  %s  %s  %s  %s\n", when(h.GetAt()), orCode(h.GetUnitName(), h.GetUnit()), h.GetActor(), h.GetSummary())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Reveal, "reveal", false, "显示完整身份证号（记入审计，限审计员）")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "查看完整身份证号的理由")
	return cmd
}

func printApplication(w io.Writer, a *pb.Application) {
	fmt.Fprintf(w, "办件 %s  %s\n", a.GetId(), rules.StateLabel(a.GetState()))
	fmt.Fprintf(w, "  事项：%s %s（%s）\n", a.GetMatterCode(), a.GetMatterName(), orCode(a.GetDepartmentName(), a.GetDepartment()))
	fmt.Fprintf(w, "  申请人：%s  %s  %s\n", a.GetApplicant().GetName(), a.GetApplicant().GetIdNumber(), a.GetApplicant().GetPhone())
	fmt.Fprintf(w, "  受理：%s %s（%s）  办理单位：%s  当前持有：%s\n", unitLabel(a.GetAcceptingUnit(), a.GetAcceptingUnitName()), when(a.GetAcceptedAt()),
		a.GetAcceptedBy(), unitLabel(a.GetProcessingUnit(), a.GetProcessingUnitName()), unitLabel(a.GetHolder(), a.GetHolderName()))
	printUpstream(w, a)
	fmt.Fprintf(w, "  已收材料：%s\n", listOrNone(a.GetMaterialsReceived()))
	if len(a.GetMaterialsMissing()) > 0 {
		fmt.Fprintf(w, "  容缺待补：%s（期限 %s）\n", strings.Join(a.GetMaterialsMissing(), "、"), a.GetDeadline().GetSupplementDue())
	}
	if len(a.GetMaterialsRequested()) > 0 {
		fmt.Fprintf(w, "  待补正：%s\n", strings.Join(a.GetMaterialsRequested(), "、"))
	}
	d := a.GetDeadline()
	fmt.Fprintf(w, "  时限：承诺 %s，法定 %s，已用 %d 个工作日；%s\n", dueDate(d.GetPromisedDue(), d.GetPromisedProvisional()),
		dueDate(d.GetStatutoryDue(), d.GetStatutoryProvisional()), d.GetWorkingDaysUsed(), timeLeft(a))
	if len(a.GetTasks()) > 0 {
		fmt.Fprintln(w, "  一件事，并联办理：")
		labels := map[string]string{"open": "待办", "approved": "准予", "rejected": "不予"}
		for _, t := range a.GetTasks() {
			line := fmt.Sprintf("    %s %s（%s）— %s：%s", t.GetPartCode(), t.GetPartName(), orCode(t.GetDepartmentName(), t.GetDepartment()),
				unitLabel(t.GetProcessingUnit(), t.GetProcessingUnitName()), labels[t.GetState()])
			if t.GetDecision().GetReason() != "" {
				line += "，" + t.GetDecision().GetReason()
			}
			fmt.Fprintln(w, line)
		}
	}
	if dec := a.GetDecision(); dec != nil {
		verdict, reason := "不予", strings.TrimPrefix(dec.GetReason(), "不予：") // as an earlier release joined rejections
		if dec.GetApproved() {
			verdict, reason = "准予", dec.GetReason()
		}
		by := dec.GetUnit()
		if by == a.GetProcessingUnit() {
			by = unitLabel(by, a.GetProcessingUnitName())
		}
		fmt.Fprintf(w, "  决定：%s %s（%s，%s）\n", verdict, reason, by, when(dec.GetDecidedAt()))
	}
	if dl := a.GetDelivery(); dl != nil {
		how := "窗口领取"
		if dl.GetMethod() == "post" {
			how = "快递送达，单号 " + dl.GetTracking()
		}
		fmt.Fprintf(w, "  出件：%s（%s）\n", how, when(dl.GetDeliveredAt()))
	}
	if r := a.GetRating(); r != nil {
		fmt.Fprintf(w, "  评价：%d 分 %s\n", r.GetScore(), r.GetComment())
	}
	if wd := a.GetWithdrawal(); wd != nil {
		fmt.Fprintf(w, "  撤回：%s（%s）\n", wd.GetReason(), when(wd.GetWithdrawnAt()))
	}
}

// printChanged prints the outcome of a lifecycle verb.
func (f *Factory) printChanged(a *pb.Application, what string) error {
	if f.json() {
		return f.printJSON(a)
	}
	fmt.Fprintf(f.Out, "%s：办件 %s 现为「%s」，由 %s 持有\n", what, a.GetId(), rules.StateLabel(a.GetState()), unitLabel(a.GetHolder(), a.GetHolderName()))
	return nil
}

// printRequest tells the window that a request went to the holder.
func (f *Factory) printRequest(r *pb.Request, format string) error {
	if f.json() {
		return f.printJSON(r)
	}
	fmt.Fprintf(f.Out, format+"\n", r.GetHolder(), r.GetId())
	return nil
}

// AppSupplementOptions are the flags of `app supplement`.
type AppSupplementOptions struct {
	Request   bool
	Materials []string
	Reason    string
}

func newAppSupplementCmd(f *Factory) *cobra.Command {
	o := &AppSupplementOptions{}
	cmd := &cobra.Command{
		Use:   "supplement ID",
		Short: "补正：--request 由办理单位要求补正（暂停计时）；否则登记申请人补交的材料",
		Example: `  jiujin app supplement 330324-20261122-000001 --request --material 家庭成员居民户口簿 --reason 户口簿页不全
  jiujin app supplement 330324-20261122-000001 --material 家庭成员居民户口簿`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.Materials) == 0 {
				return fmt.Errorf("--material: 至少列出一项材料")
			}
			if o.Request {
				if strings.TrimSpace(o.Reason) == "" {
					return fmt.Errorf("--reason: 要求补正须说明理由")
				}
				res, err := f.Apps().RequestSupplement(cmd.Context(), connect.NewRequest(&pb.RequestSupplementRequest{Id: args[0], Materials: o.Materials, Reason: o.Reason}))
				if err != nil {
					return err
				}
				return f.printChanged(res.Msg.GetApplication(), "已要求补正，暂停计时")
			}
			if o.Reason != "" {
				return fmt.Errorf("--reason: 只与 --request 一起使用")
			}
			res, err := f.Apps().SupplyMaterials(cmd.Context(), connect.NewRequest(&pb.SupplyMaterialsRequest{Id: args[0], Materials: o.Materials}))
			if err != nil {
				return err
			}
			if r := res.Msg.GetRequest(); r != nil {
				return f.printRequest(r, "材料已收下，已请办理单位 %s 登记（请求 %s），登记后同步回本窗口")
			}
			return f.printChanged(res.Msg.GetApplication(), "材料已登记")
		},
	}
	cmd.Flags().BoolVar(&o.Request, "request", false, "要求申请人补正这些材料（办理单位用）")
	cmd.Flags().StringArrayVar(&o.Materials, "material", nil, "材料名称（可重复）")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "要求补正的理由（与 --request 一起用）")
	return cmd
}

// AppDecideOptions are the flags of `app decide`.
type AppDecideOptions struct {
	Approve bool
	Reject  bool
	Reason  string
	Part    string
}

func newAppDecideCmd(f *Factory) *cobra.Command {
	o := &AppDecideOptions{}
	cmd := &cobra.Command{
		Use:   "decide ID --approve|--reject --reason TEXT [--part CODE]",
		Short: "办结：准予或不予（不予须说明理由）；一件事按子事项（--part）分别办结，全部办结后自动汇总",
		Example: `  jiujin app decide 330324-20261122-000001 --approve --reason 材料齐全，符合条件
  jiujin app decide 330324101201-20261123-000002 --part GA-001 --approve`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Approve == o.Reject {
				return fmt.Errorf("--approve / --reject: 请二者选一")
			}
			res, err := f.Apps().DecideApplication(cmd.Context(), connect.NewRequest(&pb.DecideApplicationRequest{Id: args[0], Approve: o.Approve, Reason: o.Reason, Part: o.Part}))
			if err != nil {
				return err
			}
			what := "已办结"
			if o.Part != "" {
				what = "子事项 " + o.Part + " 已办结"
			}
			return f.printChanged(res.Msg.GetApplication(), what)
		},
	}
	cmd.Flags().BoolVar(&o.Approve, "approve", false, "准予")
	cmd.Flags().BoolVar(&o.Reject, "reject", false, "不予（须用 --reason 说明理由）")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "理由（不予时必填）")
	cmd.Flags().StringVar(&o.Part, "part", "", "一件事的子事项：代码或名称")
	return cmd
}

// AppDeliverOptions are the flags of `app deliver`.
type AppDeliverOptions struct {
	By       string
	Tracking string
}

func newAppDeliverCmd(f *Factory) *cobra.Command {
	o := &AppDeliverOptions{}
	cmd := &cobra.Command{
		Use:     "deliver ID [--by 窗口|邮寄] [--tracking 单号]",
		Short:   "出件：窗口领取，或快递送达（须快递单号）",
		Example: "  jiujin app deliver 330324-20261122-000001 --by 窗口\n  jiujin app deliver 330324-20261122-000001 --by 邮寄 --tracking SF1234567890",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Apps().DeliverApplication(cmd.Context(), connect.NewRequest(&pb.DeliverApplicationRequest{Id: args[0], Method: o.By, Tracking: o.Tracking}))
			if err != nil {
				return err
			}
			return f.printChanged(res.Msg.GetApplication(), "已出件")
		},
	}
	cmd.Flags().StringVar(&o.By, "by", "窗口", "出件方式：窗口（window，窗口领取）或 邮寄（post，快递送达）")
	cmd.Flags().StringVar(&o.Tracking, "tracking", "", "快递单号（快递送达时）")
	return cmd
}

// AppRateOptions are the flags of `app rate`.
type AppRateOptions struct {
	Score   int
	Comment string
}

func newAppRateCmd(f *Factory) *cobra.Command {
	o := &AppRateOptions{}
	cmd := &cobra.Command{
		Use:     "rate ID --score N [--comment TEXT]",
		Short:   "好差评：1-5 分，2 分及以下须填写意见",
		Example: "  jiujin app rate 330324-20261122-000001 --score 5",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Score < 1 || o.Score > 5 {
				return fmt.Errorf("--score: 评分应为 1 到 5，实为 %d", o.Score)
			}
			res, err := f.Apps().RateApplication(cmd.Context(), connect.NewRequest(&pb.RateApplicationRequest{Id: args[0], Score: uint32(o.Score), Comment: o.Comment}))
			if err != nil {
				return err
			}
			return f.printChanged(res.Msg.GetApplication(), "已评价")
		},
	}
	cmd.Flags().IntVar(&o.Score, "score", 0, "评分，1 到 5")
	cmd.Flags().StringVar(&o.Comment, "comment", "", "评价意见（1 分或 2 分时必填）")
	_ = cmd.MarkFlagRequired("score")
	return cmd
}

// AppWithdrawOptions are the flags of `app withdraw`.
type AppWithdrawOptions struct {
	Reason string
}

func newAppWithdrawCmd(f *Factory) *cobra.Command {
	o := &AppWithdrawOptions{}
	cmd := &cobra.Command{
		Use:     "withdraw ID --reason TEXT",
		Short:   "申请人撤回申请（办结前）",
		Example: "  jiujin app withdraw 330324-20261122-000001 --reason 申请人不再需要",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Apps().WithdrawApplication(cmd.Context(), connect.NewRequest(&pb.WithdrawApplicationRequest{Id: args[0], Reason: o.Reason}))
			if err != nil {
				return err
			}
			if r := res.Msg.GetRequest(); r != nil {
				return f.printRequest(r, "撤回申请已提交给办理单位 %s（请求 %s），确认后生效，结果同步回本窗口")
			}
			return f.printChanged(res.Msg.GetApplication(), "已撤回")
		},
	}
	cmd.Flags().StringVar(&o.Reason, "reason", "", "申请人撤回的理由（必填）")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// AppForwardOptions are the flags of `app forward`.
type AppForwardOptions struct {
	To     string
	Reason string
}

func newAppForwardCmd(f *Factory) *cobra.Command {
	o := &AppForwardOptions{}
	cmd := &cobra.Command{
		Use:     "forward ID --to UNIT --reason TEXT",
		Short:   "改派：持有单位把办件交给现在有权办理的单位（如下放撤销后改由县级办理），记入经过",
		Example: "  jiujin app forward 330324101201-20261123-000002 --to 330324 --reason 下放已撤销",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Apps().ForwardApplication(cmd.Context(), connect.NewRequest(&pb.ForwardApplicationRequest{Id: args[0], ToUnit: o.To, Reason: o.Reason}))
			if err != nil {
				return err
			}
			return f.printChanged(res.Msg.GetApplication(), "已改派")
		},
	}
	cmd.Flags().StringVar(&o.To, "to", "", "改派给的办理单位：代码或名称（必填）")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "理由（必填）")
	_ = cmd.MarkFlagRequired("to")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// AppFollowUpsOptions are the flags of `app followups`.
type AppFollowUpsOptions struct {
	Open bool
}

func newAppFollowUpsCmd(f *Factory) *cobra.Command {
	o := &AppFollowUpsOptions{}
	cmd := &cobra.Command{
		Use:   "followups",
		Short: "差评回访整改清单：1 个工作日内回访，15 个工作日内整改；县级可见全部",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Apps().ListFollowUps(cmd.Context(), connect.NewRequest(&pb.ListFollowUpsRequest{OpenOnly: o.Open}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			labels := followUpLabels
			t := &table{}
			t.add("办件编号", "评分", "意见", "负责单位", "回访期限", "整改期限", "状态")
			for _, fu := range res.Msg.GetFollowUps() {
				state := labels[fu.GetState()]
				if fu.GetCallbackOverdue() {
					state += "（回访超期）"
				}
				if fu.GetFixOverdue() {
					state += "（整改超期）"
				}
				t.add(fu.GetApplicationId(), fmt.Sprint(fu.GetScore()), truncate(fu.GetComment(), 24), fu.GetHolder(), fu.GetCallbackDue(), fu.GetFixDue(), state)
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "共 %d 件\n", len(res.Msg.GetFollowUps()))
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Open, "open", false, "只列出尚未整改完毕的")
	return cmd
}

// AppFollowUpOptions are the flags of `app followup`.
type AppFollowUpOptions struct {
	CalledBack bool
	Fixed      bool
	Note       string
}

func newAppFollowUpCmd(f *Factory) *cobra.Command {
	o := &AppFollowUpOptions{}
	cmd := &cobra.Command{
		Use:     "followup ID --called-back|--fixed --note TEXT",
		Short:   "登记差评的回访或整改（由作出决定的单位登记）",
		Example: "  jiujin app followup 330324101201-20261123-000001 --called-back --note 电话回访，已致歉",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.CalledBack == o.Fixed {
				return fmt.Errorf("--called-back / --fixed: 请二者选一")
			}
			step := "called_back"
			if o.Fixed {
				step = "fixed"
			}
			res, err := f.Apps().UpdateFollowUp(cmd.Context(), connect.NewRequest(&pb.UpdateFollowUpRequest{ApplicationId: args[0], Step: step, Note: o.Note}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			state := res.Msg.GetFollowUp().GetState()
			if l := followUpLabels[state]; l != "" {
				state = l
			}
			fmt.Fprintf(f.Out, "已登记：办件 %s 回访整改现为「%s」\n", args[0], state)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.CalledBack, "called-back", false, "已回访申请人")
	cmd.Flags().BoolVar(&o.Fixed, "fixed", false, "已整改完毕")
	cmd.Flags().StringVar(&o.Note, "note", "", "所做的事（必填）")
	_ = cmd.MarkFlagRequired("note")
	return cmd
}

// followUpLabels name a follow-up's states for people.
var followUpLabels = map[string]string{"open": "待回访", "called_back": "已回访，待整改", "fixed": "已整改"}

// visitsText is 最多跑几次 as the receipt says it.
func visitsText(n uint32) string {
	if n == 0 {
		return "本事项零上门"
	}
	return fmt.Sprintf("本事项最多跑 %d 次", n)
}
