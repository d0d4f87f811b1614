package auth

import (
	"crypto/subtle"
	"fmt"
	gosync "sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP as authenticator apps expect it (RFC 6238): 30 s steps, 6 digits,
// HMAC-SHA-1, one step of drift either way.
const (
	totpPeriod = 30
	totpSkew   = 1
)

// NewTOTP makes a secret for an account and the otpauth:// URI that puts
// it into an authenticator app.
func NewTOTP(county, login string) (secret, uri string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "jiujin " + county, AccountName: login,
		Period: totpPeriod, SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", fmt.Errorf("totp secret: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// TOTPCode is the code of a secret at a time (for scripts that hold an
// account's second factor, and for tests).
func TOTPCode(secret string, at time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, at, validateOpts)
}

var validateOpts = totp.ValidateOpts{Period: totpPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// usedSteps remembers, per account, the last time step whose code was
// taken, so that a code seen over a shoulder or on the wire is not good
// twice.
type usedSteps struct {
	mu   gosync.Mutex
	last map[string]int64
}

// check reports whether code is the account's code within one step of
// now and newer than any code taken before; the step is then taken.
func (u *usedSteps) check(login, secret, code string, now time.Time) bool {
	if len(code) != 6 {
		return false
	}
	step := now.Unix() / totpPeriod
	u.mu.Lock()
	defer u.mu.Unlock()
	for s := step - totpSkew; s <= step+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), validateOpts)
		if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if s <= u.last[login] {
			return false
		}
		if u.last == nil {
			u.last = map[string]int64{}
		}
		u.last[login] = s
		return true
	}
	return false
}
