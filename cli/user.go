package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
)

func newUserCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "操作员账户（县级管理员）：bootstrap 第一个管理员、add 新增、list 列表、disable 停用、enable 启用、reset-password 重置口令、roles 设定角色、totp-reset 重置第二因子",
	}
	cmd.AddCommand(newUserBootstrapCmd(f), newUserAddCmd(f), newUserListCmd(f), newUserUpdateCmd(f, "disable"),
		newUserUpdateCmd(f, "enable"), newUserUpdateCmd(f, "reset-password"), newUserUpdateCmd(f, "roles"),
		newUserUpdateCmd(f, "totp-reset"))
	return cmd
}

// UserOptions are the flags of `user bootstrap` and `user add`.
type UserOptions struct {
	Login         string
	Name          string
	Unit          string
	Roles         []string
	Department    string
	PasswordStdin bool
}

func newUserBootstrapCmd(f *Factory) *cobra.Command {
	o := &UserOptions{}
	cmd := &cobra.Command{
		Use:     "bootstrap",
		Short:   "设立本县第一个管理员：只在县级节点本机、本县还没有任何账户时可用",
		Example: `  printf '%s\n' "$PASSWORD" | jiujin user bootstrap --node https://127.0.0.1:8080 --login admin --name 王建国 --password-stdin`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := newPasswordReader(f, o.PasswordStdin).readNew("口令：", "password")
			if err != nil {
				return err
			}
			res, err := f.Accounts().Bootstrap(cmd.Context(), connect.NewRequest(&pb.BootstrapRequest{Login: o.Login, Name: o.Name, Password: pw}))
			if err != nil {
				return err
			}
			return f.printAccount(res.Msg.GetAccount(), res.Msg.GetTotpUri(), "已设立")
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Login, "login", "", "登录名：2–32 个小写字母、数字或 . _ -（必填）")
	fl.StringVar(&o.Name, "name", "", "本人姓名（必填）")
	fl.BoolVar(&o.PasswordStdin, "password-stdin", false, "从标准输入读口令")
	for _, n := range []string{"login", "name"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func newUserAddCmd(f *Factory) *cobra.Command {
	o := &UserOptions{}
	cmd := &cobra.Command{
		Use:   "add",
		Short: "新增账户；口令由本人首次登录时修改，管理员和审计员另有第二因子（打印一次 otpauth:// 地址）",
		Example: `  printf '%s\n' "$PASSWORD" | jiujin user add --login zhangli --name 张丽 --unit 330324101201 --role worker --password-stdin
  jiujin user add --login liming --name 李明 --unit 330324 --role approver --department GA`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := newPasswordReader(f, o.PasswordStdin).readNew("初始口令：", "password")
			if err != nil {
				return err
			}
			res, err := f.Accounts().AddAccount(cmd.Context(), connect.NewRequest(&pb.AddAccountRequest{Login: o.Login, Name: o.Name,
				Unit: o.Unit, Roles: o.Roles, Department: o.Department, Password: pw}))
			if err != nil {
				return err
			}
			return f.printAccount(res.Msg.GetAccount(), res.Msg.GetTotpUri(), "已新增")
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Login, "login", "", "登录名：2–32 个小写字母、数字或 . _ -（必填）")
	fl.StringVar(&o.Name, "name", "", "本人姓名（必填）")
	fl.StringVar(&o.Unit, "unit", "", "账户所属、登录所在的单位代码（必填）")
	fl.StringArrayVar(&o.Roles, "role", nil, "角色：worker（窗口）、clerk（乡镇经办）、approver（审批）、admin（管理员）或 auditor（审计员）（可重复，必填）")
	fl.StringVar(&o.Department, "department", "", "审批人所属部门，事项清单中的代码或名称")
	fl.BoolVar(&o.PasswordStdin, "password-stdin", false, "从标准输入读初始口令")
	for _, n := range []string{"login", "name", "unit", "role"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// printAccount prints an account, and an otpauth URI once.
func (f *Factory) printAccount(a *pb.Account, totpURI, done string) error {
	if f.json() {
		return f.printJSON(&pb.AddAccountResponse{Account: a, TotpUri: totpURI})
	}
	dep := ""
	if a.GetDepartment() != "" {
		dep = "，部门 " + a.GetDepartment()
	}
	fmt.Fprintf(f.Out, "%s账户 %s：%s，%s，角色 %s%s。\n", done, a.GetLogin(), a.GetName(), f.unitLabelOf(context.Background(), a.GetUnit()), roleLabels(a.GetRoles()), dep)
	if a.GetMustChangePassword() {
		fmt.Fprintln(f.Out, "本人首次登录时须修改口令。")
	}
	if totpURI != "" {
		fmt.Fprintf(f.Out, "第二因子（只显示这一次，请扫码或录入身份验证器后妥善处理本输出）：\n  %s\n", totpURI)
	}
	return nil
}

func newUserListCmd(f *Factory) *cobra.Command {
	var unit string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "列出本节点所持的账户（管理员、审计员）",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Accounts().ListAccounts(cmd.Context(), connect.NewRequest(&pb.ListAccountsRequest{Unit: unit}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			t := &table{}
			t.add("账户", "姓名", "单位", "角色", "部门", "状态", "修改于", "修改人")
			for _, a := range res.Msg.GetAccounts() {
				state := "启用"
				switch {
				case a.GetDisabled():
					state = "停用"
				case a.GetMustChangePassword():
					state = "待改口令"
				}
				t.add(a.GetLogin(), a.GetName(), f.unitLabelOf(cmd.Context(), a.GetUnit()), roleLabels(a.GetRoles()), a.GetDepartment(), state,
					a.GetUpdatedAt().AsTime().In(delegation.China).Format("2006-01-02 15:04"), a.GetUpdatedBy())
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "共 %d 个账户\n", len(res.Msg.GetAccounts()))
			return nil
		},
	}
	cmd.Flags().StringVar(&unit, "unit", "", "只列出此单位的账户")
	return cmd
}

// UserUpdateOptions are the flags of the verbs that change one account.
type UserUpdateOptions struct {
	Roles         []string
	Department    string
	PasswordStdin bool
}

var userUpdateShort = map[string]string{
	"disable":        "停用账户：各节点收到后，其会话随即结束，不能再登录",
	"enable":         "重新启用账户",
	"reset-password": "重置口令：本人下次登录时须再修改",
	"roles":          "设定角色（取代原有角色）",
	"totp-reset":     "重置第二因子：原身份验证器失效，打印新的 otpauth:// 地址",
}

func newUserUpdateCmd(f *Factory, verb string) *cobra.Command {
	o := &UserUpdateOptions{}
	cmd := &cobra.Command{
		Use:   verb + " LOGIN",
		Short: userUpdateShort[verb],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &pb.UpdateAccountRequest{Login: args[0]}
			switch verb {
			case "disable", "enable":
				d := verb == "disable"
				req.Disabled = &d
			case "reset-password":
				pw, err := newPasswordReader(f, o.PasswordStdin).readNew("新口令：", "password")
				if err != nil {
					return err
				}
				req.ResetPassword = pw
			case "roles":
				if len(o.Roles) == 0 {
					return errors.New("--role: 至少给出一个角色")
				}
				req.SetRoles, req.Roles, req.Department = true, o.Roles, o.Department
			case "totp-reset":
				req.ResetTotp = true
			}
			res, err := f.Accounts().UpdateAccount(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			return f.printAccount(res.Msg.GetAccount(), res.Msg.GetTotpUri(), map[string]string{"disable": "已停用",
				"enable": "已启用", "reset-password": "已重置口令：", "roles": "已设定角色：", "totp-reset": "已重置第二因子："}[verb])
		},
	}
	switch verb {
	case "reset-password":
		cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "从标准输入读新口令")
	case "roles":
		cmd.Flags().StringArrayVar(&o.Roles, "role", nil, "角色：worker、clerk、approver、admin 或 auditor（可重复）")
		cmd.Flags().StringVar(&o.Department, "department", "", "审批人所属部门，代码或名称")
	}
	return cmd
}

// AuditOptions are the flags of `audit list`.
type AuditOptions struct {
	User  string
	Since string
	Limit uint32
}

func newAuditCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "审计记录（审计员）：登录、登录失败、查看身份证号、授权、账户变更、清单发布"}
	o := &AuditOptions{}
	list := &cobra.Command{
		Use:   "list",
		Short: "列出本节点所持的审计记录，最近的在后",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.Accounts().ListAudit(cmd.Context(), connect.NewRequest(&pb.ListAuditRequest{Login: o.User, Since: o.Since, Limit: o.Limit}))
			if err != nil {
				return err
			}
			if f.json() {
				return f.printJSON(res.Msg)
			}
			t := &table{}
			t.add("时间", "操作人", "单位", "来源", "内容")
			for _, it := range res.Msg.GetItems() {
				who := it.GetActor()
				if it.GetActorLogin() != "" {
					who += "（" + it.GetActorLogin() + "）"
				}
				t.add(it.GetAt().AsTime().In(delegation.China).Format("2006-01-02 15:04:05"), who, f.unitLabelOf(cmd.Context(), it.GetUnit()),
					strings.TrimSpace(it.GetSource()), it.GetSummary())
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "共 %d 条\n", len(res.Msg.GetItems()))
			return nil
		},
	}
	fl := list.Flags()
	fl.StringVar(&o.User, "user", "", "只列出此操作员（登录名）的操作和登录")
	fl.StringVar(&o.Since, "since", "", "自此日起，YYYY-MM-DD")
	fl.Uint32Var(&o.Limit, "limit", 200, "最多列出这么多条（最近的）")
	cmd.AddCommand(list)
	return cmd
}
