package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/tiers"
)

// DemoOptions are the flags of `demo`.
type DemoOptions struct {
	Listen string
	Data   string
	// ready, if set, is called with the node's URL once seeded (tests).
	ready func(url string)
}

// DemoCounty is the unit code of the demo county.
const DemoCounty = "330324"

func newDemoCmd(f *Factory) *cobra.Command {
	o := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "在本机启动一个示范县节点：导入示范事项清单，预置各种状态的办件；Ctrl-C 退出",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address of the county node (another free port is used if this one is taken)")
	cmd.Flags().StringVar(&o.Data, "data", "", "data directory (default: a temporary one, removed on exit)")
	return cmd
}

func runDemo(ctx context.Context, f *Factory, o *DemoOptions) error {
	data := o.Data
	if data == "" {
		dir, err := os.MkdirTemp("", "jiujin-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		data = dir
	}
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	if err != nil {
		return err
	}
	cfg := node.Config{Unit: tiers.MustParse(DemoCounty), Listen: o.Listen, DataDir: data, Calendar: cal,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := node.Start(cfg)
	if err != nil && o.Listen != "127.0.0.1:0" {
		fmt.Fprintf(f.Err, "无法监听 %s（%v），改用空闲端口\n", o.Listen, err)
		cfg.Listen = "127.0.0.1:0"
		n, err = node.Start(cfg)
	}
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(sctx)
	}()
	cat, err := n.Store.Catalog()
	if err != nil {
		return err
	}
	if cat.GetVersion() == 0 {
		if err := SeedDemo(ctx, n.Store, time.Now()); err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
	}
	url := n.URL()
	fmt.Fprintf(f.Out, `示范县（%s）节点已启动：%s
数据目录：%s

另开一个终端试试（%s 为本节点地址）：
  export JIUJIN_NODE=%s
  go run . status
  go run . catalog list --max-visits 0
  go run . catalog show SJ-001
  go run . app list
  go run . app list --overdue
  go run . app accept --matter MZ-005 --applicant-name 赵桂兰 --applicant-id %s \
      --material 居民身份证 --material 近期一寸免冠证件照
  go run . app show <办件编号>

按 Ctrl-C 退出。
`, DemoCounty, url, data, "JIUJIN_NODE", url, node.MakeIDNumber("33032419490817242"))
	if o.ready != nil {
		o.ready(url)
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(f.Out, "\n正在停止……")
		return nil
	case err := <-n.Done():
		return err
	}
}

// demoStep is one write of the demo history.
type demoStep struct {
	at   time.Time
	app  int // index of the application it belongs to (-1: none)
	op   func(id string) *pb.Command
	desc string
}

// SeedDemo publishes the seed catalog and writes a history of applications
// in every state, dated over the past weeks so that lists show time left,
// promises kept and broken, and overdue cases. It goes through the store's
// one dispatcher, as every write does.
func SeedDemo(ctx context.Context, st *node.Store, now time.Time) error {
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return err
	}
	day := func(n int, hour int) time.Time { return now.AddDate(0, 0, -n).Add(-time.Duration(hour) * time.Minute) }
	type person struct{ name, id17, phone string }
	people := []person{
		{"王秀英", "33032419580312122", "13857700101"},
		{"李建国", "33032419660405301", "13957700202"},
		{"陈小梅", "33032419900721402", "13757700303"},
		{"周志强", "33032419781109503", "13657700404"},
		{"吴美华", "33032419550218604", "13557700505"},
		{"郑晓东", "33032419921230705", "15857700606"},
		{"孙丽娟", "33032419660606806", "15957700707"},
		{"林海波", "33032419850915907", "18857700808"},
		{"黄伟", "33032419950501108", "18957700909"},
		{"何静", "33032419970812209", "17757701010"},
	}
	acceptCmd := func(p person, matter string, materials, missing []string) func(string) *pb.Command {
		return func(string) *pb.Command {
			return &pb.Command{Actor: "综合窗口 张丽", Op: &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{
				MatterCode: matter, Applicant: &pb.Applicant{Name: p.name, IdNumber: node.MakeIDNumber(p.id17), Phone: p.phone},
				Materials: materials, Missing: missing}}}
		}
	}
	required := map[string][]string{}
	for _, m := range req.GetMatters() {
		for _, mat := range m.GetMaterials() {
			if mat.GetRequired() {
				required[m.GetCode()] = append(required[m.GetCode()], mat.GetName())
			}
		}
	}
	without := func(xs []string, drop ...string) []string {
		var out []string
	next:
		for _, x := range xs {
			for _, d := range drop {
				if x == d {
					continue next
				}
			}
			out = append(out, x)
		}
		return out
	}
	decide := func(approve bool, reason string) func(string) *pb.Command {
		return func(id string) *pb.Command {
			return &pb.Command{Actor: "审批科 刘明", Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: id, Approve: approve, Reason: reason}}}
		}
	}
	deliver := func(method, tracking string) func(string) *pb.Command {
		return func(id string) *pb.Command {
			return &pb.Command{Actor: "综合窗口 张丽", Op: &pb.Command_Deliver{Deliver: &pb.DeliverApplicationRequest{Id: id, Method: method, Tracking: tracking}}}
		}
	}
	rate := func(score uint32, comment string) func(string) *pb.Command {
		return func(id string) *pb.Command {
			return &pb.Command{Actor: "申请人", Op: &pb.Command_Rate{Rate: &pb.RateApplicationRequest{Id: id, Score: score, Comment: comment}}}
		}
	}
	askMore := func(materials []string, reason string) func(string) *pb.Command {
		return func(id string) *pb.Command {
			return &pb.Command{Actor: "审批科 刘明", Op: &pb.Command_RequestSupplement{RequestSupplement: &pb.RequestSupplementRequest{Id: id, Materials: materials, Reason: reason}}}
		}
	}
	supply := func(materials ...string) func(string) *pb.Command {
		return func(id string) *pb.Command {
			return &pb.Command{Actor: "综合窗口 张丽", Op: &pb.Command_Supply{Supply: &pb.SupplyMaterialsRequest{Id: id, Materials: materials}}}
		}
	}
	withdraw := func(reason string) func(string) *pb.Command {
		return func(id string) *pb.Command {
			return &pb.Command{Actor: "综合窗口 张丽", Op: &pb.Command_Withdraw{Withdraw: &pb.WithdrawApplicationRequest{Id: id, Reason: reason}}}
		}
	}
	steps := []demoStep{{at: day(70, 0), app: -1, desc: "publish catalog", op: func(string) *pb.Command {
		return &pb.Command{Actor: "县数据局 管理员", Op: &pb.Command_ImportCatalog{ImportCatalog: req}}
	}}}
	add := func(app int, at time.Time, op func(string) *pb.Command, desc string) {
		steps = append(steps, demoStep{at: at, app: app, op: op, desc: desc})
	}
	// 0: minimum-living allowance accepted 60 days ago with a missing
	// household register; nobody has decided it: overdue.
	add(0, day(60, 30), acceptCmd(people[0], "MZ-001", without(required["MZ-001"], "家庭成员居民户口簿"), []string{"家庭成员居民户口簿"}), "accept MZ-001")
	// 1: disability certificate, approved, posted, rated 5.
	add(1, day(30, 20), acceptCmd(people[1], "CL-001", required["CL-001"], nil), "accept CL-001")
	add(1, day(20, 0), decide(true, "经评定符合残疾标准，准予核发"), "approve")
	add(1, day(19, 0), deliver("post", "SF1403928475621"), "post")
	add(1, day(15, 0), rate(5, "不用跑县城，邮寄到家"), "rate")
	// 2: food business licence, 容缺 then supplement round, approved,
	// handed over, rated low.
	add(2, day(20, 50), acceptCmd(people[2], "SJ-001", without(required["SJ-001"], "食品安全管理制度文本"), []string{"食品安全管理制度文本"}), "accept SJ-001")
	add(2, day(15, 0), supply("食品安全管理制度文本"), "supply missing")
	add(2, day(12, 0), askMore([]string{"经营场所平面布局图及设备布局、操作流程文件"}, "平面图未标明生熟分区"), "ask more")
	add(2, day(8, 0), supply("经营场所平面布局图及设备布局、操作流程文件"), "supplemented")
	add(2, day(3, 0), decide(true, "经现场核查符合条件，准予许可"), "approve")
	add(2, day(2, 0), deliver("window", ""), "window")
	add(2, day(2, -10), rate(2, "补正来回两次，希望一次告知清楚"), "rate low")
	// 3: house transfer rejected, result handed over.
	add(3, day(12, 40), acceptCmd(people[3], "ZR-001", required["ZR-001"], nil), "accept ZR-001")
	add(3, day(5, 0), decide(false, "不动产权证书记载的权利人与出卖人不一致"), "reject")
	add(3, day(4, 0), deliver("window", ""), "window")
	// 4: medical expense reimbursement waiting for a supplement.
	add(4, day(8, 30), acceptCmd(people[4], "YB-002", required["YB-002"], nil), "accept YB-002")
	add(4, day(6, 0), askMore([]string{"费用明细清单"}, "费用明细清单缺少医院盖章"), "ask more")
	// 5: household move withdrawn by the applicant.
	add(5, day(5, 10), acceptCmd(people[5], "GA-003", required["GA-003"], nil), "accept GA-003")
	add(5, day(4, 10), withdraw("申请人决定暂不迁移户口"), "withdraw")
	// 6: retirement approval, supplemented, back with the department.
	add(6, day(3, 30), acceptCmd(people[6], "RS-001", required["RS-001"], nil), "accept RS-001")
	add(6, day(2, 30), askMore([]string{"本人人事档案"}, "档案缺少招工登记表"), "ask more")
	add(6, day(1, 30), supply("本人人事档案"), "supplemented")
	// 7: identity card renewal approved, waiting to be handed over.
	add(7, day(1, 60), acceptCmd(people[7], "GA-002", required["GA-002"], nil), "accept GA-002")
	add(7, day(0, 120), decide(true, "准予换领"), "approve")
	// 8, 9: accepted today.
	add(8, day(0, 90), acceptCmd(people[8], "MZ-003", required["MZ-003"], nil), "accept MZ-003")
	add(9, day(0, 60), acceptCmd(people[9], "YJS-002", required["YJS-002"], nil), "accept YJS-002")

	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	ids := map[int]string{}
	for _, s := range steps {
		cmd := s.op(ids[s.app])
		cmd.NowMs = s.at.UnixMilli()
		out, err := st.Apply(ctx, cmd)
		if err != nil {
			return fmt.Errorf("%s: %w", s.desc, err)
		}
		if a, ok := out.(*pb.Application); ok && s.app >= 0 && ids[s.app] == "" {
			ids[s.app] = a.GetId()
		}
	}
	return nil
}
