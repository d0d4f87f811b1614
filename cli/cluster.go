package cli

import (
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
)

// Cluster is the cluster service of the node.
func (f *Factory) Cluster() jiujinv1connect.ClusterServiceClient {
	return f.nodeConn().Cluster()
}

func newClusterCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "县级集群（三成员 raft）：status 状态、remove 移除成员"}
	cmd.PersistentFlags().StringVar(&f.TLSDir, "tls-dir", "", "成员的证书目录：集群服务只应答成员证书（在成员机器上运行）")
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "集群成员、地址和主节点（-o json 的 leader 字段为主节点）",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Cluster().GetClusterStatus(cmd.Context(), connect.NewRequest(&pb.GetClusterStatusRequest{}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			s := res.Msg
			leader := s.GetLeader()
			if leader == "" {
				leader = "（暂无，正在选举）"
			}
			fmt.Fprintf(f.Out, "本成员 %s：%s，已应用至第 %d 条日志（最近快照：第 %d 条），值日志占用磁盘 %s\n主节点：%s\n",
				s.GetId(), s.GetState(), s.GetApplied(), s.GetSnapshotIndex(), mib(s.GetValueLogBytes()), leader)
			t := &table{}
			t.add("成员", "raft 地址", "投票权", "", "版本", "状态", "已应用")
			versions := map[string]bool{}
			for _, m := range s.GetMembers() {
				mark := ""
				if m.GetLeader() {
					mark = "主"
				}
				version, state, applied := m.GetVersion(), m.GetState(), fmt.Sprint(m.GetApplied())
				if version == "" {
					version, state, applied = "?", "未曾应答", "?"
				} else {
					versions[version] = true
					if !m.GetAnswered() {
						state = "未应答（上次：" + state + "）"
					}
				}
				t.add(m.GetId(), m.GetAddress(), m.GetSuffrage(), mark, version, state, applied)
			}
			t.print(f.Out)
			if len(versions) > 1 {
				fmt.Fprintln(f.Out, "注意：成员的版本不一致。升级时逐个成员进行，完成后各成员应为同一版本。")
			}
			return nil
		},
	}, &cobra.Command{
		Use:     "remove MEMBER-URL",
		Short:   "从集群移除一个成员（如机器报废）",
		Example: "  jiujin cluster remove http://10.0.0.3:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Cluster().RemoveMember(cmd.Context(), connect.NewRequest(&pb.RemoveMemberRequest{Id: args[0]}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			fmt.Fprintf(f.Out, "已移除成员 %s\n", args[0])
			return nil
		},
	})
	return cmd
}

// mib is a size in MiB, as people read it.
func mib(b int64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
