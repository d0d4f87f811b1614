package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/internal/durable"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// DemoPassword is the password of every demo account.
const DemoPassword = "jiujin-2026"

// DemoAccounts are the demo county's operators: one of each role at each
// kind of unit.
var DemoAccounts = []*pb.Account{
	{Login: "admin", Name: "王建国", Unit: "330324", Roles: []string{rules.RoleAdmin}},
	{Login: "auditor", Name: "陈静", Unit: "330324", Roles: []string{rules.RoleAuditor}},
	{Login: "liming", Name: "李明", Unit: "330324", Roles: []string{rules.RoleApprover}, Department: "GA"},
	{Login: "zhouhong", Name: "周红", Unit: "330324", Roles: []string{rules.RoleApprover}, Department: "MZ"},
	{Login: "liufang", Name: "刘芳", Unit: "330324", Roles: []string{rules.RoleWorker}},
	{Login: "sunwei", Name: "孙伟", Unit: "330324101", Roles: []string{rules.RoleWorker, rules.RoleClerk}},
	{Login: "mali", Name: "马丽", Unit: "330324102", Roles: []string{rules.RoleWorker, rules.RoleClerk}},
	{Login: "zhangli", Name: "张丽", Unit: "330324101201", Roles: []string{rules.RoleWorker}},
	{Login: "wangfang", Name: "王芳", Unit: "330324101202", Roles: []string{rules.RoleWorker}},
	{Login: "zhaoqiang", Name: "赵强", Unit: "330324102201", Roles: []string{rules.RoleWorker}},
	{Login: "qianyun", Name: "钱云", Unit: "330324102202", Roles: []string{rules.RoleWorker}},
}

// seedDemoAccounts writes the demo accounts at the county; the second
// factors of admin and auditor go to data/otp/LOGIN (mode 0600), where
// `jiujin login --otp-secret-file` reads them.
func seedDemoAccounts(ctx context.Context, county *node.Node, data string) error {
	dir := demoOTPDir(data)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, a := range DemoAccounts {
		var secret string
		if rules.NeedsSecondFactor(a.GetRoles()) {
			var err error
			if secret, _, err = auth.NewTOTP(DemoCounty, a.GetLogin()); err != nil {
				return err
			}
			if err := durable.WriteFile(filepath.Join(dir, a.GetLogin()), []byte(secret+"\n"), 0o600); err != nil {
				return err
			}
		}
		if err := county.SeedAccount(ctx, a, DemoPassword, secret); err != nil {
			return err
		}
	}
	return nil
}

func demoOTPDir(data string) string { return filepath.Join(data, "otp") }

// printDemoLogins lists the demo accounts, where each logs in, and how.
func printDemoLogins(w io.Writer, d *demoNet, data string) {
	names := map[string]string{}
	for _, u := range DemoUnits {
		names[u.Code] = u.Name
	}
	fmt.Fprintf(w, "\n示范账户（口令都是 %s；每个账户只在本单位的节点登录）：\n", DemoPassword)
	t := &table{}
	t.add("账户", "姓名", "单位", "角色", "节点")
	for _, a := range DemoAccounts {
		role := roleLabels(a.GetRoles())
		if a.GetDepartment() != "" {
			role += " " + a.GetDepartment()
		}
		t.add(a.GetLogin(), a.GetName(), names[a.GetUnit()], role, d.nodes[a.GetUnit()].URL())
	}
	t.print(w)
	otp := demoOTPDir(data)
	if _, err := os.Stat(filepath.Join(otp, "admin")); errors.Is(err, os.ErrNotExist) {
		return
	}
	fmt.Fprintf(w, "管理员和审计员另需动态口令：示范中其密钥在 %s 下，登录时加 --otp-secret-file %s\n",
		otp, filepath.Join(otp, "LOGIN"))
}
