package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/tiers"
)

func newCACmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "本县的证书颁发机构：init 建立、issue 签发节点证书、list 已签发证书、revoke 吊销、token 入网令牌、sign-pending 签发入网申请"}
	cmd.AddCommand(newCAInitCmd(f), newCAIssueCmd(f), newCAListCmd(f), newCARevokeCmd(f), newCATokenCmd(f), newCASignPendingCmd(f))
	return cmd
}

// CAInitOptions are the flags of `ca init`.
type CAInitOptions struct {
	Dir    string
	County string
}

func newCAInitCmd(f *Factory) *cobra.Command {
	o := &CAInitOptions{}
	cmd := &cobra.Command{
		Use:     "init --dir DIR --county CODE",
		Short:   "建立本县的证书颁发机构：根私钥（ed25519，权限 0600）和十年有效的根证书",
		Example: "  jiujin ca init --dir /media/usb/jiujin-ca --county 330324",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Dir == "" {
				return fmt.Errorf("--dir: 请指定证书颁发机构的目录")
			}
			county, err := tiers.Parse(o.County)
			if err != nil {
				return fmt.Errorf("--county: %w", err)
			}
			ca, err := auth.InitCA(o.Dir, county, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "已建立 %s 的证书颁发机构：%s（根证书 %s，有效至 %s）\n根私钥只在此目录中；请离线保管，不要放在节点上。\n",
				county, o.Dir, filepath.Join(o.Dir, auth.CACertFile), ca.Cert.NotAfter.In(delegation.China).Format("2006-01-02"))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "证书颁发机构的目录（新建，权限 0700）")
	cmd.Flags().StringVar(&o.County, "county", "", "本县 6 位区划代码")
	return cmd
}

// CAIssueOptions are the flags of `ca issue`.
type CAIssueOptions struct {
	Dir   string
	Unit  string
	Role  string
	Hosts []string
	Out   string
	Days  int
}

