package auth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/internal/durable"
	"github.com/jiujin/jiujin/tiers"
)

// tokensFile holds, in a CA's directory (mode 0600), the enrollment
// tokens it gave and whether each was used.
const tokensFile = "tokens.json"

// DefaultTokenTTL is how long an enrollment token is good for.
const DefaultTokenTTL = 24 * time.Hour

// enrollToken is one token as the CA keeps it.
type enrollToken struct {
	Token   string    `json:"token"`
	Unit    string    `json:"unit"`
	Expires time.Time `json:"expires"`
	// UsedBy is the enrollment it was spent on ("": unused).
	UsedBy string `json:"usedBy,omitempty"`
}

// Token makes a one-time enrollment token for a unit, good for ttl.
func (ca *CA) Token(unit tiers.Unit, ttl time.Duration, now time.Time) (string, error) {
	if !ca.County.Contains(unit) {
		return "", fmt.Errorf("unit: %s 不属于本县 %s", unit, ca.County)
	}
	if ttl <= 0 || ttl > 30*24*time.Hour {
		return "", fmt.Errorf("ttl: %s 应在 0 到 30 天之间", ttl)
	}
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := base32.StdEncoding.EncodeToString(b)
	tokens, err := ca.tokens()
	if err != nil {
		return "", err
	}
	tokens = append(tokens, enrollToken{Token: tok, Unit: string(unit), Expires: now.Add(ttl).UTC()})
	return tok, ca.saveTokens(tokens)
}

func (ca *CA) tokens() ([]enrollToken, error) {
	b, err := os.ReadFile(filepath.Join(ca.dir, tokensFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []enrollToken
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", tokensFile, err)
	}
	return out, nil
}

func (ca *CA) saveTokens(tokens []enrollToken) error {
	b, err := json.MarshalIndent(tokens, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(ca.dir, tokensFile), b, 0o600)
}

// EnrollProof is what a box sends for its token: HMAC-SHA256 under the
// token of the unit, its public key and its hosts. The token stays on the
// box; the CA, which keeps it, checks the proof.
func EnrollProof(token, unit string, pub []byte, hosts []string) []byte {
	m := hmac.New(sha256.New, []byte(strings.TrimSpace(token)))
	m.Write([]byte(unit))
	m.Write([]byte{0})
	m.Write(pub)
	for _, h := range hosts {
		m.Write([]byte{0})
		m.Write([]byte(h))
	}
	return m.Sum(nil)
}

// SignEnrollment answers an enrollment: a node certificate for its key
// when its proof is that of an unused, unexpired token of its unit (the
// token is then spent), or why not. The error is for failures of the
// CA itself.
func (ca *CA) SignEnrollment(e *pb.Enrollment, now time.Time) (certDER []byte, refused string, err error) {
	if e.GetRenewal() {
		// Asked by the node itself, its request signed with the
		// certificate it renews (the county checked that signature).
		if e.GetUnit() != e.GetReceivedBy() {
			return nil, "续期只能由节点为自己申请", nil
		}
		return ca.signFor(e, now)
	}
	tokens, err := ca.tokens()
	if err != nil {
		return nil, "", err
	}
	match := -1
	for i, t := range tokens {
		if t.Unit == e.GetUnit() && hmac.Equal(EnrollProof(t.Token, t.Unit, e.GetPublicKey(), e.GetHosts()), e.GetProof()) {
			match = i
		}
	}
	switch {
	case match < 0:
		return nil, "没有与之相符的入网令牌（令牌不对，或不是给这个单位的）", nil
	case tokens[match].UsedBy != "" && tokens[match].UsedBy != e.GetId():
		return nil, "入网令牌已用过", nil
	case now.After(tokens[match].Expires):
		return nil, fmt.Sprintf("入网令牌已于 %s 过期", tokens[match].Expires.Format(time.RFC3339)), nil
	}
	der, refused, err := ca.signFor(e, now)
	if err != nil || refused != "" {
		return der, refused, err
	}
	tokens[match].UsedBy = e.GetId()
	if err := ca.saveTokens(tokens); err != nil {
		return nil, "", err
	}
	return der, "", nil
}

// signFor issues the certificate an enrollment asks for: a node's, or a
// county member's when a member renews.
func (ca *CA) signFor(e *pb.Enrollment, now time.Time) (certDER []byte, refused string, err error) {
	unit, err := tiers.Parse(e.GetUnit())
	if err != nil {
		return nil, "", err
	}
	role := RoleNode
	if e.GetRenewal() && e.GetRole() == string(RoleMember) {
		role = RoleMember
	}
	certPEM, _, err := ca.Issue(IssueRequest{Unit: unit, Role: role, Hosts: e.GetHosts(), PublicKey: ed25519.PublicKey(e.GetPublicKey()), Now: now})
	if err != nil {
		return nil, err.Error(), nil
	}
	blk, _ := pem.Decode(certPEM)
	return blk.Bytes, "", nil
}

// CheckEnrolled checks a certificate answering an enrollment, as the
// county does before publishing it: issued by its CA, in force, for the
// enrollment's unit, a node's, and for the key the box asked with.
func (b *Bundle) CheckEnrolled(e *pb.Enrollment, der []byte, now time.Time) error {
	role := RoleNode
	if e.GetRenewal() && e.GetRole() == string(RoleMember) {
		role = RoleMember
	}
	id, err := b.Verify([][]byte{der}, now, role)
	if err != nil {
		return err
	}
	if string(id.Unit) != e.GetUnit() {
		return fmt.Errorf("certificate: 证书属于 %s，申请的是 %s", id.Unit, e.GetUnit())
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if pub, ok := c.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(ed25519.PublicKey(e.GetPublicKey())) {
		return errors.New("certificate: 证书的公钥不是申请中的公钥")
	}
	return nil
}
