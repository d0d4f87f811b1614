package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/tiers"
)

func newUnitCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unit",
		Short: "单位名称与电话：县级设置，各节点显示（回执、列表、统计在代码旁写名称）",
	}
	cmd.AddCommand(newUnitListCmd(f), newUnitSetCmd(f), newUnitImportCmd(f))
	return cmd
}

// UnitListOptions are the flags of `unit list`.
type UnitListOptions struct {
	Query string
}

func newUnitListCmd(f *Factory) *cobra.Command {
	o := &UnitListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "列出本节点已知的单位名称、电话和地址",
		Example: "  jiujin unit list\n  jiujin unit list --query 城关",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Units().ListUnits(cmd.Context(), connect.NewRequest(&pb.ListUnitsRequest{Query: o.Query}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			if len(res.Msg.GetUnits()) == 0 {
				fmt.Fprintln(f.Out, "本节点尚无单位名称（县级用 jiujin unit import 导入后，随同步到达各节点）。")
				return nil
			}
			t := &table{}
			t.add("代码", "名称", "层级", "电话", "地址")
			for _, u := range res.Msg.GetUnits() {
				t.add(u.GetCode(), u.GetName(), tierLabel(u.GetCode()), u.GetPhone(), u.GetAddress())
			}
			t.print(f.Out)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Query, "query", "", "只列出代码或名称含此文字的单位")
	return cmd
}

// UnitSetOptions are the flags of `unit set`.
type UnitSetOptions struct {
	Name, Phone, Address string
}

func newUnitSetCmd(f *Factory) *cobra.Command {
	o := &UnitSetOptions{}
	cmd := &cobra.Command{
		Use:     "set CODE",
		Short:   "设置一个单位的名称、电话和地址（县级管理员）",
		Example: "  jiujin unit set 330324101 --name 城关镇 --phone 0570-6021001 --address 城关镇府前街12号",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u := &pb.Unit{Code: args[0], Name: o.Name, Phone: o.Phone, Address: o.Address}
			if !cmd.Flags().Changed("phone") || !cmd.Flags().Changed("address") {
				// Keep what is set and not given again.
				old, err := f.Units().ListUnits(cmd.Context(), connect.NewRequest(&pb.ListUnitsRequest{Query: args[0]}))
				if err != nil {
					return err
				}
				for _, x := range old.Msg.GetUnits() {
					if x.GetCode() != args[0] {
						continue
					}
					if !cmd.Flags().Changed("phone") {
						u.Phone = x.GetPhone()
					}
					if !cmd.Flags().Changed("address") {
						u.Address = x.GetAddress()
					}
				}
			}
			res, err := f.Units().SetUnits(cmd.Context(), connect.NewRequest(&pb.SetUnitsRequest{Units: []*pb.Unit{u}}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			if res.Msg.GetUnchanged() > 0 {
				fmt.Fprintf(f.Out, "%s %s 与现有记录相同，未改动\n", u.GetCode(), u.GetName())
				return nil
			}
			fmt.Fprintf(f.Out, "已设置 %s %s（电话 %s）\n", u.GetCode(), u.GetName(), orNone(u.GetPhone()))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "名称，如 城关镇（必填）")
	fl.StringVar(&o.Phone, "phone", "", "服务电话（印在受理回执上）")
	fl.StringVar(&o.Address, "address", "", "服务地址（印在受理回执上）")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// UnitImportOptions are the flags of `unit import`.
type UnitImportOptions struct {
	Seed bool
	Yes  bool
}

func newUnitImportCmd(f *Factory) *cobra.Command {
	o := &UnitImportOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE | --seed",
		Short: "从文件设置各单位的名称和电话（县级管理员）：先列出变化，加 --yes（或在终端确认）才写入",
		Example: `  jiujin unit import deploy/seed/units.yaml          # 只列出变化
  jiujin unit import deploy/seed/units.yaml --yes    # 写入
  jiujin unit import --seed --yes`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.Seed != (len(args) == 0) {
				return fmt.Errorf("请给出单位文件，或用 --seed 导入内置的示范县单位（二者选一）")
			}
			return cobra.MaximumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			data := seed.Units
			if !o.Seed {
				b, err := os.ReadFile(args[0])
				if err != nil {
					return fmt.Errorf("%s: 无法读取单位文件：%w", args[0], err)
				}
				data = b
			}
			req, err := delegation.ParseUnitsYAML(bytes.NewReader(data))
			if err != nil {
				return err
			}
			return importUnits(cmd.Context(), f, req, o.Yes)
		},
	}
	cmd.Flags().BoolVar(&o.Seed, "seed", false, "导入内置的示范县单位名称")
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "不再询问，直接写入（否则只列出变化，在终端上询问）")
	return cmd
}

func importUnits(ctx context.Context, f *Factory, req *pb.SetUnitsRequest, yes bool) error {
	req.DryRun = true
	preview, err := f.Units().SetUnits(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	changes := len(preview.Msg.GetAdded()) + len(preview.Msg.GetChanged())
	if !yes && !f.json() {
		printUnitDiff(f.Out, preview.Msg)
	}
	if changes == 0 || !yes && !confirm(f, "确认写入以上变化？[y/N] ") {
		if f.json() {
			return f.printJSON(preview.Msg)
		}
		if changes > 0 {
			fmt.Fprintln(f.Out, "未写入：核对无误后加 --yes 写入。")
		}
		return nil
	}
	req.DryRun = false
	res, err := f.Units().SetUnits(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	if f.json() {
		return f.printJSON(res.Msg)
	}
	fmt.Fprintf(f.Out, "已写入单位名称：新增 %d，变更 %d，未变 %d\n", len(res.Msg.GetAdded()), len(res.Msg.GetChanged()), res.Msg.GetUnchanged())
	return nil
}

func printUnitDiff(w io.Writer, r *pb.SetUnitsResponse) {
	fmt.Fprintf(w, "与现有记录相比：新增 %d，变更 %d，未变 %d\n", len(r.GetAdded()), len(r.GetChanged()), r.GetUnchanged())
	for _, g := range []struct {
		label string
		us    []*pb.Unit
	}{{"新增", r.GetAdded()}, {"变更", r.GetChanged()}} {
		for _, u := range g.us {
			fmt.Fprintf(w, "  %s  %s %s  %s\n", g.label, u.GetCode(), u.GetName(), u.GetPhone())
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "无"
	}
	return s
}

func tierLabel(code string) string {
	u, err := tiers.Parse(code)
	if err != nil {
		return ""
	}
	return u.Tier().Label()
}

// unitNames are the names of the units the node knows, by code, asked once
// per command; a node that cannot tell (an older one, a refusal) leaves
// codes as they are.
func (f *Factory) unitNames(ctx context.Context) map[string]string {
	if f.names != nil {
		return f.names
	}
	f.names = map[string]string{}
	if res, err := f.Units().ListUnits(ctx, connect.NewRequest(&pb.ListUnitsRequest{})); err == nil {
		for _, u := range res.Msg.GetUnits() {
			f.names[u.GetCode()] = u.GetName()
		}
	}
	return f.names
}

// unitLabel is a unit as people read it: 城关镇（330324101）, or the code.
func unitLabel(code, name string) string {
	if name == "" || code == "" {
		return code
	}
	return name + "（" + code + "）"
}

// unitLabelOf labels a code with the name the node knows for it.
func (f *Factory) unitLabelOf(ctx context.Context, code string) string {
	return unitLabel(code, f.unitNames(ctx)[code])
}

// orCode is a name where there is one, else the code.
func orCode(name, code string) string {
	if name == "" {
		return code
	}
	return name
}
