package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jiujin/jiujin/internal/durable"
)

// RenewalDue reports whether a certificate is two thirds through its
// life: time to ask for the next.
func RenewalDue(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3))
}

// Hosts are the names and addresses a certificate binds.
func Hosts(c *x509.Certificate) []string {
	out := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// pendingKey is where a node keeps the key of the certificate it asked
// for while it waits.
func pendingKey(dir string) string { return filepath.Join(dir, NodeKeyFile+".next") }

// PendingKey is the key a node renewing its certificate waits with: made
// (mode 0600) at the first ask, read back after a restart.
func PendingKey(dir string) (ed25519.PrivateKey, error) {
	path := pendingKey(dir)
	if _, err := os.Stat(path); err == nil {
		return readKey(path)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFile(path, pemBlock("PRIVATE KEY", der), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// InstallRenewal puts a renewed certificate and the pending key in place
// of the node's: the new certificate is written beside, then key and
// certificate renamed over the old; a crash between the two renames is
// finished by the next LoadBundle.
func InstallRenewal(dir string, certDER []byte) error {
	if err := durable.WriteFile(filepath.Join(dir, NodeCertFile+".next"), pemBlock("CERTIFICATE", certDER), 0o644); err != nil {
		return err
	}
	return finishRenewal(dir)
}

// finishRenewal completes an installation a crash interrupted.
func finishRenewal(dir string) error {
	next := filepath.Join(dir, NodeCertFile+".next")
	if _, err := os.Stat(next); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(pendingKey(dir)); err == nil {
		if err := os.Rename(pendingKey(dir), filepath.Join(dir, NodeKeyFile)); err != nil {
			return fmt.Errorf("renewal: %w", err)
		}
	}
	if err := os.Rename(next, filepath.Join(dir, NodeCertFile)); err != nil {
		return fmt.Errorf("renewal: %w", err)
	}
	return durable.SyncDir(dir)
}
