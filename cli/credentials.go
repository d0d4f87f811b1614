package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jiujin/jiujin/internal/durable"
)

// A credentials file holds the sessions of `jiujin login`, one per node
// URL (the --node value as given), mode 0600. JIUJIN_TOKEN, when set,
// is used instead.
type credentials struct {
	Sessions map[string]savedSession `json:"sessions"`
}

type savedSession struct {
	Token     string    `json:"token"`
	Login     string    `json:"login"`
	Unit      string    `json:"unit"`
	ExpiresAt time.Time `json:"expires_at"`
}

// credentialsPath is $JIUJIN_CREDENTIALS, or ~/.config/jiujin/credentials.
func credentialsPath() (string, error) {
	if p := os.Getenv("JIUJIN_CREDENTIALS"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("credentials: 找不到用户配置目录，请设置 JIUJIN_CREDENTIALS: %w", err)
	}
	return filepath.Join(dir, "jiujin", "credentials"), nil
}

// openCredentials is the credentials file's path and what it holds.
func openCredentials() (string, *credentials, error) {
	path, err := credentialsPath()
	if err != nil {
		return "", nil, err
	}
	c, err := loadCredentials(path)
	return path, c, err
}

func loadCredentials(path string) (*credentials, error) {
	c := &credentials{Sessions: map[string]savedSession{}}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("credentials: %s 的权限为 %04o，他人可读；请 chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("credentials: %s 不是有效的凭据文件: %w", path, err)
	}
	if c.Sessions == nil {
		c.Sessions = map[string]savedSession{}
	}
	return c, nil
}

func (c *credentials) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}

// credentialsKey is the key of a --node value: the URLs without a
// trailing slash.
func credentialsKey(nodeURL string) string {
	parts := strings.Split(nodeURL, ",")
	for i, p := range parts {
		parts[i] = strings.TrimRight(strings.TrimSpace(p), "/")
	}
	return strings.Join(parts, ",")
}

// token is the session to call the node with: JIUJIN_TOKEN, or the one
// `jiujin login` stored for --node. A missing or unreadable file is no
// session (the node then says to log in); an unreadable one is reported.
func (f *Factory) token() (string, error) {
	if t := strings.TrimSpace(os.Getenv("JIUJIN_TOKEN")); t != "" {
		return t, nil
	}
	path, err := credentialsPath()
	if err != nil {
		return "", nil
	}
	c, err := loadCredentials(path)
	if err != nil {
		return "", err
	}
	s, ok := c.Sessions[credentialsKey(f.NodeURL)]
	if !ok || (!s.ExpiresAt.IsZero() && time.Now().After(s.ExpiresAt)) {
		return "", nil
	}
	return s.Token, nil
}
