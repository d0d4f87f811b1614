package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// operators makes a benchmark's operators at a new county node the way a
// county does (the first administrator from the node's own machine, a
// window worker added by it, each logged in, the worker changing the
// password the administrator set) and returns the interceptors that call
// as each.
func operators(ctx context.Context, hc *http.Client, nodeURL string) (admin, worker connect.ClientOption, err error) {
	accts := jiujinv1connect.NewAccountServiceClient(hc, nodeURL)
	const pw, workerPW = "Bench-admin-1", "Bench-worker-2"
	boot, err := accts.Bootstrap(ctx, connect.NewRequest(&pb.BootstrapRequest{Login: "admin", Name: "压测管理员", Password: pw}))
	if err != nil {
		return nil, nil, fmt.Errorf("bootstrap: %w", err)
	}
	u, err := url.Parse(boot.Msg.GetTotpUri())
	if err != nil {
		return nil, nil, fmt.Errorf("totp uri: %w", err)
	}
	code, err := auth.TOTPCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		return nil, nil, err
	}
	a, err := accts.Login(ctx, connect.NewRequest(&pb.LoginRequest{Login: "admin", Password: pw, Otp: code}))
	if err != nil {
		return nil, nil, fmt.Errorf("admin login: %w", err)
	}
	admin = bearer(a.Msg.GetToken())
	_, err = jiujinv1connect.NewAccountServiceClient(hc, nodeURL, admin).AddAccount(ctx, connect.NewRequest(&pb.AddAccountRequest{
		Login: "window", Name: "压测窗口", Unit: "330324", Roles: []string{rules.RoleWorker}, Password: pw}))
	if err != nil {
		return nil, nil, fmt.Errorf("add worker: %w", err)
	}
	w, err := accts.Login(ctx, connect.NewRequest(&pb.LoginRequest{Login: "window", Password: pw, NewPassword: workerPW}))
	if err != nil {
		return nil, nil, fmt.Errorf("worker login: %w", err)
	}
	return admin, bearer(w.Msg.GetToken()), nil
}

// bearer sends a session token with every call.
func bearer(token string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
}
