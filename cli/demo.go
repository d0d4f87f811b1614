package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/tiers"
)

// DemoOptions are the flags of `demo`.
type DemoOptions struct {
	Listen string
	Data   string
	// ready, if set, is called with the county node's URL and the CA
	// certificate to trust once seeded (tests).
	ready func(url, caFile string)
}

// DemoCounty is the unit code of the demo county.
const DemoCounty = seed.County

func newDemoCmd(f *Factory) *cobra.Command {
	o := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "在本机启动一个示范县的七个节点：一个县、两个乡镇、四个村（社区），证书、账户、事项清单和各种状态的办件都已备好；Ctrl-C 退出",
		Long: `在本机回环地址上启动一个完整的示范县，共七个节点，各用一个端口（自 --listen 起依次递增）：
  县级     330324 示范县
  乡镇     330324101 城关镇、330324102 青山乡
  村（社区）330324101201 城东社区、330324101202 溪口村（属城关镇），
           330324102201 青山村、330324102202 石门村（属青山乡）
每个节点都有本县 CA 签发的证书，下级节点与上级同步；导入示范事项清单、下放和分类，
设立示范账户，预置各种状态的办件。启动后列出各节点的控制台地址和示范账户，Ctrl-C 退出。`,
		Example: "  jiujin demo\n  jiujin demo --listen 127.0.0.1:9000 --data ./demo-data",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			privateFiles()
			return runDemo(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8080", "县级节点的监听地址，其余六个节点用随后的端口（端口被占用时另找空闲端口）")
	cmd.Flags().StringVar(&o.Data, "data", "", "数据目录（默认：临时目录，退出时删除）")
	return cmd
}

// DemoUnits are the demo county's units and their names, county first,
// every unit after its parent.
var DemoUnits = []struct{ Code, Name string }{
	{"330324", "示范县"},
	{"330324101", "城关镇"},
	{"330324102", "青山乡"},
	{"330324101201", "城东社区"},
	{"330324101202", "溪口村"},
	{"330324102201", "青山村"},
	{"330324102202", "石门村"},
}

// demoNet is the running demo network.
type demoNet struct {
	nodes  map[string]*node.Node
	order  []string
	caFile string
}

func (d *demoNet) shutdown() {
	// Children first, so parents see their links close.
	for i := len(d.order) - 1; i >= 0; i-- {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d.nodes[d.order[i]].Shutdown(sctx)
		cancel()
	}
}

// startDemoNet starts every unit's node, on consecutive ports after the
// county's where they are free.
func startDemoNet(f *Factory, o *DemoOptions, data string, cal *delegation.Calendar) (*demoNet, error) {
	d := &demoNet{nodes: map[string]*node.Node{}}
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	base, _ := strconv.Atoi(port)
	bundles, caFile, err := demoCertificates(data, host)
	if err != nil {
		return nil, err
	}
	d.caFile = caFile
	for i, u := range DemoUnits {
		unit := tiers.MustParse(u.Code)
		listen := net.JoinHostPort(host, "0")
		if base > 0 {
			listen = net.JoinHostPort(host, strconv.Itoa(base+i))
		}
		cfg := node.Config{TLS: bundles[u.Code], Unit: unit, Listen: listen, DataDir: filepath.Join(data, u.Code), Calendar: cal,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if p := unit.Parent(); p != "" {
			cfg.Parents = []string{d.nodes[string(p)].URL()}
		}
		n, err := node.Start(cfg)
		if err != nil && base > 0 {
			fmt.Fprintf(f.Err, "无法监听 %s（%v），%s改用空闲端口\n", listen, err, u.Name)
			cfg.Listen = net.JoinHostPort(host, "0")
			n, err = node.Start(cfg)
		}
		if err != nil {
			d.shutdown()
			return nil, fmt.Errorf("%s %s: %w", u.Code, u.Name, err)
		}
		d.nodes[u.Code] = n
		d.order = append(d.order, u.Code)
	}
	return d, nil
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
	d, err := startDemoNet(f, o, data, cal)
	if err != nil {
		return err
	}
	defer d.shutdown()
	county := d.nodes[DemoCounty]
	cat, err := county.Rules.Catalog()
	if err != nil {
		return err
	}
	if cat.GetVersion() == 0 {
		fmt.Fprintln(f.Out, "正在预置示范数据……")
		if err := SeedDemo(ctx, county, time.Now()); err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
		if err := seedDemoAccounts(ctx, county, data); err != nil {
			return fmt.Errorf("seed demo accounts: %w", err)
		}
		if err := SeedNetwork(ctx, d.nodes, 30*time.Second); err != nil {
			return fmt.Errorf("seed network: %w", err)
		}
	}
	url := county.URL()
	fmt.Fprintf(f.Out, "示范县网络已启动（数据目录 %s）：\n", data)
	t := &table{}
	t.add("单位代码", "名称", "层级", "地址（浏览器打开即工作台）")
	for _, u := range DemoUnits {
		t.add(u.Code, u.Name, tiers.Unit(u.Code).Tier().Label(), d.nodes[u.Code].URL()+"/")
	}
	t.print(f.Out)
	printDemoLogins(f.Out, d, data)
	village := d.nodes["330324101201"].URL()
	fmt.Fprintf(f.Out, `
工作台：浏览器打开 %s/ ，用 zhangli / %s 登录（城东社区的窗口）。示范中工作台的证书由节点
自己签发，浏览器初次打开会提示证书不受信任，确认继续即可（正式部署见 docs/console.md）。

另开一个终端试试（go build -o jiujin . 之后；或把 jiujin 换成 go run .）：
  export JIUJIN_CA=%s   # 本县证书颁发机构的证书
  export JIUJIN_NODE=%s            # 城东社区的窗口
  echo %s | jiujin login --user zhangli --password-stdin
  jiujin app list
  jiujin status                     # 城东社区与城关镇之间的链路
  jiujin app accept --matter MZ-005 --applicant-name 赵桂兰 \
      --applicant-id %s --material 居民身份证 --material 近期一寸免冠证件照
  # 县里：审计员查看审计记录
  echo %s | jiujin --node %s login --user auditor --otp-secret-file %s --password-stdin
  jiujin --node %s audit list

按 Ctrl-C 退出。
`, village, DemoPassword, d.caFile, village, DemoPassword, rules.MakeIDNumber("33032419490817242"), DemoPassword, url,
		filepath.Join(demoOTPDir(data), "auditor"), url)
	if o.ready != nil {
		o.ready(url, d.caFile)
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(f.Out, "\n正在停止……")
		return nil
	case err := <-county.Done():
		return err
	}
}

// SeedNetwork plays a morning at the windows once the catalog has reached
// every village: applications accepted at villages and a township, taken
// on by the county, and walked back to the windows, so every node holds
// applications in several states. It waits for each hop, as a clerk would.
func SeedNetwork(ctx context.Context, nodes map[string]*node.Node, timeout time.Duration) error {
	ds, err := demoSeed()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	waitFor := func(what string, cond func() bool) error {
		for !cond() {
			if time.Now().After(deadline) {
				return fmt.Errorf("timed out waiting for %s", what)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
		return nil
	}
	for _, u := range DemoUnits {
		st := nodes[u.Code]
		if err := waitFor("catalog and classes at "+u.Code, func() bool {
			c, err := st.Rules.Catalog()
			cl, err2 := st.Rules.Classes()
			return err == nil && err2 == nil && c.GetVersion() > 0 && len(cl.GetClasses()) == len(ds.Classes)
		}); err != nil {
			return err
		}
	}
	county := nodes[DemoCounty]
	for t, matters := range ds.Orders {
		cmd := &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "乡镇便民服务中心 主任", Op: &pb.Command_Order{Order: &pb.OrderMattersRequest{Matters: matters}}}
		if _, err := nodes[t].Apply(ctx, cmd); err != nil {
			return fmt.Errorf("order at %s: %w", t, err)
		}
	}
	apply := func(st *node.Node, actor string, cmd *pb.Command) (*pb.Application, error) {
		cmd.NowMs, cmd.Actor = time.Now().UnixMilli(), actor
		out, err := st.Apply(ctx, cmd)
		if err != nil {
			return nil, err
		}
		a, _ := out.(*pb.Application)
		return a, nil
	}
	stateAt := func(st *node.Node, id, state string) func() bool {
		return func() bool { a, _, err := st.Rules.GetApplication(id); return err == nil && a.GetState() == state }
	}
	type walk struct {
		unit, worker, matter string
		person               [3]string
		steps                []string // what the county, then the window, do
	}
	walks := []walk{
		{"330324101201", "城东社区 全科社工 陈芳", "MZ-005", [3]string{"赵桂兰", "33032419490817242", "13857701111"}, []string{"approve", "deliver", "rate"}},
		{"330324101202", "溪口村 全科社工 吴强", "RS-005", [3]string{"钱福生", "33032419620101113", "13857702222"}, []string{"approve"}},
		{"330324102201", "青山村 全科社工 林娟", "YB-002", [3]string{"孙秀兰", "33032419700303224", "13857703333"}, []string{"supplement"}},
		{"330324102202", "石门村 全科社工 郑伟", "CL-001", [3]string{"冯志明", "33032419801010335", "13857704444"}, []string{"reject"}},
		{"330324101", "城关镇便民服务中心 王敏", "GA-005", [3]string{"蒋丽", "33032419920202446", "13857705555"}, nil},
		{"330324102", "青山乡便民服务中心 李军", "MZ-006", [3]string{"沈阿婆", "33032419400505557", ""}, []string{"approve", "deliver"}},
	}
	for _, w := range walks {
		st := nodes[w.unit]
		m, err := st.Rules.GetMatter(w.matter)
		if err != nil {
			return err
		}
		var materials []string
		for _, mat := range m.GetMaterials() {
			if mat.GetRequired() {
				materials = append(materials, mat.GetName())
			}
		}
		a, err := apply(st, w.worker, &pb.Command{Op: &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{MatterCode: w.matter,
			Applicant: &pb.Applicant{Name: w.person[0], IdNumber: rules.MakeIDNumber(w.person[1]), Phone: w.person[2]}, Materials: materials}}})
		if err != nil {
			return fmt.Errorf("accept %s at %s: %w", w.matter, w.unit, err)
		}
		id := a.GetId()
		// Decided where the router sent it: the county, or the township
		// the matter is devolved or entrusted to.
		proc := nodes[a.GetProcessingUnit()]
		arrived := rules.StateReceived
		if a.GetProcessingUnit() == w.unit {
			arrived = rules.StateAccepted
		}
		if err := waitFor(id+" at its processing unit", stateAt(proc, id, arrived)); err != nil {
			return err
		}
		if err := waitFor(id+" seen by the county", func() bool { _, _, err := county.Rules.GetApplication(id); return err == nil }); err != nil {
			return err
		}
		for _, step := range w.steps {
			var err error
			switch step {
			case "approve", "reject":
				_, err = apply(proc, "审批人 刘明", &pb.Command{Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{
					Id: id, Approve: step == "approve", Reason: map[string]string{"approve": "材料齐全，符合条件", "reject": "残疾评定未达到评残标准"}[step]}}})
				if err == nil {
					want := rules.StateApproved
					if step == "reject" {
						want = rules.StateRejected
					}
					err = waitFor(id+" decided at the window", stateAt(st, id, want))
				}
			case "supplement":
				_, err = apply(proc, "县医保局 周洁", &pb.Command{Op: &pb.Command_RequestSupplement{RequestSupplement: &pb.RequestSupplementRequest{
					Id: id, Materials: []string{"费用明细清单"}, Reason: "费用明细清单缺少医院盖章"}}})
				if err == nil {
					err = waitFor(id+" supplement request at the window", stateAt(st, id, rules.StateSupplementRequested))
				}
			case "deliver":
				_, err = apply(st, w.worker, &pb.Command{Op: &pb.Command_Deliver{Deliver: &pb.DeliverApplicationRequest{Id: id, Method: "window"}}})
			case "rate":
				_, err = apply(st, "申请人", &pb.Command{Op: &pb.Command_Rate{Rate: &pb.RateApplicationRequest{Id: id, Score: 5, Comment: "在家门口就办好了"}}})
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", step, id, err)
			}
		}
	}
	return nil
}

// demoSeed reads deploy/seed/delegations.yaml (embedded).
func demoSeed() (*delegation.DelegationSeed, error) {
	return delegation.ParseDelegationSeed(bytes.NewReader(seed.Delegations))
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
func SeedDemo(ctx context.Context, st *node.Node, now time.Time) error {
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return err
	}
	ds, err := demoSeed()
	if err != nil {
		return err
	}
	units, err := delegation.ParseUnitsYAML(bytes.NewReader(seed.Units))
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
				MatterCode: matter, Applicant: &pb.Applicant{Name: p.name, IdNumber: rules.MakeIDNumber(p.id17), Phone: p.phone},
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
	}}, {at: day(70, -5), app: -1, desc: "units' names", op: func(string) *pb.Command {
		return &pb.Command{Actor: "县政务服务管理办 管理员", Op: &pb.Command_SetUnits{SetUnits: units}}
	}}}
	// Township classes and their menus, and the negative list.
	for i, c := range ds.Classes {
		c := c
		steps = append(steps, demoStep{at: day(70, -10-i), app: -1, desc: "class " + c.GetCode(), op: func(string) *pb.Command {
			return &pb.Command{Actor: "县政务服务管理办 管理员", Op: &pb.Command_SetClass{SetClass: &pb.SetClassRequest{Class: c}}}
		}})
	}
	steps = append(steps, demoStep{at: day(70, -20), app: -1, desc: "negative list", op: func(string) *pb.Command {
		return &pb.Command{Actor: "县政务服务管理办 管理员", Op: &pb.Command_SetNegative{SetNegative: &pb.SetNegativeListRequest{Entries: ds.Negative}}}
	}})
	// The county's delegated item lists (下放、委托、代办清单).
	for i, g := range ds.Grants {
		g := g
		steps = append(steps, demoStep{at: day(70, -1-i), app: -1, desc: "grant " + g.GetMatterCode(), op: func(string) *pb.Command {
			return &pb.Command{Actor: "县政务服务管理办 管理员", Op: &pb.Command_Grant{Grant: g}}
		}})
	}
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

