package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"connectrpc.com/connect"
	"github.com/jiujin/jiujin/node/rpc"
)

// tokenInterceptor sends the session token, if any, with every call as
// its bearer, unless the call names its own (a login's first call).
func tokenInterceptor(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" && req.Header().Get("Authorization") == "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}
}

// RetryInterceptor gives every call an idempotency key
// (rpc.IdempotencyHeader) and, when the node answers Unavailable (a county
// group electing its leader, a node restarting), calls again with the same
// key, up to tries more times, wait apart: a write whose first answer was
// lost is still applied once.
func RetryInterceptor(tries int, wait time.Duration) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Header().Get(rpc.IdempotencyHeader) == "" {
				req.Header().Set(rpc.IdempotencyHeader, randomKey())
			}
			for i := 0; ; i++ {
				res, err := next(ctx, req)
				if connect.CodeOf(err) != connect.CodeUnavailable || i >= tries {
					return res, err
				}
				select {
				case <-ctx.Done():
					return res, err
				case <-time.After(wait):
				}
			}
		}
	}
}

func randomKey() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
