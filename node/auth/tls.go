package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/jiujin/jiujin/tiers"
)

// Bundle is a node's TLS directory loaded: the county CA it trusts, its
// certificate and key, and the identity the certificate binds. Cert and
// Leaf are as loaded; a renewal replaces what Current answers, which is
// what handshakes present and events are signed with.
type Bundle struct {
	CA   *x509.Certificate
	Pool *x509.CertPool
	Cert tls.Certificate
	Leaf *x509.Certificate
	Self Identity
	// cur is the certificate in force (see Current, Renewed).
	cur atomic.Pointer[tls.Certificate]
	// revoked: see SetRevocations.
	revoked revokedHook
	// console is the certificate browsers are shown (console.go), made on
	// first need where the directory gave none.
	console     *tls.Certificate
	consoleErr  error
	consoleOnce gosync.Once
}

// LoadBundle reads a node's TLS directory (ca.crt, node.crt, node.key):
// the key must be readable by its owner only, the certificate signed by
// the CA, in force, and bound to a unit of the CA's county.
func LoadBundle(dir string, now time.Time) (*Bundle, error) {
	if err := finishRenewal(dir); err != nil {
		return nil, fmt.Errorf("tls-dir: %w", err)
	}
	ca, err := readCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("tls-dir: %w", err)
	}
	county, err := caCounty(ca)
	if err != nil {
		return nil, fmt.Errorf("tls-dir: %s: %w", CACertFile, err)
	}
	key, err := readKey(filepath.Join(dir, NodeKeyFile))
	if err != nil {
		return nil, fmt.Errorf("tls-dir: %w", err)
	}
	leaf, err := readCert(filepath.Join(dir, NodeCertFile))
	if err != nil {
		return nil, fmt.Errorf("tls-dir: %w", err)
	}
	if pub, ok := leaf.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("tls-dir: %s 与 %s 不配对", NodeKeyFile, NodeCertFile)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	id, err := verify(leaf, pool, county, now)
	if err != nil {
		return nil, fmt.Errorf("tls-dir: %s: %w", NodeCertFile, err)
	}
	b := &Bundle{CA: ca, Pool: pool, Leaf: leaf, Self: id,
		Cert: tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}}
	b.cur.Store(&b.Cert)
	if b.console, err = loadConsoleCert(dir, leaf, now); err != nil {
		return nil, fmt.Errorf("tls-dir: %w", err)
	}
	return b, nil
}

// Current is the certificate in force: the one loaded, or its renewal.
func (b *Bundle) Current() *tls.Certificate { return b.cur.Load() }

// CheckRenewal checks a renewed certificate: the county's CA's, in force,
// binding the same county, unit and role, for key.
func (b *Bundle) CheckRenewal(der []byte, key ed25519.PrivateKey, now time.Time) (*x509.Certificate, error) {
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("renewal: %w", err)
	}
	if pub, ok := leaf.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("renewal: 新证书与新私钥不配对")
	}
	id, err := verify(leaf, b.Pool, b.County(), now)
	if err != nil {
		return nil, fmt.Errorf("renewal: %w", err)
	}
	if id != b.Self {
		return nil, fmt.Errorf("renewal: 新证书绑定 %s，本节点是 %s", id, b.Self)
	}
	return leaf, nil
}

// Renewed puts a renewed certificate (checked by CheckRenewal) in force,
// from the next handshake and the next event on.
func (b *Bundle) Renewed(leaf *x509.Certificate, key ed25519.PrivateKey) {
	b.cur.Store(&tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf})
}

// verify checks a node certificate against the county's CA at now and
// returns the identity it binds.
func verify(leaf *x509.Certificate, pool *x509.CertPool, county tiers.Unit, now time.Time) (Identity, error) {
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return Identity{}, fmt.Errorf("证书无效：%w", err)
	}
	id, err := FromCertificate(leaf)
	if err != nil {
		return Identity{}, err
	}
	if id.County != county {
		return Identity{}, fmt.Errorf("%w：%s（本县 %s）", ErrWrongCounty, id.County, county)
	}
	return id, nil
}

// County is the county whose CA the bundle trusts.
func (b *Bundle) County() tiers.Unit { return b.Self.County }

// Verify checks a peer's certificate chain as presented in a handshake
// and returns the identity it binds; roles, if given, are those allowed.
func (b *Bundle) Verify(rawCerts [][]byte, now time.Time, roles ...Role) (Identity, error) {
	if len(rawCerts) == 0 {
		return Identity{}, ErrNoPeer
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return Identity{}, fmt.Errorf("%w：%v", ErrNoPeer, err)
	}
	id, err := verify(leaf, b.Pool, b.County(), now)
	if err != nil {
		return Identity{}, err
	}
	if err := b.checkRevoked(leaf); err != nil {
		return Identity{}, err
	}
	if len(roles) > 0 && !hasRole(id, roles) {
		return Identity{}, fmt.Errorf("%w：%s 是 %s", ErrWrongRole, id.Unit, id.Role)
	}
	return id, nil
}

func hasRole(id Identity, roles []Role) bool {
	for _, r := range roles {
		if id.Role == r {
			return true
		}
	}
	return false
}

// ServerConfig is the node listener's TLS: TLS 1.3, asking every client
// for a certificate and verifying any it is given (browsers and the CLI
// come without one; node-to-node services then refuse the call).
func (b *Bundle) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: b.certificateFor,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      b.Pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			_, err := b.Verify(rawOf(cs.PeerCertificates), time.Now())
			return err
		},
	}
}

// ClientConfig is the TLS of a node's calls to other nodes over HTTPS:
// TLS 1.3, its own certificate, and a server certificate of the county's
// CA for the host dialled.
func (b *Bundle) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return b.Current(), nil },
		RootCAs:              b.Pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := b.Verify(rawOf(cs.PeerCertificates), time.Now())
			return err
		},
	}
}

func rawOf(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

type peerKey struct{}

// WithPeer is ctx carrying the identity of the node that called.
func WithPeer(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, peerKey{}, id)
}

// Peer is the identity of the node that made the call ctx belongs to
// (false: no node certificate, or an insecure node).
func Peer(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(peerKey{}).(Identity)
	return id, ok
}

// PeerOf is the identity of the node certificate a request came with.
func PeerOf(r *http.Request) (Identity, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return Identity{}, false
	}
	id, err := FromCertificate(r.TLS.VerifiedChains[0][0])
	return id, err == nil
}