// demoCertificates makes the demo county's CA under data/ca (kept with a
// kept data directory) and a certificate for every unit's node, for host
// (and localhost, 127.0.0.1 and ::1 when it is loopback). It returns the
// loaded certificates by unit and the CA certificate's path.
func demoCertificates(data, host string) (map[string]*auth.Bundle, string, error) {
	caDir := filepath.Join(data, "ca")
	ca, err := auth.OpenCA(caDir)
	if errors.Is(err, os.ErrNotExist) {
		ca, err = auth.InitCA(caDir, tiers.MustParse(DemoCounty), time.Now())
	}
	if err != nil {
		return nil, "", fmt.Errorf("demo CA: %w", err)
	}
	hosts := []string{host}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		hosts = []string{"127.0.0.1", "::1", "localhost"}
	}
	out := map[string]*auth.Bundle{}
	for _, u := range DemoUnits {
		dir := filepath.Join(data, "tls", u.Code)
		b, err := auth.LoadBundle(dir, time.Now())
		if errors.Is(err, os.ErrNotExist) {
			var cert, key []byte
			if cert, key, err = ca.Issue(auth.IssueRequest{Unit: tiers.MustParse(u.Code), Role: auth.RoleNode, Hosts: hosts, Now: time.Now()}); err != nil {
				return nil, "", err
			}
			if err = auth.WriteNodeDir(dir, ca.CertPEM(), cert, key); err == nil {
				b, err = auth.LoadBundle(dir, time.Now())
			}
		}
		if err != nil {
			return nil, "", fmt.Errorf("certificate of %s: %w", u.Code, err)
		}
		out[u.Code] = b
	}
	return out, filepath.Join(caDir, auth.CACertFile), nil
}
