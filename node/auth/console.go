package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The certificate browsers are shown. Browsers take no Ed25519 certificate,
// so the console's side of a node's listener presents an ECDSA P-256 one:
// console.crt and console.key from the TLS directory (one the county's web
// authority or another CA the browsers trust signed), or else one the node
// makes for its own names, signed by itself, which a browser asks its user
// to accept once. Nodes and the CLI keep being shown the node certificate
// of the county's CA: a handshake gets the console certificate only when
// the client cannot take the node's.
const (
	ConsoleCertFile = "console.crt"
	ConsoleKeyFile  = "console.key"
	consoleValidity = 2 * 365 * 24 * time.Hour
)

// loadConsoleCert reads the TLS directory's console certificate, or makes
// one for the node's names and keeps it there (key mode 0600); where the
// directory cannot be written, the one made lives in memory.
func loadConsoleCert(dir string, leaf *x509.Certificate, now time.Time) (*tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, ConsoleCertFile), filepath.Join(dir, ConsoleKeyFile)
	if _, err := os.Stat(certPath); err == nil {
		if err := checkKeyMode(keyPath); err != nil {
			return nil, err
		}
		c, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ConsoleCertFile, err)
		}
		return &c, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	c, certPEM, keyPEM, err := makeConsoleCert(leaf, now)
	if err != nil {
		return nil, err
	}
	if os.WriteFile(keyPath, keyPEM, 0o600) == nil {
		_ = os.WriteFile(certPath, certPEM, 0o644)
	}
	return c, nil
}

// makeConsoleCert is a self-signed ECDSA P-256 certificate for the names
// and addresses of the node certificate leaf.
func makeConsoleCert(leaf *x509.Certificate, now time.Time) (*tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "就近工作台 " + leaf.Subject.CommonName, Organization: leaf.Subject.Organization},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(consoleValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     leaf.DNSNames,
		IPAddresses:  leaf.IPAddresses,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: parsed}
	return c, pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

// certificateFor is what a handshake presents: the node certificate to a
// client that takes Ed25519 (nodes, the CLI), the console certificate to a
// browser.
func (b *Bundle) certificateFor(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cur := b.Current()
	if hello == nil || hello.SupportsCertificate(cur) == nil {
		return cur, nil
	}
	b.consoleOnce.Do(func() {
		if b.console == nil {
			b.console, _, _, b.consoleErr = makeConsoleCert(cur.Leaf, time.Now())
		}
	})
	if b.consoleErr != nil {
		return nil, b.consoleErr
	}
	return b.console, nil
}
