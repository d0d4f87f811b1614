package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/jiujin/jiujin/node/rules"
)

// Argon2id parameters: OWASP's first choice for a box without much memory
// (m=19 MiB, t=2, p=1; RFC 9106 §4 allows this as a lower-memory choice).
// A village box of 2 cores hashes one password in some tens of
// milliseconds (docs/benchmarks.md).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// Password limits.
const (
	minPasswordRunes = 8
	maxPasswordBytes = 128
)

// HashPassword is the argon2id hash of a password as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// CheckPassword reports whether password is the one hashed in phc. A
// malformed hash, or one whose parameters are past what a node may set
// (rules.ParsePasswordHash), never matches and costs no hashing.
func CheckPassword(phc, password string) bool {
	h, err := rules.ParsePasswordHash(phc)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), h.Salt, h.Time, h.MemoryKiB, h.Threads, uint32(len(h.Sum)))
	return subtle.ConstantTimeCompare(got, h.Sum) == 1
}

// CheckPasswordStrength refuses a password people could guess in a few
// tries: fewer than 8 characters, or all of one class (digits, lower
// case, upper case, others). The error names the field.
func CheckPasswordStrength(field, password string) error {
	switch {
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: %s: 不是有效的 UTF-8 文本", ErrBadPassword, field)
	case len(password) > maxPasswordBytes:
		return fmt.Errorf("%w: %s: 口令不能超过 %d 字节", ErrBadPassword, field, maxPasswordBytes)
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return fmt.Errorf("%w: %s: 口令至少 %d 个字符", ErrBadPassword, field, minPasswordRunes)
	}
	classes := map[int]bool{}
	for _, r := range password {
		switch {
		case unicode.IsDigit(r):
			classes[0] = true
		case unicode.IsLower(r):
			classes[1] = true
		case unicode.IsUpper(r):
			classes[2] = true
		default:
			classes[3] = true
		}
	}
	if len(classes) < 2 {
		return fmt.Errorf("%w: %s: 口令不能全是同一类字符（数字、小写、大写、符号至少两类）", ErrBadPassword, field)
	}
	return nil
}
