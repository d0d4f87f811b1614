package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// DelegationClassesOptions are the flags of `delegation classes`.
type DelegationClassesOptions struct {
	Set       string
	Name      string
	Townships string
	Menu      string
}

func newDelegationClassesCmd(f *Factory) *cobra.Command {
	o := &DelegationClassesOptions{}
	cmd := &cobra.Command{
		Use:   "classes [--set CODE --name NAME --townships T1,T2 --menu M1,M2]",
		Short: "乡镇分类：列出分类、所属乡镇和菜单；--set 由县级设置（整体替换）",
		Example: `  jiujin delegation classes
  jiujin delegation classes --set mountain --name 山区型 --townships 330324102 --menu MZ-006,NY-001,ZR-003`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Set == "" {
				for _, name := range []string{"name", "townships", "menu"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s: 只能与 --set 分类代码一起使用（设置分类）；不加 --set 只列出分类", name)
					}
				}
			}
			if o.Set != "" {
				res, err := f.Delegations().SetClass(cmd.Context(), connect.NewRequest(&pb.SetClassRequest{Class: &pb.TownshipClass{
					Code: o.Set, Name: o.Name, Townships: splitList(o.Townships), Menu: splitList(o.Menu)}}))
				if err != nil {
					return err
				}
				if f.json() {
					return f.printJSON(res.Msg)
				}
				fmt.Fprintf(f.Out, "已设置分类 %s（%s），第 %d 版\n", res.Msg.GetClass().GetCode(), res.Msg.GetClass().GetName(), res.Msg.GetClass().GetVersion())
				return nil
			}
			res, err := f.Delegations().ListClasses(cmd.Context(), connect.NewRequest(&pb.ListClassesRequest{}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			for _, c := range res.Msg.GetClasses() {
				fmt.Fprintf(f.Out, "%s %s（第 %d 版）：乡镇 %s\n  菜单：%s\n", c.GetCode(), c.GetName(), c.GetVersion(),
					strings.Join(c.GetTownships(), "、"), strings.Join(c.GetMenu(), "、"))
			}
			for _, o := range res.Msg.GetOrders() {
				fmt.Fprintf(f.Out, "点单 %s（%s，第 %d 版，%s %s）：%s\n", o.GetTownship(), o.GetClassCode(), o.GetVersion(),
					o.GetOrderedBy(), when(o.GetOrderedAt()), strings.Join(o.GetMatters(), "、"))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Set, "set", "", "设置此代码的乡镇分类（仅县级）")
	fl.StringVar(&o.Name, "name", "", "分类名称，如 山区型")
	fl.StringVar(&o.Townships, "townships", "", "分类下的乡镇代码，逗号分隔")
	fl.StringVar(&o.Menu, "menu", "", "分类的事项菜单（事项代码），逗号分隔")
	return cmd
}

func newDelegationMenuCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "menu CLASS",
		Short:   "显示一类乡镇的点单菜单",
		Example: "  jiujin delegation menu mountain",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Delegations().ListClasses(cmd.Context(), connect.NewRequest(&pb.ListClassesRequest{}))
			if err != nil {
				return err
			}
			for _, c := range res.Msg.GetClasses() {
				if c.GetCode() != args[0] {
					continue
				}
				if f.json() {
					return f.printJSON(c)
				}
				fmt.Fprintf(f.Out, "「%s」类乡镇菜单（第 %d 版）：\n", c.GetName(), c.GetVersion())
				for _, m := range c.GetMenu() {
					name := ""
					if mr, err := f.Catalog().GetMatter(cmd.Context(), connect.NewRequest(&pb.GetMatterRequest{Code: m})); err == nil {
						name = mr.Msg.GetMatter().GetName()
					}
					fmt.Fprintf(f.Out, "  %s %s\n", m, name)
				}
				return nil
			}
			return fmt.Errorf("CLASS: 没有分类 %q（用 delegation classes 查看）", args[0])
		},
	}
}

// DelegationOrderOptions are the flags of `delegation order`.
type DelegationOrderOptions struct {
	Matters string
}

func newDelegationOrderCmd(f *Factory) *cobra.Command {
	o := &DelegationOrderOptions{}
	cmd := &cobra.Command{
		Use:     "order --matters M1,M2",
		Short:   "按需点单（乡镇节点）：从本类菜单中选定本乡镇承接的事项（整体替换）",
		Example: "  jiujin --node http://township:8080 delegation order --matters MZ-006,NY-001",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(splitList(o.Matters)) == 0 {
				return fmt.Errorf("--matters: 至少列出一项事项（点单会整体替换本乡镇已点的事项）")
			}
			res, err := f.Delegations().OrderMatters(cmd.Context(), connect.NewRequest(&pb.OrderMattersRequest{Matters: splitList(o.Matters)}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			ord := res.Msg.GetOrder()
			fmt.Fprintf(f.Out, "已点单（第 %d 版）：%s，将同步至县级和本乡镇各村\n", ord.GetVersion(), strings.Join(ord.GetMatters(), "、"))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Matters, "matters", "", "从本分类菜单中点的事项代码，逗号分隔")
	_ = cmd.MarkFlagRequired("matters")
	return cmd
}

// DelegationNegativeOptions are the flags of `delegation negative`.
type DelegationNegativeOptions struct {
	Set string
}

func newDelegationNegativeCmd(f *Factory) *cobra.Command {
	o := &DelegationNegativeOptions{}
	cmd := &cobra.Command{
		Use:     "negative [--set MATTER:TIER,...]",
		Short:   "负面清单：某层级不得受理的事项（代办授权除外）；--set 由县级设置（整体替换）",
		Example: "  jiujin delegation negative --set ZR-005:village,JY-003:village",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var list *pb.NegativeList
			if cmd.Flags().Changed("set") {
				var entries []*pb.NegativeEntry
				for i, x := range splitList(o.Set) {
					m, tier, ok := strings.Cut(x, ":")
					if !ok {
						return fmt.Errorf("--set: 第 %d 项 %q 应为 事项编码:层级（township 或 village）", i+1, x)
					}
					entries = append(entries, &pb.NegativeEntry{MatterCode: m, Tier: tier})
				}
				res, err := f.Delegations().SetNegativeList(cmd.Context(), connect.NewRequest(&pb.SetNegativeListRequest{Entries: entries}))
				if err != nil {
					return err
				}
				list = res.Msg.GetList()
			} else {
				res, err := f.Delegations().GetNegativeList(cmd.Context(), connect.NewRequest(&pb.GetNegativeListRequest{}))
				if err != nil {
					return err
				}
				list = res.Msg.GetList()
			}
			if f.json() {
				return f.printJSON(list)
			}
			tiers := map[string]string{"township": "乡镇", "village": "村（社区）"}
			fmt.Fprintf(f.Out, "负面清单（第 %d 版）共 %d 项\n", list.GetVersion(), len(list.GetEntries()))
			for _, e := range list.GetEntries() {
				fmt.Fprintf(f.Out, "  %s：%s不予受理\n", e.GetMatterCode(), tiers[e.GetTier()])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Set, "set", "", "替换负面清单：事项:层级（township 或 village），逗号分隔")
	return cmd
}
