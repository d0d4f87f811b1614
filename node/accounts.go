package node

import (
	"context"
	"fmt"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
)

// SeedAccount writes an account at this county node as the node itself:
// for the demo and the benchmarks, which make their operators before
// anyone can log in. The password is the account's own (no change due at
// the first login); totpSecret is its second factor ("" for none).
func (n *Node) SeedAccount(ctx context.Context, a *pb.Account, password, totpSecret string) error {
	if err := auth.CheckPasswordStrength("password", password); err != nil {
		return err
	}
	hash, err := n.accounts.Hash(ctx, password)
	if err != nil {
		return err
	}
	rec := &pb.AccountRecord{Account: a, PasswordHash: hash, TotpSecret: totpSecret}
	_, err = n.Apply(ctx, &pb.Command{NowMs: n.Store.Now().UnixMilli(), Actor: "系统",
		Op: &pb.Command_PutAccount{PutAccount: &pb.PutAccount{Kind: rules.KindAccountCreated, Record: rec}}})
	if err != nil {
		return fmt.Errorf("account %s: %w", a.GetLogin(), err)
	}
	return nil
}
