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
				t.add(d.GetId(), d.GetMatterCode(), d.GetUnit(), modeLabel(d.GetMode()), d.GetFrom(), until,
					fmt.Sprint(d.GetVersion()), d.GetGrantedBy(), state)
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "共 %d 项\n", len(res.Msg.GetDelegations()))
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "also ended and revoked ones")
	cmd.Flags().StringVar(&o.Matter, "matter", "", "only this matter")
	cmd.Flags().StringVar(&o.Unit, "unit", "", "only this unit")
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
		Use:   "grant --matter CODE --to UNIT --mode devolve|entrust|proxy [--from DATE] [--until DATE]",
		Short: "授予（仅县级节点）：下放给乡镇派出机构、委托乡镇政府，或允许某单位代办",
		Example: `  jiujin delegation grant --matter MZ-005 --to 330324101 --mode devolve
  jiujin delegation grant --matter MZ-006 --to 330324102 --mode entrust --from 2026-12-01 --until 2027-12-31`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if delegation.ModeLabels[o.Mode] == "" {
				return fmt.Errorf("--mode: %q 应为 devolve（下放）、entrust（委托）或 proxy（代办）", o.Mode)
			}
			res, err := f.Delegations().GrantDelegation(cmd.Context(), connect.NewRequest(&pb.GrantDelegationRequest{
				MatterCode: o.Matter, Unit: o.To, Mode: o.Mode, From: o.From, Until: o.Until}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			d := res.Msg.GetDelegation()
			fmt.Fprintf(f.Out, "已授予 %s：事项 %s %s给 %s，自 %s 起生效\n", d.GetId(), d.GetMatterCode(), modeLabel(d.GetMode()), d.GetUnit(), d.GetFrom())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Matter, "matter", "", "matter code (required)")
	fl.StringVar(&o.To, "to", "", "unit given the power (required)")
	fl.StringVar(&o.Mode, "mode", "", "devolve, entrust or proxy (required)")
	fl.StringVar(&o.From, "from", "", "in force from this day, YYYY-MM-DD (default today)")
	fl.StringVar(&o.Until, "until", "", "in force until this day, YYYY-MM-DD")
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
			fmt.Fprintf(f.Out, "已撤销 %s（事项 %s，%s）\n", d.GetId(), d.GetMatterCode(), d.GetUnit())
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Reason, "reason", "", "why (required)")
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
		Use:     "route --matter CODE [--at UNIT]",
		Short:   "在某单位受理某事项，现在由谁办理、经哪些单位",
		Example: "  jiujin delegation route --matter MZ-005 --at 330324101201",
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
			fmt.Fprintf(f.Out, "办理单位：%s%s\n路径：%s\n", res.Msg.GetProcessingUnit(), by, strings.Join(res.Msg.GetPath(), " → "))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Matter, "matter", "", "matter code (required)")
	cmd.Flags().StringVar(&o.At, "at", "", "accepting unit (default: the node's own)")
	_ = cmd.MarkFlagRequired("matter")
	return cmd
}
