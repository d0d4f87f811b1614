package auth

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// ErrRevoked: the certificate was revoked by the county's CA.
var ErrRevoked = errors.New("证书已被吊销")

// revokedFile lists, in a CA's directory, the serials it revoked.
const revokedFile = "revoked.txt"

// Revoke signs the revocation of a certificate the CA issued (found by
// its serial in the CA's list) and records it there. The county node
// then publishes it (jiujin ca revoke).
func (ca *CA) Revoke(serial, reason string, now time.Time) (*pb.Revocation, error) {
	serial = strings.ToLower(strings.TrimSpace(serial))
	issued, err := ca.List()
	if err != nil {
		return nil, err
	}
	var found *Issued
	for i := range issued {
		if issued[i].Serial == serial {
			found = &issued[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("serial: 本证书颁发机构没有签发过序列号为 %.40q 的证书（见 ca list）", serial)
	}
	r := &pb.Revocation{Serial: serial, Unit: found.Unit, Role: string(found.Role), Reason: strings.TrimSpace(reason),
		RevokedAtMs: now.UnixMilli()}
	b, err := revocationBytes(r)
	if err != nil {
		return nil, err
	}
	r.CaSignature = ed25519.Sign(ca.key, b)
	f, err := os.OpenFile(filepath.Join(ca.dir, revokedFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s\t%s\t%s\n", serial, now.UTC().Format(time.RFC3339), r.GetReason()); err != nil {
		return nil, err
	}
	return r, f.Sync()
}

// Revoked are the serials the CA has revoked (for ca list).
func (ca *CA) Revoked() (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(ca.dir, revokedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if serial, _, ok := strings.Cut(line, "\t"); ok {
			out[serial] = true
		}
	}
	return out, nil
}

func revocationBytes(r *pb.Revocation) ([]byte, error) {
	c := proto.Clone(r).(*pb.Revocation)
	c.CaSignature = nil
	return proto.MarshalOptions{Deterministic: true}.Marshal(c)
}

// VerifyRevocation checks that the county's CA signed the revocation.
func VerifyRevocation(ca *x509.Certificate, r *pb.Revocation) error {
	pub, ok := ca.PublicKey.(ed25519.PublicKey)
	if !ok {
		return errors.New("证书颁发机构的密钥不是 ed25519 密钥")
	}
	b, err := revocationBytes(r)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, b, r.GetCaSignature()) {
		return errors.New("ca_signature: 不是本县证书颁发机构签署的吊销")
	}
	return nil
}

// revocations answers whether a serial is revoked, and since when.
type revocations = func(serial string) (time.Time, bool)

// SetRevocations gives the bundle what its node knows of revoked
// certificates: from then on every handshake, every node-to-node call and
// every event signature is checked against it.
func (b *Bundle) SetRevocations(f func(serial string) (time.Time, bool)) {
	b.revoked.Store(&f)
}

// revokedAt reports whether a certificate is revoked, and since when.
func (b *Bundle) revokedAt(c *x509.Certificate) (time.Time, bool) {
	f := b.revoked.Load()
	if f == nil || c == nil {
		return time.Time{}, false
	}
	return (*f)(Serial(c))
}

// checkRevoked refuses a revoked certificate.
func (b *Bundle) checkRevoked(c *x509.Certificate) error {
	if at, ok := b.revokedAt(c); ok {
		return fmt.Errorf("%w：序列号 %s，%s 起", ErrRevoked, Serial(c), at.UTC().Format(time.RFC3339))
	}
	return nil
}

type revokedHook = atomic.Pointer[revocations]

// RevocationsOf answers from what the rules hold of revoked certificates,
// read again only after a change has arrived (the store's generation).
func RevocationsOf(r *rules.Rules) func(serial string) (time.Time, bool) {
	var mu gosync.Mutex
	var gen uint64
	var set map[string]time.Time
	return func(serial string) (time.Time, bool) {
		g := r.Store().Generation()
		mu.Lock()
		defer mu.Unlock()
		if set == nil || g != gen {
			revs, err := r.Revocations()
			if err == nil {
				set, gen = make(map[string]time.Time, len(revs)), g
				for s, rev := range revs {
					set[s] = rules.RevokedAt(rev)
				}
			}
		}
		at, ok := set[serial]
		return at, ok
	}
}
