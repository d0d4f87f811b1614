package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzLogin: whatever a caller sends, Login does not panic, gives a token
// only for the right password, and writes nothing for a login that has
// no account. Each try costs one argon2id hash (19 MiB, tens of ms), so
// the seed corpus is four entries and a fuzzing run does some hundreds of
// tries a minute.
func FuzzLogin(f *testing.F) {
	fx := newLoginFixture(f, false)
	fx.worker(f)
	f.Add("wang", pwWang, "", "")
	f.Add("wang", "Wrong-2026-pass", "123456", "New-2026-pass")
	f.Add("nobody", pwWang, "", "")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, login, password, otp, newPassword string) {
		// A lock from earlier tries wears off every few tries.
		fx.clock.Add(4 * time.Minute)
		fx.acc.Wait()
		head := fx.rules.Store().FeedHead()
		resp, err := fx.login(login, password, otp, newPassword)
		fx.acc.Wait()
		if err == nil {
			require.Equal(t, "wang", login)
			require.Equal(t, pwWang, password)
			require.Len(t, resp.GetToken(), 43)
		} else {
			require.Nil(t, resp)
		}
		if login != "wang" {
			require.Equal(t, head, fx.rules.Store().FeedHead(), "nothing written for %q", login)
		}
	})
}

// FuzzCheckPassword: no PHC string makes CheckPassword panic, and the
// right hash matches only its password.
func FuzzCheckPassword(f *testing.F) {
	good := hashOf(f, pwWang)
	f.Add(good, pwWang)
	f.Add(good, "")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$$", "x")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$YWFhYWFhYWE$YWFhYWFhYWFhYWFhYWFhYQ", "x")
	f.Add("$$$$$", "")
	f.Fuzz(func(t *testing.T, phc, password string) {
		ok := CheckPassword(phc, password)
		if phc == good {
			require.Equal(t, password == pwWang, ok)
		}
	})
}
