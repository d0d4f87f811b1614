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
	return jiujinv1connect.NewClusterServiceClient(f.HTTPClient(), f.baseURL(), f.clientOptions()...)
}

func newClusterCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "县级集群（三成员 raft）：status 状态、remove 移除成员"}
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
			fmt.Fprintf(f.Out, "本成员 %s：%s，已应用至第 %d 条日志（最近快照：第 %d 条）\n主节点：%s\n", s.GetId(), s.GetState(), s.GetApplied(), s.GetSnapshotIndex(), leader)
			t := &table{}
			t.add("成员", "raft 地址", "投票权", "")
			for _, m := range s.GetMembers() {
				mark := ""
				if m.GetLeader() {
					mark = "主"
				}
				t.add(m.GetId(), m.GetAddress(), m.GetSuffrage(), mark)
			}
			t.print(f.Out)
			return nil
		},
	}, &cobra.Command{
		Use:     "remove MEMBER-URL",
		Short:   "从集群移除一个成员（如机器报废）",
		Example: "  jiujin cluster remove http://10.0.0.3:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := f.Cluster().RemoveMember(cmd.Context(), connect.NewRequest(&pb.RemoveMemberRequest{Id: args[0]})); err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "已移除成员 %s\n", args[0])
			return nil
		},
	})
	return cmd
}