func newCAIssueCmd(f *Factory) *cobra.Command {
	o := &CAIssueOptions{}
	cmd := &cobra.Command{
		Use:   "issue --dir DIR --unit CODE [--role node|member|monitor] [--host H]... --out DIR",
		Short: "为一个节点签发证书：写出 ca.crt、node.crt、node.key（权限 0600），供 node start --tls-dir 使用",
		Example: `  jiujin ca issue --dir /media/usb/jiujin-ca --unit 330324101 --host 10.1.0.2 --host cg.jiujin.lan --out ./tls-330324101
  jiujin ca issue --dir /media/usb/jiujin-ca --unit 330324 --role member --host 10.0.0.1 --out ./tls-member1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			unit, err := tiers.Parse(o.Unit)
			if err != nil {
				return fmt.Errorf("--unit: %w", err)
			}
			role, err := auth.ParseRole(o.Role)
			if err != nil {
				return fmt.Errorf("--%w", err)
			}
			if o.Out == "" {
				return fmt.Errorf("--out: 请指定证书的输出目录")
			}
			if o.Dir == "" {
				return fmt.Errorf("--dir: 请指定证书颁发机构的目录")
			}
			ca, err := auth.OpenCA(o.Dir)
			if err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			certPEM, keyPEM, err := ca.Issue(auth.IssueRequest{Unit: unit, Role: role, Hosts: o.Hosts, Days: o.Days, Now: time.Now()})
			if err != nil {
				return fmt.Errorf("--%w", err)
			}
			if err := auth.WriteNodeDir(o.Out, ca.CertPEM(), certPEM, keyPEM); err != nil {
				return fmt.Errorf("--%w", err)
			}
			fmt.Fprintf(f.Out, "已签发 %s 的 %s 证书：%s（ca.crt、node.crt、node.key）\n把此目录复制到该节点，启动时用 --tls-dir 指定。\n", unit, role, o.Out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", "", "证书颁发机构的目录")
	fl.StringVar(&o.Unit, "unit", "", "节点所属单位代码")
	fl.StringVar(&o.Role, "role", string(auth.RoleNode), "证书角色：node（节点）；member（县级集群成员）；monitor（监控系统，只读 /metrics）")
	fl.StringSliceVar(&o.Hosts, "host", nil, "访问该节点所用的域名或 IP 地址（可重复）")
	fl.StringVar(&o.Out, "out", "", "写入 ca.crt、node.crt、node.key 的目录")
	fl.IntVar(&o.Days, "days", auth.DefaultNodeDays, "有效天数")
	return cmd
}

func newCAListCmd(f *Factory) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "list --dir DIR",
		Short: "列出已签发的证书：序列号、单位、角色、有效期",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("--dir: 请指定证书颁发机构的目录")
			}
			ca, err := auth.OpenCA(dir)
			if err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			list, err := ca.List()
			if err != nil {
				return err
			}
			if f.json() {
				if list == nil {
					list = []auth.Issued{}
				}
				enc := json.NewEncoder(f.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"county": ca.County, "certificates": list})
			}
			t := &table{}
			t.add("序列号", "单位", "角色", "主机", "签发", "有效至", "状态")
			for _, c := range list {
				state := "有效"
				if c.Revoked {
					state = "已吊销"
				}
				t.add(c.Serial, c.Unit, string(c.Role), hostsOf(c.Hosts), c.IssuedAt.In(delegation.China).Format("2006-01-02"),
					c.NotAfter.In(delegation.China).Format("2006-01-02"), state)
			}
			fmt.Fprintf(f.Out, "%s 的证书颁发机构已签发 %d 张证书\n", ca.County, len(list))
			t.print(f.Out)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "证书颁发机构的目录")
	return cmd
}

func hostsOf(hosts []string) string {
	if len(hosts) == 0 {
		return "—"
	}
	return strings.Join(hosts, ",")
}

// CARevokeOptions are the flags of `ca revoke`.
type CARevokeOptions struct {
	Dir    string
	Serial string
	Reason string
}

func newCARevokeCmd(f *Factory) *cobra.Command {
	o := &CARevokeOptions{}
	cmd := &cobra.Command{
		Use:     "revoke --dir DIR --serial N --reason TEXT",
		Short:   "吊销一张证书：证书颁发机构签署吊销，由县级节点（--node，管理员登录）发布到每个节点；此后各节点拒绝该证书的连接及其此后签署的事件",
		Example: `  jiujin ca revoke --dir /media/usb/jiujin-ca --serial 5f3a… --reason 设备丢失 --node https://10.0.0.1:8080`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.Dir == "":
				return fmt.Errorf("--dir: 请指定证书颁发机构的目录")
			case strings.TrimSpace(o.Serial) == "":
				return fmt.Errorf("--serial: 请指定要吊销的证书序列号（见 ca list）")
			case strings.TrimSpace(o.Reason) == "":
				return fmt.Errorf("--reason: 请说明吊销的理由")
			}
			ca, err := auth.OpenCA(o.Dir)
			if err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			r, err := ca.Revoke(o.Serial, o.Reason, time.Now())
			if err != nil {
				return err
			}
			res, err := f.Node().RevokeCertificate(cmd.Context(), connect.NewRequest(&pb.RevokeCertificateRequest{Revocation: r}))
			if err != nil {
				return fmt.Errorf("吊销已签署并记入 %s，但未能发布（可再次运行本命令）：%w", o.Dir, err)
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			fmt.Fprintf(f.Out, "已吊销证书 %s（%s %s）：%s。各节点收到后即拒绝该证书。\n", r.GetSerial(), r.GetUnit(), r.GetRole(), r.GetReason())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", "", "证书颁发机构的目录")
	fl.StringVar(&o.Serial, "serial", "", "证书序列号（见 ca list）")
	fl.StringVar(&o.Reason, "reason", "", "理由（记入审计）")
	return cmd
}
