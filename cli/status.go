package cli

import (
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

func newStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "节点状态：单位、事件流、办件统计、上级链路、隔离事件",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Node().GetStatus(cmd.Context(), connect.NewRequest(&pb.GetStatusRequest{}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			s := res.Msg
			w := f.Out
			tier := tiers.Unit(s.GetUnit()).Tier().Label()
			fmt.Fprintf(w, "单位：%s %s  节点：%s  版本：%s\n", s.GetUnit(), tier, s.GetNodeId(), s.GetVersion()) // 村（社区） has brackets of its own
			fmt.Fprintf(w, "启动：%s  事件流：%d  事项清单：第 %d 版，%d 项\n", when(s.GetStartedAt()), s.GetFeedHead(), s.GetCatalogVersion(), s.GetMatters())
			if s.GetInsecure() {
				fmt.Fprintln(w, "安全：insecure（无证书、无登录，仅供本机测试）")
			} else {
				fmt.Fprintf(w, "证书：%s  序列号 %s  有效至 %s\n", s.GetCertificate(), s.GetCertificateSerial(), when(s.GetCertificateNotAfter()))
			}
			fmt.Fprintf(w, "办件：%d 件，超期未办结 %d 件\n", s.GetApplications(), s.GetOverdue())
			for _, c := range s.GetByState() {
				fmt.Fprintf(w, "  %-8s %d\n", rules.StateLabel(c.GetState()), c.GetCount())
			}
			if s.GetParent() == "" {
				fmt.Fprintln(w, "上级：无（县级节点）")
			}
			if len(s.GetLinks()) == 0 && s.GetParent() != "" {
				fmt.Fprintf(w, "上级 %s：未建立同步链路\n", s.GetParent())
			}
			dirs := map[string]string{"push": "上行（推送）", "pull": "下行（拉取）"}
			for _, l := range s.GetLinks() {
				state := "断开"
				if l.GetConnected() {
					state = "连通"
				}
				last := "从未"
				if l.GetLastContact() != nil {
					last = when(l.GetLastContact())
				}
				line := fmt.Sprintf("链路 %s %s：%s，最后联系 %s，积压至多 %d 个事件 / %d 字节", l.GetPeer(), dirs[l.GetDirection()], state, last, l.GetEventsBehind(), l.GetBytesBehind())
				if l.GetLastError() != "" {
					line += "，最近错误：" + l.GetLastError()
				}
				fmt.Fprintln(w, line)
			}
			if ls := s.GetLinks(); len(ls) > 0 {
				if skew := time.Duration(ls[0].GetClockSkewMs()) * time.Millisecond; skew > store.MaxClockSkew || skew < -store.MaxClockSkew {
					fmt.Fprintf(w, "注意：本机时钟与上级相差 %s，超过允许的 %s：校准时间（开启 NTP）前本节点不写入任何事项\n", skew.Round(time.Second), store.MaxClockSkew)
				}
			}
			printChildren(w, s.GetChildren())
			fmt.Fprintf(w, "隔离事件：%d  等待前序事件：%d\n", s.GetQuarantined(), s.GetHeldBack())
			for _, q := range s.GetRecentQuarantine() {
				if q.GetOrigin() == "" { // a child's summary of what was dropped
					fmt.Fprintf(w, "  %s 来自 %s：%s\n", when(q.GetAt()), q.GetFromUnit(), q.GetReason())
					continue
				}
				fmt.Fprintf(w, "  %s 来自 %s：%s %s（%s/%d）— %s\n", when(q.GetAt()), q.GetFromUnit(), q.GetKind(), q.GetRecordKey(), q.GetOrigin(), q.GetSeq(), q.GetReason())
			}
			return nil
		},
	}
}
