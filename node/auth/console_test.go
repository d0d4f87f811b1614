package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/tiers"
)

// TestABrowserIsShownTheConsoleCertificate: a client that takes Ed25519 (a
// node, the CLI) is shown the node certificate; a browser, which does not,
// the ECDSA console certificate the node made for its own names and kept
// beside its key (mode 0600), and the same one after a restart.
func TestABrowserIsShownTheConsoleCertificate(t *testing.T) {
	ca := newCA(t, "330324")
	cert, key, err := ca.Issue(IssueRequest{Unit: tiers.MustParse("330324101"), Role: RoleNode, Hosts: []string{"127.0.0.1", "node.example"}, Now: now})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "tls")
	require.NoError(t, WriteNodeDir(dir, ca.CertPEM(), cert, key))
	b, err := LoadBundle(dir, now)
	require.NoError(t, err)

	get := b.ServerConfig().GetCertificate
	node, err := get(&tls.ClientHelloInfo{SignatureSchemes: []tls.SignatureScheme{tls.Ed25519, tls.ECDSAWithP256AndSHA256},
		SupportedVersions: []uint16{tls.VersionTLS13}})
	require.NoError(t, err)
	require.IsType(t, ed25519.PrivateKey{}, node.PrivateKey)

	browser, err := get(&tls.ClientHelloInfo{SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256},
		SupportedVersions: []uint16{tls.VersionTLS13}})
	require.NoError(t, err)
	require.IsType(t, &ecdsa.PrivateKey{}, browser.PrivateKey)
	require.Contains(t, browser.Leaf.DNSNames, "node.example", "for the node's own names")
	require.Equal(t, b.Leaf.IPAddresses, browser.Leaf.IPAddresses)

	fi, err := os.Stat(filepath.Join(dir, ConsoleKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	again, err := LoadBundle(dir, now)
	require.NoError(t, err)
	second, err := again.ServerConfig().GetCertificate(&tls.ClientHelloInfo{SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedVersions: []uint16{tls.VersionTLS13}})
	require.NoError(t, err)
	require.Equal(t, browser.Certificate[0], second.Certificate[0], "kept, not made anew")

	require.NoError(t, os.Chmod(filepath.Join(dir, ConsoleKeyFile), 0o644))
	_, err = LoadBundle(dir, now)
	require.Error(t, err, "a console key others may read is refused")
}
