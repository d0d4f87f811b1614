package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// LoginOptions are the flags of `login`.
type LoginOptions struct {
	User          string
	OTP           string
	OTPSecretFile string
	PasswordStdin bool
}

func newLoginCmd(f *Factory) *cobra.Command {
	o := &LoginOptions{}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "登录节点：会话保存在凭据文件（$JIUJIN_CREDENTIALS，默认 ~/.config/jiujin/credentials）",
		Long: `登录 --node 所指的节点（账户所属单位的节点）。口令在终端输入，或用 --password-stdin 从标准输入读：
第一行是口令；管理员设置的口令须在首次登录时修改，第二行即新口令。管理员和审计员还须 --otp
（身份验证器上的 6 位数字）。会话闲置 30 分钟或满 12 小时后结束。`,
		Example: `  jiujin login --node https://127.0.0.1:8083 --user zhangli
  printf '%s\n' "$PASSWORD" | jiujin login --user admin --otp 123456 --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runLogin(cmd, f, o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.User, "user", "", "账户登录名（必填）")
	fl.StringVar(&o.OTP, "otp", "", "身份验证器上的 6 位动态码（管理员和审计员）")
	fl.StringVar(&o.OTPSecretFile, "otp-secret-file", "", "存放账户 TOTP 密钥的文件（权限 0600），由它算出动态码（脚本、示范用）")
	fl.BoolVar(&o.PasswordStdin, "password-stdin", false, "从标准输入读口令（须改口令时再读新口令），每行一个")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

func runLogin(cmd *cobra.Command, f *Factory, o *LoginOptions) error {
	if o.OTP != "" && o.OTPSecretFile != "" {
		return errors.New("--otp 与 --otp-secret-file 只能给一个")
	}
	pw := newPasswordReader(f, o.PasswordStdin)
	password, err := pw.read("口令：")
	if err != nil {
		return err
	}
	otp := o.OTP
	if o.OTPSecretFile != "" {
		if otp, err = otpFromFile(o.OTPSecretFile); err != nil {
			return err
		}
	}
	req := &pb.LoginRequest{Login: strings.TrimSpace(o.User), Password: password, Otp: otp}
	res, err := f.Accounts().Login(cmd.Context(), connect.NewRequest(req))
	if err != nil && strings.Contains(err.Error(), auth.ErrPasswordChange.Error()) {
		fmt.Fprintln(f.Err, "口令由管理员设置，须设新口令（至少 8 个字符，至少两类：数字、小写、大写、符号）。")
		if req.NewPassword, err = pw.readNew("新口令：", "new_password"); err != nil {
			return err
		}
		res, err = f.Accounts().Login(cmd.Context(), connect.NewRequest(req))
	}
	if err != nil {
		return err
	}
	path, c, err := openCredentials()
	if err != nil {
		return err
	}
	a := res.Msg.GetAccount()
	c.Sessions[credentialsKey(f.NodeURL)] = savedSession{Token: res.Msg.GetToken(), Login: a.GetLogin(), Unit: a.GetUnit(),
		ExpiresAt: res.Msg.GetExpiresAt().AsTime()}
	if err := c.save(path); err != nil {
		return err
	}
	if f.json() {
		return f.printJSON(a)
	}
	unit := a.GetUnit()
	names := connect.NewRequest(&pb.ListUnitsRequest{Query: unit})
	names.Header().Set("Authorization", "Bearer "+res.Msg.GetToken()) // the session just opened
	if us, err := f.Units().ListUnits(cmd.Context(), names); err == nil {
		for _, u := range us.Msg.GetUnits() {
			if u.GetCode() == unit {
				unit = unitLabel(unit, u.GetName())
			}
		}
	}
	fmt.Fprintf(f.Out, "已登录：%s（%s），%s，角色 %s。\n会话至 %s，闲置 %d 分钟即结束；凭据保存在 %s。\n",
		a.GetName(), a.GetLogin(), unit, roleLabels(a.GetRoles()),
		res.Msg.GetExpiresAt().AsTime().In(delegation.China).Format("01-02 15:04"), res.Msg.GetIdleSeconds()/60, path)
	return nil
}

func otpFromFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--otp-secret-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("--otp-secret-file: %s 的权限为 %04o，他人可读；请 chmod 600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--otp-secret-file: %w", err)
	}
	code, err := auth.TOTPCode(strings.TrimSpace(string(b)), time.Now())
	if err != nil {
		return "", fmt.Errorf("--otp-secret-file: %s 中不是有效的 TOTP 密钥", path)
	}
	return code, nil
}

func roleLabels(roles []string) string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = rules.RoleLabel(r) + "（" + r + "）"
	}
	return strings.Join(out, "、")
}

// passwordReader reads passwords from standard input, a line each
// (--password-stdin), or from the terminal without echo.
type passwordReader struct {
	f     *Factory
	stdin bool
	lines *bufio.Scanner
}

func newPasswordReader(f *Factory, stdin bool) *passwordReader {
	return &passwordReader{f: f, stdin: stdin, lines: bufio.NewScanner(f.In)}
}

func (p *passwordReader) read(prompt string) (string, error) {
	if p.stdin {
		if !p.lines.Scan() {
			if err := p.lines.Err(); err != nil {
				return "", fmt.Errorf("--password-stdin: %w", err)
			}
			return "", errors.New("--password-stdin: 标准输入中没有口令")
		}
		return strings.TrimRight(p.lines.Text(), "\r"), nil
	}
	in, ok := p.f.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("不在终端上运行：请用 --password-stdin 从标准输入给出口令")
	}
	fmt.Fprint(p.f.Err, prompt)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(p.f.Err)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// readNew reads a password being set: the next line, or twice at a
// terminal; field names it in errors.
func (p *passwordReader) readNew(prompt, field string) (string, error) {
	np, err := p.read(prompt)
	if err != nil || p.stdin {
		return np, err
	}
	again, err := p.read("再输一次：")
	if err != nil {
		return "", err
	}
	if again != np {
		return "", fmt.Errorf("%s: 两次输入的口令不一致", field)
	}
	return np, nil
}

func newLogoutCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "结束在 --node 节点上的会话，并从凭据文件中删去",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, c, err := openCredentials()
			if err != nil {
				return err
			}
			key := credentialsKey(f.NodeURL)
			if _, ok := c.Sessions[key]; !ok && os.Getenv("JIUJIN_TOKEN") == "" {
				fmt.Fprintf(f.Out, "在 %s 上没有会话。\n", f.NodeURL)
				return nil
			}
			if _, err := f.Accounts().Logout(cmd.Context(), connect.NewRequest(&pb.LogoutRequest{})); err != nil &&
				connect.CodeOf(err) != connect.CodeUnauthenticated {
				return err
			}
			delete(c.Sessions, key)
			if err := c.save(path); err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "已退出 %s。\n", f.NodeURL)
			return nil
		},
	}
}
