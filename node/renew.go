package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

// defaultRenewEvery is how often a node looks at its certificate's age.
const defaultRenewEvery = time.Hour

// renewLoop renews the node's certificate over its sync link: two thirds
// through its life, the node makes a new key, asks the county for a
// certificate in a request it signs with the one it has, and once the
// CA's holder has signed (jiujin ca sign-pending) and the answer has come
// down the link, puts the new certificate in force and in its TLS
// directory.
func (n *Node) renewLoop(ctx context.Context) {
	every := n.cfg.RenewEvery
	if n.cfg.TLS == nil || n.cfg.TLSDir == "" || every < 0 {
		return
	}
	if every == 0 {
		every = defaultRenewEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := n.renew(ctx); err != nil && ctx.Err() == nil {
			n.cfg.Logger.Warn("certificate renewal", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// renew takes the next step of a renewal, if one is due.
func (n *Node) renew(ctx context.Context) error {
	b, now := n.cfg.TLS, time.Now()
	cur := b.Current().Leaf
	if !auth.RenewalDue(cur, now) {
		return nil
	}
	key, err := auth.PendingKey(n.cfg.TLSDir)
	if err != nil {
		return err
	}
	pub := key.Public().(ed25519.PublicKey)
	e, err := n.Rules.Enrollment(rules.EnrollmentID(pub))
	if errors.Is(err, store.ErrNotFound) {
		_, err = n.write(ctx, &pb.Command{NowMs: n.Store.Now().UnixMilli(), Actor: store.SystemActor,
			Op: &pb.Command_Enroll{Enroll: &pb.Enrollment{Unit: string(n.cfg.Unit), PublicKey: pub, Hosts: auth.Hosts(cur),
				Renewal: true, Role: string(b.Self.Role)}}})
		if err == nil {
			n.cfg.Logger.Info("certificate renewal requested: the county's CA signs it with jiujin ca sign-pending",
				"expires", cur.NotAfter, "request", rules.EnrollmentID(pub))
		}
		return err
	}
	switch {
	case err != nil:
		return err
	case e.GetRefused() != "":
		return errors.New("续期被拒绝：" + e.GetRefused())
	case len(e.GetCertificate()) == 0:
		return nil // not signed yet
	}
	leaf, err := b.CheckRenewal(e.GetCertificate(), key, now)
	if err != nil {
		return err
	}
	// On disk first: a crash between the two starts with the new one.
	if err := auth.InstallRenewal(n.cfg.TLSDir, e.GetCertificate()); err != nil {
		return err
	}
	b.Renewed(leaf, key)
	n.cfg.Logger.Info("certificate renewed", "serial", auth.Serial(leaf), "expires", leaf.NotAfter)
	return nil
}
