package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
)

func newCatalogCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "事项清单：list 列表、show 详情、import 发布"}
	cmd.AddCommand(newCatalogListCmd(f), newCatalogShowCmd(f), newCatalogImportCmd(f))
	return cmd
}

// CatalogListOptions are the flags of `catalog list`.
type CatalogListOptions struct {
	Department string
	Kind       string
	Query      string
	MaxVisits  int
	Online     bool
	Composite  bool
}

func newCatalogListCmd(f *Factory) *cobra.Command {
	o := &CatalogListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "列出事项清单",
		Example: "  jiujin catalog list --department 公安\n  jiujin catalog list --query 低保\n  jiujin catalog list --query zdsh      # 拼音首字母\n  jiujin catalog list --max-visits 0   # 零上门事项",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &pb.ListMattersRequest{Department: o.Department, Kind: o.Kind, Query: o.Query, OnlineOnly: o.Online, CompositeOnly: o.Composite}
			if cmd.Flags().Changed("max-visits") {
				if o.MaxVisits < 0 {
					return fmt.Errorf("--max-visits: 不能为负")
				}
				req.HasMaxVisits, req.MaxVisits = true, uint32(o.MaxVisits)
			}
			res, err := f.Catalog().ListMatters(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			fmt.Fprintf(f.Out, "%s（第 %d 版）共 %d 项\n", res.Msg.GetTitle(), res.Msg.GetVersion(), len(res.Msg.GetMatters()))
			t := &table{}
			t.add("编码", "事项名称", "部门", "类型", "法定", "承诺", "跑动", "网办")
			for _, m := range res.Msg.GetMatters() {
				online := ""
				if m.GetOnline() {
					online = "是"
				}
				t.add(m.GetCode(), truncate(m.GetName(), 34), m.GetDepartmentName(), delegation.KindLabel(m.GetKind()),
					fmt.Sprintf("%d日", m.GetStatutoryDays()), promised(m.GetPromisedDays()), fmt.Sprintf("%d次", m.GetVisits()), online)
			}
			t.print(f.Out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Department, "department", "", "部门：代码或名称，如 GA、公安")
	fl.StringVar(&o.Kind, "kind", "", "事项类型，如 行政许可 或 administrative_license")
	fl.StringVar(&o.Query, "query", "", "代码、名称或常用名中的文字，或其拼音首字母（如 低保、zdsh）")
	fl.IntVar(&o.MaxVisits, "max-visits", 0, "只列出最多跑这么多次的事项")
	fl.BoolVar(&o.Online, "online", false, "只列出可全程网办的事项")
	fl.BoolVar(&o.Composite, "composite", false, "只列出一件事（组合事项）")
	return cmd
}

func promised(d uint32) string {
	if d == 0 {
		return "即办"
	}
	return fmt.Sprintf("%d日", d)
}

func newCatalogShowCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show 事项",
		Short:   "显示一个事项（代码、名称或常用名）：材料清单（一次告知）、时限、跑动次数",
		Example: "  jiujin catalog show SJ-001\n  jiujin catalog show 低保",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Catalog().GetMatter(cmd.Context(), connect.NewRequest(&pb.GetMatterRequest{Code: args[0]}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			m := res.Msg.GetMatter()
			w := f.Out
			fmt.Fprintf(w, "%s %s\n", m.GetCode(), m.GetName())
			if len(m.GetAliases()) > 0 {
				fmt.Fprintf(w, "  常用名：%s\n", strings.Join(m.GetAliases(), "、"))
			}
			fmt.Fprintf(w, "  部门：%s（%s）  类型：%s\n", m.GetDepartmentName(), m.GetDepartment(), delegation.KindLabel(m.GetKind()))
			fmt.Fprintf(w, "  法定时限：%d 个工作日  承诺时限：%s\n", m.GetStatutoryDays(), promisedLong(m.GetPromisedDays()))
			online := "否"
			if m.GetOnline() {
				online = "是"
			}
			fmt.Fprintf(w, "  最多跑：%d 次  全程网办：%s  收费：%s\n", m.GetVisits(), online, fee(m.GetFeeFen()))
			if len(m.GetParts()) > 0 {
				parts := make([]string, len(m.GetParts()))
				for i, p := range m.GetParts() {
					parts[i] = p
					if i < len(m.GetPartNames()) && m.GetPartNames()[i] != "" {
						parts[i] = m.GetPartNames()[i] + "（" + p + "）"
					}
				}
				fmt.Fprintf(w, "  一件事，并联办理：%s\n", strings.Join(parts, "、"))
			}
			fmt.Fprintln(w, "  材料（一次告知）：")
			for i, mat := range m.GetMaterials() {
				var tags []string
				if mat.GetRequired() {
					tags = append(tags, "必要")
				} else {
					tags = append(tags, "可选")
				}
				if mat.GetMayBeMissing() {
					tags = append(tags, "可容缺")
				}
				if mat.GetForm() == "electronic" {
					tags = append(tags, "电子")
				} else {
					tags = append(tags, "纸质")
				}
				fmt.Fprintf(w, "    %d. %s（%s）\n", i+1, mat.GetName(), strings.Join(tags, "，"))
			}
			if m.GetSupplementDays() > 0 {
				fmt.Fprintf(w, "  容缺材料须在受理后 %d 个工作日内补齐\n", m.GetSupplementDays())
			}
			fmt.Fprintf(w, "  清单版本：第 %d 版（当前第 %d 版）\n", m.GetCatalogVersion(), res.Msg.GetCatalogVersion())
			return nil
		},
	}
}

