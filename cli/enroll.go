package cli

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/tiers"
)

// CATokenOptions are the flags of `ca token`.
type CATokenOptions struct {
	Dir  string
	Unit string
	TTL  time.Duration
}

func newCATokenCmd(f *Factory) *cobra.Command {
	o := &CATokenOptions{}
	cmd := &cobra.Command{
		Use:   "token --dir DIR --unit CODE [--ttl 24h]",
		Short: "给一个单位的新节点一次性入网令牌：新节点凭它申请证书（node enroll），私钥不离开新节点",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Dir == "" {
				return errors.New("--dir: 请指定证书颁发机构的目录")
			}
			unit, err := tiers.Parse(o.Unit)
			if err != nil {
				return fmt.Errorf("--unit: %w", err)
			}
			ca, err := auth.OpenCA(o.Dir)
			if err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			tok, err := ca.Token(unit, o.TTL, time.Now())
			if err != nil {
				return err
			}
			if f.json() {
				enc := json.NewEncoder(f.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"unit": unit, "token": tok, "ttl": o.TTL.String()})
			}
			fmt.Fprintf(f.Out, "%s 的入网令牌（%s 内有效，只能用一次）：\n  %s\n新节点上运行：\n  jiujin node enroll --parent 上级节点URL --ca ca.crt --unit %s --token %s --out /etc/jiujin/tls --host 新节点地址\n",
				unit, o.TTL, tok, unit, tok)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", "", "证书颁发机构的目录")
	fl.StringVar(&o.Unit, "unit", "", "新节点的单位代码")
	fl.DurationVar(&o.TTL, "ttl", auth.DefaultTokenTTL, "令牌有效时长")
	return cmd
}

func newCASignPendingCmd(f *Factory) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "sign-pending --dir DIR --node COUNTY_URL",
		Short: "签发各新节点的入网申请：核对令牌，签发证书，由县级节点（管理员登录）送回新节点",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("--dir: 请指定证书颁发机构的目录")
			}
			ca, err := auth.OpenCA(dir)
			if err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			res, err := f.Node().ListEnrollments(cmd.Context(), connect.NewRequest(&pb.ListEnrollmentsRequest{PendingOnly: true}))
			if err != nil {
				return err
			}
			t := &table{}
			t.add("申请", "单位", "经由", "结果")
			for _, e := range res.Msg.GetEnrollments() {
				der, refused, err := ca.SignEnrollment(e, time.Now())
				if err != nil {
					return err
				}
				if _, err := f.Node().AnswerEnrollment(cmd.Context(), connect.NewRequest(&pb.AnswerEnrollmentRequest{
					Id: e.GetId(), Certificate: der, Refused: refused})); err != nil {
					return fmt.Errorf("申请 %s：%w", e.GetId(), err)
				}
				result := "已签发"
				if refused != "" {
					result = "拒绝：" + refused
				}
				t.add(e.GetId(), e.GetUnit(), e.GetReceivedBy(), result)
			}
			if len(res.Msg.GetEnrollments()) == 0 {
				fmt.Fprintln(f.Out, "没有待签发的入网申请。")
				return nil
			}
			t.print(f.Out)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "证书颁发机构的目录")
	return cmd
}

// NodeEnrollOptions are the flags of `node enroll`.
type NodeEnrollOptions struct {
	Parent string
	Unit   string
	Token  string
	Out    string
	Hosts  []string
	Wait   time.Duration
	Every  time.Duration
}

