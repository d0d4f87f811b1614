package auth

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	gosync "sync"
	"sync/atomic"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
)

// SigAlg is the algorithm of event signatures. Events and certificates
// name theirs, so that a 国密 suite (SM2 with SM3) can stand beside it.
const SigAlg = "ed25519"

// maxSigners bounds the certificates a node keeps checked in memory; past
// it, the least recently added go and are checked again when met.
const maxSigners = 4096

// Signing signs a node's events with its certificate's key and checks the
// events of others against the county's CA (store.Signing).
type Signing struct {
	b      *Bundle
	own    atomic.Pointer[ownKey]
	pool   *x509.CertPool
	county Identity

	mu      gosync.Mutex
	signers map[string]*signer
	order   []string
}

// signer is a certificate found good for signing: whom it binds, its key
// and the end of its life.
type signer struct {
	id       Identity
	pub      ed25519.PublicKey
	notAfter time.Time
	leaf     *x509.Certificate
}

// ownKey is the node's certificate in force, as signing needs it.
type ownKey struct {
	cert    *tls.Certificate
	key     ed25519.PrivateKey
	fp, der []byte
}

// NewSigning signs with the bundle's key in force and checks with its CA.
func NewSigning(b *Bundle) (*Signing, error) {
	if _, ok := b.Current().PrivateKey.(ed25519.PrivateKey); !ok {
		return nil, errors.New("tls-dir: 节点密钥不是 ed25519 密钥，不能签署事件")
	}
	return &Signing{b: b, pool: b.Pool, county: b.Self, signers: map[string]*signer{}}, nil
}

// current is the key in force, following a renewal.
func (s *Signing) current() *ownKey {
	cert := s.b.Current()
	if k := s.own.Load(); k != nil && k.cert == cert {
		return k
	}
	k := &ownKey{cert: cert, key: cert.PrivateKey.(ed25519.PrivateKey), fp: store.Fingerprint(cert.Leaf.Raw), der: cert.Leaf.Raw}
	s.own.Store(k)
	return k
}

// Sign signs an event's hash.
func (s *Signing) Sign(hash []byte) (alg string, signer, sig []byte) {
	k := s.current()
	return SigAlg, k.fp, ed25519.Sign(k.key, hash)
}

// Certificate is the node's own certificate and its fingerprint.
func (s *Signing) Certificate() (fp, der []byte) {
	k := s.current()
	return k.fp, k.der
}

// Check verifies an event's signature with the certificate der: issued by
// the county's CA to a node or a county member, for the event's unit, in
// force at the event's time (not expired), and the signature its key's
// over the hash.
func (s *Signing) Check(ev *pb.Event, der []byte) error {
	if ev.GetSigAlg() != SigAlg {
		return fmt.Errorf("未知的签名算法 %q（本节点只认 %s）", clip(ev.GetSigAlg()), SigAlg)
	}
	sg, err := s.signerOf(der)
	if err != nil {
		return err
	}
	// An expired certificate signs nothing new. An event dated before its
	// certificate was issued is no stranger than one dated inside its life,
	// which the holder may write too: not checked.
	if at := store.HLCTime(ev.GetHlc()); at.After(sg.notAfter) {
		return fmt.Errorf("签名证书已于 %s 过期，事件时间 %s", sg.notAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	if revoked, ok := s.b.revokedAt(sg.leaf); ok && !store.HLCTime(ev.GetHlc()).Before(revoked) {
		// What it signed before stands.
		return fmt.Errorf("%w（序列号 %s，%s 起），事件时间 %s", ErrRevoked, Serial(sg.leaf), revoked.UTC().Format(time.RFC3339),
			store.HLCTime(ev.GetHlc()).UTC().Format(time.RFC3339))
	}
	if string(sg.id.Unit) != ev.GetUnit() {
		return fmt.Errorf("签名证书属于单位 %s，事件却来自 %s", sg.id.Unit, clip(ev.GetUnit()))
	}
	if !ed25519.Verify(sg.pub, ev.GetHash(), ev.GetSignature()) {
		return errors.New("签名无效：事件不是签名证书的持有者所写，或被改动")
	}
	return nil
}

// CheckCertificate verifies that der is a certificate of the county's CA
// that may sign events.
func (s *Signing) CheckCertificate(der []byte) error {
	_, err := s.signerOf(der)
	return err
}

// signerOf is the certificate der, checked once against the CA.
func (s *Signing) signerOf(der []byte) (*signer, error) {
	fp := string(store.Fingerprint(der))
	s.mu.Lock()
	sg := s.signers[fp]
	s.mu.Unlock()
	if sg != nil {
		return sg, nil
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("签名证书无法解析：%v", err)
	}
	pub, ok := leaf.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("签名证书的密钥不是 ed25519 密钥")
	}
	// The chain is checked at a time in the life of both the certificate
	// and the CA; the event's time is checked against the certificate's
	// end by Check.
	at := leaf.NotBefore
	if s.b.CA.NotBefore.After(at) {
		at = s.b.CA.NotBefore
	}
	id, err := verify(leaf, s.pool, s.county.County, at.Add(time.Second))
	if err != nil {
		return nil, fmt.Errorf("签名证书不是本县证书颁发机构签发的节点证书：%w", err)
	}
	if id.Role != RoleNode && id.Role != RoleMember {
		return nil, fmt.Errorf("%s 证书不能签署事件", id.Role)
	}
	sg = &signer{id: id, pub: pub, notAfter: leaf.NotAfter, leaf: leaf}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.signers[fp]; !ok {
		s.signers[fp] = sg
		s.order = append(s.order, fp)
		if len(s.order) > maxSigners {
			delete(s.signers, s.order[0])
			s.order = s.order[1:]
		}
	}
	return sg, nil
}

// clip is a value quoted in an error, at most a few dozen characters.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