func promisedLong(d uint32) string {
	if d == 0 {
		return "即办"
	}
	return fmt.Sprintf("%d 个工作日", d)
}

func fee(fen int64) string {
	if fen == 0 {
		return "不收费"
	}
	return fmt.Sprintf("%d.%02d 元", fen/100, fen%100)
}

// CatalogImportOptions are the flags of `catalog import`.
type CatalogImportOptions struct {
	Seed              bool
	Yes               bool
	AllowWithdrawMany bool
}

func newCatalogImportCmd(f *Factory) *cobra.Command {
	o := &CatalogImportOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE | --seed",
		Short: "发布新版事项清单（仅县级节点）：先列出将新增、变更、撤销的事项，加 --yes（或在终端确认）才发布；文件中没有的事项将被撤销",
		Example: `  jiujin catalog import deploy/seed/catalog.yaml          # 只列出变化
  jiujin catalog import deploy/seed/catalog.yaml --yes    # 发布
  jiujin catalog import --seed --yes`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.Seed != (len(args) == 0) {
				return fmt.Errorf("请给出清单文件，或用 --seed 发布内置的示范清单（二者选一）")
			}
			return cobra.MaximumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			data := seed.Catalog
			if !o.Seed {
				b, err := os.ReadFile(args[0])
				if err != nil {
					return fmt.Errorf("%s: 无法读取事项清单文件：%w", args[0], err)
				}
				data = b
			}
			req, err := delegation.ParseCatalogYAML(bytes.NewReader(data))
			if err != nil {
				return err
			}
			req.DryRun, req.AllowWithdrawMany = true, o.AllowWithdrawMany
			preview, err := f.Catalog().ImportCatalog(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			changes := preview.Msg.GetAdded() + preview.Msg.GetChanged() + preview.Msg.GetRemoved()
			if !o.Yes && !f.json() {
				printCatalogDiff(f.Out, preview.Msg)
			}
			if changes > 0 && !o.Yes && !confirm(f, "确认发布以上变化？[y/N] ") {
				if f.json() {
					return f.printJSON(preview.Msg)
				}
				fmt.Fprintln(f.Out, "未发布：核对无误后加 --yes 发布。")
				return nil
			}
			req.DryRun = false
			res, err := f.Catalog().ImportCatalog(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			fmt.Fprintf(f.Out, "已发布事项清单第 %d 版：新增 %d，变更 %d，撤销 %d，未变 %d\n",
				res.Msg.GetVersion(), res.Msg.GetAdded(), res.Msg.GetChanged(), res.Msg.GetRemoved(), res.Msg.GetUnchanged())
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Seed, "seed", false, "发布内置的示范事项清单")
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "不再询问，直接发布（否则只列出变化，在终端上询问）")
	cmd.Flags().BoolVar(&o.AllowWithdrawMany, "allow-withdraw-many", false, "允许撤销现行事项的三分之一以上")
	return cmd
}

// printCatalogDiff lists what an import would add, change and withdraw.
func printCatalogDiff(w io.Writer, r *pb.ImportCatalogResponse) {
	fmt.Fprintf(w, "与现行清单相比：新增 %d，变更 %d，撤销 %d，未变 %d\n", r.GetAdded(), r.GetChanged(), r.GetRemoved(), r.GetUnchanged())
	for _, g := range []struct {
		label string
		ms    []*pb.MatterRef
	}{{"新增", r.GetAddedMatters()}, {"变更", r.GetChangedMatters()}, {"撤销", r.GetRemovedMatters()}} {
		for _, m := range g.ms {
			fmt.Fprintf(w, "  %s  %s %s\n", g.label, m.GetCode(), m.GetName())
		}
	}
}

// confirm asks a yes-or-no question at a terminal (false elsewhere).
func confirm(f *Factory, question string) bool {
	in, ok := f.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return false
	}
	fmt.Fprint(f.Err, question)
	var answer string
	_, _ = fmt.Fscanln(in, &answer)
	return strings.EqualFold(strings.TrimSpace(answer), "y") || strings.TrimSpace(answer) == "是"
}
