package auth

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jiujin/jiujin/internal/durable"
	"github.com/jiujin/jiujin/tiers"
)

// Files of a CA directory and of a node's TLS directory.
const (
	CACertFile   = "ca.crt"
	caKeyFile    = "ca.key"
	issuedFile   = "issued.jsonl"
	NodeCertFile = "node.crt"
	NodeKeyFile  = "node.key"
)

// Lifetimes: the CA ten years, a node certificate 397 days unless asked
// (the longest public CAs issue; renewal makes it short in practice).
const (
	caLifetime      = 10 * 365 * 24 * time.Hour
	DefaultNodeDays = 397
	maxNodeDays     = 825
)

// CA is the county's certificate authority: its root key and certificate
// in a directory of its own, kept off the nodes (on the administrator's
// machine or a USB key).
type CA struct {
	dir    string
	Cert   *x509.Certificate
	key    ed25519.PrivateKey
	County tiers.Unit
}

// InitCA makes a county's CA in dir: an ed25519 root key (mode 0600) and
// a self-signed certificate of ten years. It refuses a directory that
// already holds a CA.
func InitCA(dir string, county tiers.Unit, now time.Time) (*CA, error) {
	if county.Tier() != tiers.County {
		return nil, fmt.Errorf("county: %s 不是县级单位代码（6 位）", county)
	}
	if _, err := os.Stat(filepath.Join(dir, caKeyFile)); err == nil {
		return nil, fmt.Errorf("%w：%s", ErrCAExists, filepath.Join(dir, caKeyFile))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "jiujin " + string(county) + " CA", Organization: []string{"jiujin " + string(county)}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		URIs:                  []*url.URL{caURI(county)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFile(filepath.Join(dir, caKeyFile), pemBlock("PRIVATE KEY", kder), 0o600); err != nil {
		return nil, err
	}
	if err := durable.WriteFile(filepath.Join(dir, CACertFile), pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return nil, err
	}
	return &CA{dir: dir, Cert: cert, key: key, County: county}, nil
}

// caURI names the county whose CA a certificate is: jiujin://330324/ca.
func caURI(county tiers.Unit) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: string(county), Path: "/ca"}
}

// caCounty is the county a CA certificate names.
func caCounty(c *x509.Certificate) (tiers.Unit, error) {
	for _, u := range c.URIs {
		if u.Scheme == uriScheme && u.Path == "/ca" {
			county, err := tiers.Parse(u.Host)
			if err == nil && county.Tier() == tiers.County {
				return county, nil
			}
		}
	}
	return "", fmt.Errorf("%w：不是县级证书颁发机构的证书", ErrNoIdentity)
}

// OpenCA opens the CA in dir.
func OpenCA(dir string) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	county, err := caCounty(cert)
	if err != nil {
		return nil, err
	}
	kp := filepath.Join(dir, caKeyFile)
	key, err := readKey(kp)
	if err != nil {
		return nil, err
	}
	if !key.Public().(ed25519.PublicKey).Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s: 私钥与 %s 不配对", kp, CACertFile)
	}
	return &CA{dir: dir, Cert: cert, key: key, County: county}, nil
}

// CertPEM is the CA certificate, PEM-encoded.
func (ca *CA) CertPEM() []byte { return pemBlock("CERTIFICATE", ca.Cert.Raw) }

// IssueRequest asks the CA for a node certificate.
type IssueRequest struct {
	Unit tiers.Unit
	Role Role
	// Hosts are the DNS names and IP addresses clients reach the node at.
	Hosts []string
	// Days of validity (0: DefaultNodeDays).
	Days int
	// PublicKey is the node's key (an enrollment's CSR); nil: the CA
	// makes a key pair and returns its private half.
	PublicKey ed25519.PublicKey
	Now       time.Time
}

// Issued is one certificate the CA signed, as `ca list` shows it.
type Issued struct {
	Serial   string    `json:"serial"`
	Unit     string    `json:"unit"`
	Role     Role      `json:"role"`
	Hosts    []string  `json:"hosts,omitempty"`
	NotAfter time.Time `json:"notAfter"`
	IssuedAt time.Time `json:"issuedAt"`
	// Revoked by this CA (ca revoke); not stored in the list itself.
	Revoked bool `json:"revoked"`
}

