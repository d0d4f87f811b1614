// Package auth is who may do what: the county's certificate authority, the
// node certificates it issues and the identity each binds (county, unit,
// role), the TLS configurations of a node's listener and of its calls to
// other nodes, the guard that refuses a node-to-node call without a valid
// certificate before its body is read; and for people, the logins
// (argon2id passwords, TOTP), the sessions of a node, and the one
// interceptor that maps an operator's roles to the procedures it may call.
package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jiujin/jiujin/tiers"
)

// Errors of certificates and identities.
var (
	ErrNoIdentity  = errors.New("证书未绑定 jiujin 身份")
	ErrWrongCounty = errors.New("证书属于另一个县")
	ErrWrongRole   = errors.New("证书的角色不允许此操作")
	ErrKeyExposed  = errors.New("密钥文件的权限过宽")
	ErrCAExists    = errors.New("证书颁发机构已存在")
	ErrNoPeer      = errors.New("未出示有效的节点证书")
)

// Role is what a node certificate lets its holder do.
type Role string

const (
	// RoleNode: a township, village or lone county node: it syncs with
	// its parent and children.
	RoleNode Role = "node"
	// RoleMember: a member of the county's raft group; it also speaks raft
	// and the cluster service. Only the county's own unit holds one.
	RoleMember Role = "member"
	// RoleMonitor: a monitoring system; it may read a node's /metrics.
	RoleMonitor Role = "monitor"
)

// ParseRole reads a role as a flag gives it.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.TrimSpace(s)); r {
	case RoleNode, RoleMember, RoleMonitor:
		return r, nil
	}
	return "", fmt.Errorf("role: %q 应为 node、member 或 monitor", s)
}

// Identity is what a node certificate binds: the county whose CA issued
// it, the unit the node serves, and its role.
type Identity struct {
	County tiers.Unit
	Unit   tiers.Unit
	Role   Role
}

const uriScheme = "jiujin"

// URI is the identity as the certificate's URI SAN spells it:
// jiujin://330324/unit/330324101201/role/node.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: string(id.County), Path: "/unit/" + string(id.Unit) + "/role/" + string(id.Role)}
}

func (id Identity) String() string { return id.URI().String() }

// Check makes sure the identity is one a CA may issue: a unit of the
// county, and a member's role only for the county itself.
func (id Identity) Check() error {
	if id.County.Tier() != tiers.County {
		return fmt.Errorf("county: %s 不是县级单位代码", id.County)
	}
	if !id.County.Contains(id.Unit) {
		return fmt.Errorf("unit: %s 不属于 %s", id.Unit, id.County)
	}
	if _, err := ParseRole(string(id.Role)); err != nil {
		return err
	}
	if id.Role == RoleMember && id.Unit != id.County {
		return fmt.Errorf("role: 只有县级单位 %s 的集群成员持 member 证书，%s 不能", id.County, id.Unit)
	}
	return nil
}

// ParseURI reads an identity from its URI.
func ParseURI(s string) (Identity, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != uriScheme {
		return Identity{}, fmt.Errorf("%w: %.80q", ErrNoIdentity, s)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "unit" || parts[2] != "role" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Identity{}, fmt.Errorf("%w: %.80q", ErrNoIdentity, s)
	}
	county, err := tiers.Parse(u.Host)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: county: %v", ErrNoIdentity, err)
	}
	unit, err := tiers.Parse(parts[1])
	if err != nil {
		return Identity{}, fmt.Errorf("%w: unit: %v", ErrNoIdentity, err)
	}
	id := Identity{County: county, Unit: unit, Role: Role(parts[3])}
	if err := id.Check(); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrNoIdentity, err)
	}
	return id, nil
}

// FromCertificate is the identity a certificate binds: its one jiujin URI
// SAN. A certificate with none, or with two, binds nothing.
func FromCertificate(c *x509.Certificate) (Identity, error) {
	var found []*url.URL
	for _, u := range c.URIs {
		if u.Scheme == uriScheme {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		return Identity{}, fmt.Errorf("%w（序列号 %s）", ErrNoIdentity, Serial(c))
	}
	return ParseURI(found[0].String())
}

// Serial is a certificate's serial number as `ca list` prints it.
func Serial(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	return c.SerialNumber.Text(16)
}
