package cli

import (
	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

func newAppReceiptCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "receipt ID",
		Short:   "再打印一次受理回执（申请人遗失回执时）",
		Example: "  jiujin app receipt 330324101201-20261122-000001",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Apps().GetApplication(cmd.Context(), connect.NewRequest(&pb.GetApplicationRequest{Id: args[0]}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg.GetReceipt())
			}
			printReceipt(f.Out, res.Msg.GetReceipt())
			return nil
		},
	}
	return cmd
}
