package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/tiers"
)

var now = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func TestIdentityURIRoundTrip(t *testing.T) {
	id := Identity{County: "330324", Unit: "330324101201", Role: RoleNode}
	require.Equal(t, "jiujin://330324/unit/330324101201/role/node", id.String())
	back, err := ParseURI(id.String())
	require.NoError(t, err)
	require.Equal(t, id, back)
}

func TestParseURIRefuses(t *testing.T) {
	tests := []struct{ name, uri, want string }{
		{"another scheme", "https://330324/unit/330324101/role/node", "未绑定"},
		{"unit of another county", "jiujin://330324/unit/330325101/role/node", "不属于"},
		{"a village member", "jiujin://330324/unit/330324101201/role/member", "member"},
		{"an unknown role", "jiujin://330324/unit/330324101/role/root", "role"},
		{"a township as county", "jiujin://330324101/unit/330324101/role/node", "不是县级"},
		{"extra path", "jiujin://330324/unit/330324101/role/node/x", "未绑定"},
		{"a query", "jiujin://330324/unit/330324101/role/node?admin=1", "未绑定"},
		{"a malformed unit", "jiujin://330324/unit/33032410/role/node", "unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURI(tt.uri)
			require.ErrorIs(t, err, ErrNoIdentity)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// newCA makes a CA in a temporary directory.
func newCA(t testing.TB, county string) *CA {
	t.Helper()
	ca, err := InitCA(filepath.Join(t.TempDir(), "ca"), tiers.MustParse(county), now)
	require.NoError(t, err)
	return ca
}

// issue writes a node's TLS directory and loads it.
func issue(t testing.TB, ca *CA, unit string, role Role) *Bundle {
	t.Helper()
	cert, key, err := ca.Issue(IssueRequest{Unit: tiers.MustParse(unit), Role: role, Hosts: []string{"127.0.0.1", "node.example"}, Now: now})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "tls")
	require.NoError(t, WriteNodeDir(dir, ca.CertPEM(), cert, key))
	b, err := LoadBundle(dir, now)
	require.NoError(t, err)
	return b
}

func TestCAIssuesAndLists(t *testing.T) {
	ca := newCA(t, "330324")
	fi, err := os.Stat(filepath.Join(ca.dir, caKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = InitCA(ca.dir, "330324", now)
	require.ErrorIs(t, err, ErrCAExists)

	b := issue(t, ca, "330324101201", RoleNode)
	require.Equal(t, Identity{County: "330324", Unit: "330324101201", Role: RoleNode}, b.Self)
	require.Equal(t, []string{"node.example"}, b.Leaf.DNSNames)
	require.Equal(t, now.Add(DefaultNodeDays*24*time.Hour), b.Leaf.NotAfter.UTC())

	reopened, err := OpenCA(ca.dir)
	require.NoError(t, err)
	list, err := reopened.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, Serial(b.Leaf), list[0].Serial)
	require.Equal(t, "330324101201", list[0].Unit)

	_, _, err = ca.Issue(IssueRequest{Unit: "330324101", Role: RoleMember, Now: now})
	require.ErrorContains(t, err, "member")
	_, _, err = ca.Issue(IssueRequest{Unit: "330325101", Role: RoleNode, Now: now})
	require.ErrorContains(t, err, "不属于")
	_, _, err = ca.Issue(IssueRequest{Unit: "330324101", Role: RoleNode, Hosts: []string{"bad host!"}, Now: now})
	require.ErrorContains(t, err, "host")
	_, _, err = ca.Issue(IssueRequest{Unit: "330324101", Role: RoleNode, Days: 5000, Now: now})
	require.ErrorContains(t, err, "days")
}

func TestCAIssuesForAKeyItDoesNotHold(t *testing.T) {
	ca := newCA(t, "330324")
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	cert, key, err := ca.Issue(IssueRequest{Unit: "330324101", Role: RoleNode, PublicKey: pub, Now: now})
	require.NoError(t, err)
	require.Nil(t, key)
	blk, _ := pem.Decode(cert)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	require.True(t, pub.Equal(c.PublicKey))
}

func TestLoadBundleRefuses(t *testing.T) {
	ca := newCA(t, "330324")
	other := newCA(t, "330324") // another CA for the same county code
	cert, key, err := ca.Issue(IssueRequest{Unit: "330324101", Role: RoleNode, Now: now})
	require.NoError(t, err)
	otherCert, otherKey, err := other.Issue(IssueRequest{Unit: "330324101", Role: RoleNode, Now: now})
	require.NoError(t, err)
	write := func(t *testing.T, caPEM, certPEM, keyPEM []byte) string {
		dir := filepath.Join(t.TempDir(), "tls")
		require.NoError(t, WriteNodeDir(dir, caPEM, certPEM, keyPEM))
		return dir
	}
	t.Run("a key others may read", func(t *testing.T) {
		dir := write(t, ca.CertPEM(), cert, key)
		require.NoError(t, os.Chmod(filepath.Join(dir, NodeKeyFile), 0o644))
		_, err := LoadBundle(dir, now)
		require.ErrorIs(t, err, ErrKeyExposed)
	})
	t.Run("a certificate of another CA", func(t *testing.T) {
		_, err := LoadBundle(write(t, ca.CertPEM(), otherCert, otherKey), now)
		require.ErrorContains(t, err, "证书无效")
	})
	t.Run("a key that is not the certificate's", func(t *testing.T) {
		_, err := LoadBundle(write(t, ca.CertPEM(), cert, otherKey), now)
		require.ErrorContains(t, err, "不配对")
	})
	t.Run("expired", func(t *testing.T) {
		_, err := LoadBundle(write(t, ca.CertPEM(), cert, key), now.Add(400*24*time.Hour))
		require.ErrorContains(t, err, "expired")
	})
}

func TestVerifyPeer(t *testing.T) {
	ca := newCA(t, "330324")
	county := issue(t, ca, "330324", RoleMember)
	village := issue(t, ca, "330324101201", RoleNode)
	otherCounty := issue(t, newCA(t, "330325"), "330325", RoleMember)

	id, err := county.Verify(village.Cert.Certificate, now)
	require.NoError(t, err)
	require.Equal(t, tiers.Unit("330324101201"), id.Unit)
	_, err = county.Verify(village.Cert.Certificate, now, RoleMember)
	require.ErrorIs(t, err, ErrWrongRole)
	_, err = county.Verify(otherCounty.Cert.Certificate, now)
	require.ErrorContains(t, err, "证书无效")
	_, err = county.Verify(nil, now)
	require.ErrorIs(t, err, ErrNoPeer)
	_, err = county.Verify([][]byte{[]byte("not a certificate")}, now)
	require.ErrorIs(t, err, ErrNoPeer)
}

// FuzzVerifyCertificate: whatever bytes a peer presents as its
// certificate, the check answers an identity only for a certificate the
// county's CA signed, and never panics.
func FuzzVerifyCertificate(f *testing.F) {
	ca, err := InitCA(filepath.Join(f.TempDir(), "ca"), "330324", now)
	require.NoError(f, err)
	certPEM, keyPEM, err := ca.Issue(IssueRequest{Unit: "330324101", Role: RoleNode, Now: now})
	require.NoError(f, err)
	dir := filepath.Join(f.TempDir(), "tls")
	require.NoError(f, WriteNodeDir(dir, ca.CertPEM(), certPEM, keyPEM))
	b, err := LoadBundle(dir, now)
	require.NoError(f, err)
	f.Add(b.Leaf.Raw)
	f.Add(ca.Cert.Raw)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		id, err := b.Verify([][]byte{der}, now)
		if err != nil {
			return
		}
		c, perr := x509.ParseCertificate(der)
		require.NoError(t, perr)
		require.NoError(t, c.CheckSignatureFrom(ca.Cert), "an identity from a certificate the CA did not sign")
		require.NoError(t, id.Check())
	})
}

// FuzzParseURI: an identity parsed is one a CA may issue, and spells
// itself back the same.
func FuzzParseURI(f *testing.F) {
	f.Add("jiujin://330324/unit/330324101201/role/node")
	f.Add("jiujin://330324/unit/330324/role/member")
	f.Add("jiujin://330324/unit/330324101/role/node?x=1")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseURI(s)
		if err != nil {
			return
		}
		require.NoError(t, id.Check())
		again, err := ParseURI(id.String())
		require.NoError(t, err)
		require.Equal(t, id, again)
	})
}