// Issue signs a node certificate and records it in the CA's list. It
// returns the certificate and, when the CA made the key, the private key,
// both PEM-encoded.
func (ca *CA) Issue(req IssueRequest) (certPEM, keyPEM []byte, err error) {
	id := Identity{County: ca.County, Unit: req.Unit, Role: req.Role}
	if err := id.Check(); err != nil {
		return nil, nil, err
	}
	days := req.Days
	if days == 0 {
		days = DefaultNodeDays
	}
	if days < 1 || days > maxNodeDays {
		return nil, nil, fmt.Errorf("days: %d 应在 1 到 %d 之间", days, maxNodeDays)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: string(req.Unit) + " " + string(req.Role), Organization: []string{"jiujin " + string(ca.County)}},
		NotBefore:   req.Now.Add(-time.Hour),
		NotAfter:    req.Now.Add(time.Duration(days) * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{id.URI()},
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	for _, h := range req.Hosts {
		h = strings.TrimSpace(h)
		switch ip := net.ParseIP(h); {
		case h == "":
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		case validHostname(h):
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		default:
			return nil, nil, fmt.Errorf("host: %.64q 既不是 IP 地址也不是主机名", h)
		}
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, nil, err
	}
	pub := req.PublicKey
	if pub == nil {
		var key ed25519.PrivateKey
		if pub, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, nil, err
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		keyPEM = pemBlock("PRIVATE KEY", kder)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	rec := Issued{Serial: tmpl.SerialNumber.Text(16), Unit: string(req.Unit), Role: req.Role, Hosts: req.Hosts,
		NotAfter: tmpl.NotAfter.UTC(), IssuedAt: req.Now.UTC()}
	if err := ca.record(rec); err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), keyPEM, nil
}

// record appends what was issued to the CA's list.
func (ca *CA) record(rec Issued) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(ca.dir, issuedFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// List is every certificate the CA issued, oldest first.
func (ca *CA) List() ([]Issued, error) {
	f, err := os.Open(filepath.Join(ca.dir, issuedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Issued
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec Issued
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", issuedFile, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	revoked, err := ca.Revoked()
	for i := range out {
		out[i].Revoked = revoked[out[i].Serial]
	}
	return out, err
}

// WriteNodeDir writes a node's TLS directory: the CA certificate, the
// node's certificate and its key (mode 0600), in a directory of mode 0700.
// It refuses to overwrite a key.
func WriteNodeDir(dir string, caPEM, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	kp := filepath.Join(dir, NodeKeyFile)
	if keyPEM != nil {
		if _, err := os.Stat(kp); err == nil {
			return fmt.Errorf("out: %s 已存在，不覆盖", kp)
		}
		if err := durable.WriteFile(kp, keyPEM, 0o600); err != nil {
			return err
		}
	}
	if err := durable.WriteFile(filepath.Join(dir, CACertFile), caPEM, 0o644); err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, NodeCertFile), certPEM, 0o644)
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: 不是 PEM 格式的证书", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readKey reads an ed25519 private key from a file its owner alone may read.
func readKey(path string) (ed25519.PrivateKey, error) {
	if err := checkKeyMode(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

func parseKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("不是 PEM 格式的私钥")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("私钥不是 ed25519")
	}
	return key, nil
}

// checkKeyMode refuses a private key that others than its owner may read.
func checkKeyMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w：%s 为 %04o，应为 0600（chmod 600 %s）", ErrKeyExposed, path, fi.Mode().Perm(), path)
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// ReadKeyFile reads a secret key of size bytes from a file its owner alone
// may read (a store's encryption key).
func ReadKeyFile(path string, size int) ([]byte, error) {
	if err := checkKeyMode(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("%s 应恰为 %d 字节（如 head -c %d /dev/urandom），实为 %d 字节", path, size, size, len(b))
	}
	return b, nil
}
