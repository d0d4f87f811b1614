package node

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// testPassword is every test account's password.
const testPassword = "Jiujin-test-1"

// addAccount writes an account of unit at the county node, as the demo
// seeds its operators, and returns its TOTP secret ("" if it needs none).
func addAccount(t testing.TB, county *testNode, login, unit, department string, roles ...string) string {
	t.Helper()
	var secret string
	if rules.NeedsSecondFactor(roles) {
		var err error
		secret, _, err = auth.NewTOTP("330324", login)
		require.NoError(t, err)
	}
	require.NoError(t, county.SeedAccount(context.Background(), &pb.Account{Login: login, Name: "测试" + login, Unit: unit,
		Roles: roles, Department: department}, testPassword, secret))
	return secret
}

// loginAt logs an account in at n with its password and, if secret is
// given, the code of n's clock.
func loginAt(n *testNode, login, password, secret string) (*pb.LoginResponse, error) {
	req := &pb.LoginRequest{Login: login, Password: password}
	if secret != "" {
		code, err := auth.TOTPCode(secret, n.clock.Now())
		if err != nil {
			return nil, err
		}
		req.Otp = code
	}
	res, err := n.accts.Login(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// signIn makes an account of n's unit at the county, waits for it to
// reach n and logs in there: n's clients then call as that operator.
func (n *testNode) signIn(t testing.TB, county *testNode, login string, roles ...string) {
	t.Helper()
	n.signInDept(t, county, login, "", roles...)
}

func (n *testNode) signInDept(t testing.TB, county *testNode, login, department string, roles ...string) {
	t.Helper()
	secret := addAccount(t, county, login, string(n.Rules.Unit()), department, roles...)
	var res *pb.LoginResponse
	require.Eventually(t, func() bool {
		var err error
		res, err = loginAt(n, login, testPassword, secret)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "%s logs in at %s", login, n.Rules.Unit())
	tok := res.GetToken()
	n.token.Store(&tok)
}
