package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
)

func newDelegationCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "delegation", Short: "事权下放：list 清单、grant 授予、revoke 撤销、route 由谁办理、classes 乡镇分类、menu 菜单、order 点单、negative 负面清单"}
	cmd.AddCommand(newDelegationListCmd(f), newDelegationGrantCmd(f), newDelegationRevokeCmd(f), newDelegationRouteCmd(f),
		newDelegationClassesCmd(f), newDelegationMenuCmd(f), newDelegationOrderCmd(f), newDelegationNegativeCmd(f))
	return cmd
}

func modeLabel(m string) string {
	if l, ok := delegation.ModeLabels[m]; ok {
		return l
	}
	return m
}

// DelegationListOptions are the flags of `delegation list`.
type DelegationListOptions struct {
	All    bool
	Matter string
	Unit   string
}

func newDelegationListCmd(f *Factory) *cobra.Command {
	o := &DelegationListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "列出生效中的下放、委托、代办（--all 含已到期和已撤销的）",
		Example: "  jiujin delegation list\n  jiujin delegation list --all --matter MZ-005",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Delegations().ListDelegations(cmd.Context(), connect.NewRequest(&pb.ListDelegationsRequest{All: o.All, MatterCode: o.Matter, Unit: o.Unit}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			t := &table{}
			t.add("编号", "事项", "单位", "方式", "生效", "截止", "版本", "授予人", "状态")
			for _, d := range res.Msg.GetDelegations() {
				state := "生效"
				if d.GetRevokedAt() != nil {
					state = "已撤销 " + when(d.GetRevokedAt()) + reasonLabel(d.GetRevokeReason())
				}
				until := d.GetUntil()
				if until == "" {
					until = "长期"
				}
				t.add(d.GetId(), d.GetMatterCode(), f.unitLabelOf(cmd.Context(), d.GetUnit()), modeLabel(d.GetMode()), d.GetFrom(), until,
					fmt.Sprint(d.GetVersion()), d.GetGrantedBy(), state)
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "共 %d 项\n", len(res.Msg.GetDelegations()))
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "也列出已到期和已撤销的")
	cmd.Flags().StringVar(&o.Matter, "matter", "", "只列出此事项（代码、名称或常用名）")
	cmd.Flags().StringVar(&o.Unit, "unit", "", "只列出此单位（代码或名称）")
	return cmd
}

func reasonLabel(r string) string {
	if r == "" {
		return ""
	}
	return "（" + r + "）"
}

// DelegationGrantOptions are the flags of `delegation grant`.
type DelegationGrantOptions struct {
	Matter string
	To     string
	Mode   string
	From   string
	Until  string
}

func newDelegationGrantCmd(f *Factory) *cobra.Command {
	o := &DelegationGrantOptions{}
	cmd := &cobra.Command{
		Use:   "grant --matter 事项 --to 单位 --mode 下放|委托|代办 [--from DATE] [--until DATE]",
		Short: "授予（仅县级节点）：下放给乡镇派出机构、委托乡镇政府，或允许某单位代办",
		Example: `  jiujin delegation grant --matter 老年证 --to 城关镇 --mode 下放
  jiujin delegation grant --matter MZ-006 --to 330324102 --mode entrust --until 2030-12-31`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Delegations().GrantDelegation(cmd.Context(), connect.NewRequest(&pb.GrantDelegationRequest{
				MatterCode: o.Matter, Unit: o.To, Mode: o.Mode, From: o.From, Until: o.Until}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			d := res.Msg.GetDelegation()
			fmt.Fprintf(f.Out, "已授予 %s：事项 %s %s给 %s，自 %s 起生效\n", d.GetId(), d.GetMatterCode(), modeLabel(d.GetMode()), f.unitLabelOf(cmd.Context(), d.GetUnit()), d.GetFrom())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Matter, "matter", "", "事项：代码、名称或常用名（必填）")
	fl.StringVar(&o.To, "to", "", "获得权限的单位：代码或名称，如 城关镇（必填）")
	fl.StringVar(&o.Mode, "mode", "", "方式：下放（devolve）、委托（entrust）或 代办（proxy）（必填）")
	fl.StringVar(&o.From, "from", "", "自此日起生效，YYYY-MM-DD（默认今天）")
	fl.StringVar(&o.Until, "until", "", "有效至此日，YYYY-MM-DD")
	for _, n := range []string{"matter", "to", "mode"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// DelegationRevokeOptions are the flags of `delegation revoke`.
type DelegationRevokeOptions struct {
	Reason string
}

func newDelegationRevokeCmd(f *Factory) *cobra.Command {
	o := &DelegationRevokeOptions{}
	cmd := &cobra.Command{
		Use:     "revoke ID --reason TEXT",
		Short:   "撤销（仅县级节点）：此后受理的办件回到县级办理；在途办件由持有单位用 app forward 改派",
		Example: "  jiujin delegation revoke D-000001 --reason 乡镇人员调整",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Delegations().RevokeDelegation(cmd.Context(), connect.NewRequest(&pb.RevokeDelegationRequest{Id: args[0], Reason: o.Reason}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			d := res.Msg.GetDelegation()
			fmt.Fprintf(f.Out, "已撤销 %s（事项 %s，%s）\n", d.GetId(), d.GetMatterCode(), f.unitLabelOf(cmd.Context(), d.GetUnit()))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Reason, "reason", "", "理由（必填）")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// DelegationRouteOptions are the flags of `delegation route`.
type DelegationRouteOptions struct {
	Matter string
	At     string
}

func newDelegationRouteCmd(f *Factory) *cobra.Command {
	o := &DelegationRouteOptions{}
	cmd := &cobra.Command{
		Use:     "route --matter 事项 [--at 单位]",
		Short:   "在某单位受理某事项，现在由谁办理、经哪些单位",
		Example: "  jiujin delegation route --matter MZ-005 --at 330324101201\n  jiujin delegation route --matter 低保 --at 城东社区",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Delegations().Route(cmd.Context(), connect.NewRequest(&pb.RouteRequest{MatterCode: o.Matter, AcceptingUnit: o.At}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			by := "（县级主管部门）"
			if res.Msg.GetDelegationId() != "" {
				by = fmt.Sprintf("（%s，%s）", modeLabel(res.Msg.GetMode()), res.Msg.GetDelegationId())
			}
			path := make([]string, 0, len(res.Msg.GetPath()))
			for _, u := range res.Msg.GetPath() {
				path = append(path, f.unitLabelOf(cmd.Context(), u))
			}
			fmt.Fprintf(f.Out, "办理单位：%s%s\n路径：%s\n", f.unitLabelOf(cmd.Context(), res.Msg.GetProcessingUnit()), by, strings.Join(path, " → "))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Matter, "matter", "", "事项：代码、名称或常用名（必填）")
	cmd.Flags().StringVar(&o.At, "at", "", "受理单位：代码或名称（默认：本节点的单位）")
	_ = cmd.MarkFlagRequired("matter")
	return cmd
}