func newNodeEnrollCmd(f *Factory) *cobra.Command {
	o := &NodeEnrollOptions{}
	cmd := &cobra.Command{
		Use:   "enroll --parent URL --ca ca.crt --unit CODE --token T --out DIR",
		Short: "新节点入网：在本机生成私钥，凭一次性令牌向上级申请证书，县里签发后写入 --out（供 node start --tls-dir）",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.Parent == "":
				return errors.New("--parent: 请指定上级节点的地址")
			case f.CAFile == "":
				return errors.New("--ca: 请指定本县证书颁发机构的证书（ca.crt）")
			case strings.TrimSpace(o.Token) == "":
				return errors.New("--token: 请给出入网令牌（ca token）")
			case o.Out == "":
				return errors.New("--out: 请指定证书目录")
			}
			unit, err := tiers.Parse(o.Unit)
			if err != nil {
				return fmt.Errorf("--unit: %w", err)
			}
			f.NodeURL = o.Parent
			key, err := enrollKey(o.Out)
			if err != nil {
				return err
			}
			pub := key.Public().(ed25519.PublicKey)
			req := &pb.EnrollRequest{Unit: string(unit), PublicKey: pub, Hosts: o.Hosts,
				Proof: auth.EnrollProof(o.Token, string(unit), pub, o.Hosts)}
			res, err := f.Enroll().Enroll(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			id := res.Msg.GetEnrollment().GetId()
			fmt.Fprintf(f.Out, "已向 %s 提交入网申请 %s；等待县里签发（jiujin ca sign-pending）……\n", o.Parent, id)
			deadline := time.Now().Add(o.Wait)
			for {
				e := res.Msg.GetEnrollment()
				if e.GetRefused() != "" {
					return fmt.Errorf("入网申请 %s 被拒绝：%s", id, e.GetRefused())
				}
				if len(e.GetCertificate()) > 0 {
					return writeEnrolled(f, o.Out, e.GetCertificate(), key)
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("等了 %s 仍未签发；可再次运行本命令继续等待（私钥保留在 %s）", o.Wait, o.Out)
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(o.Every):
				}
				g, err := f.Enroll().GetEnrollment(cmd.Context(), connect.NewRequest(&pb.GetEnrollmentRequest{Id: id}))
				if err != nil {
					return err
				}
				res.Msg.Enrollment = g.Msg.GetEnrollment()
			}
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Parent, "parent", "", "转交申请的上级节点地址")
	fl.StringVar(&o.Unit, "unit", "", "本节点的单位代码")
	fl.StringVar(&o.Token, "token", "", "一次性令牌（由 jiujin ca token 给出）")
	fl.StringVar(&o.Out, "out", "", "存放 ca.crt、node.crt、node.key 的目录（权限 0700）")
	fl.StringArrayVar(&o.Hosts, "host", nil, "访问本节点所用的域名或地址（可重复）")
	fl.DurationVar(&o.Wait, "wait", 24*time.Hour, "等待证书的最长时间")
	fl.DurationVar(&o.Every, "every", 10*time.Second, "询问间隔")
	return cmd
}

// enrollKey is the node's key in dir: made (mode 0600) at the first run,
// kept across runs so that a run asked again continues the same request.
func enrollKey(dir string) (ed25519.PrivateKey, error) {
	if _, err := os.Stat(filepath.Join(dir, auth.NodeKeyFile)); err == nil {
		return nil, fmt.Errorf("--out: %s 中已有节点私钥，不覆盖", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	return auth.PendingKey(dir)
}

// writeEnrolled writes the node's TLS directory from the certificate the
// county sent back, and checks it loads.
func writeEnrolled(f *Factory, dir string, certDER []byte, key ed25519.PrivateKey) error {
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		return fmt.Errorf("--ca: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	if err := auth.WriteNodeDir(dir, caPEM, certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})); err != nil {
		return err
	}
	b, err := auth.LoadBundle(dir, time.Now())
	if err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, auth.NodeKeyFile+".next"))
	fmt.Fprintf(f.Out, "已取得证书：%s，序列号 %s，有效至 %s。\n用 jiujin node start --tls-dir %s 启动本节点。\n",
		b.Self, auth.Serial(b.Leaf), b.Leaf.NotAfter.Format("2006-01-02"), dir)
	return nil
}
