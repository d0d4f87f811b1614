package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// --- what concurrent guesses, ancestor nodes and forged hashes must not get

// TestLockoutHoldsUnderConcurrentGuesses: guesses sent together do not
// get past the lock: those still waiting for a hashing slot when the
// fifth failure locks the account find it locked, and so does the right
// password queued behind them.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	f := newLoginFixture(t, false)
	f.worker(t)
	// Hold both hashing slots: every login below passes the lock check
	// and queues for a slot, in the order started (a channel's senders
	// are woken first in, first out).
	f.acc.hashing <- struct{}{}
	f.acc.hashing <- struct{}{}
	const guesses = 8
	errs := make(chan error, guesses)
	for i := range guesses {
		go func() {
			_, err := f.login("wang", fmt.Sprintf("Wrong-%d-pass", i), "", "")
			errs <- err
		}()
		time.Sleep(20 * time.Millisecond)
	}
	right := make(chan error, 1)
	go func() {
		_, err := f.login("wang", pwWang, "", "")
		right <- err
	}()
	time.Sleep(50 * time.Millisecond)
	<-f.acc.hashing
	<-f.acc.hashing

	checked := 0
	for range guesses {
		if err := <-errs; errors.Is(err, ErrBadLogin) {
			checked++
		}
	}
	require.LessOrEqual(t, checked, maxFailures, "no more than five guesses are checked before the lock")
	require.ErrorIs(t, <-right, ErrLocked, "the right password queued behind them finds the account locked")
}

// TestAnotherUnitsAccountIsNoPasswordOracle: a node that holds another
// unit's account (an ancestor) does not tell whether a password is right:
// it answers ErrWrongUnit before looking at the password, so it cannot
// confirm a village worker's password without a second factor and
// without a trace in the audit trail.
func TestAnotherUnitsAccountIsNoPasswordOracle(t *testing.T) {
	f := newLoginFixture(t, false)
	f.put(t, rules.KindAccountCreated, &pb.AccountRecord{Account: &pb.Account{Login: "li", Name: "李强", Unit: townUnit,
		Roles: []string{rules.RoleClerk}}, PasswordHash: hashOf(t, pwWang)})
	_, right := f.login("li", pwWang, "", "")
	_, wrong := f.login("li", "Wrong-2026-pass", "", "")
	require.ErrorIs(t, right, ErrWrongUnit)
	require.ErrorIs(t, wrong, ErrWrongUnit, "the same answer whatever the password")
}

// TestCheckPasswordRefusesCostlyParameters: a hash with parameters past
// what a node may set is refused unread; one check of m=256 MiB, t=10,
// p=8 would take about 1.5 s and 256 MiB (two at a time: 512 MiB on a
// village box), where the node's own hashes take some 25 ms and 19 MiB.
func TestCheckPasswordRefusesCostlyParameters(t *testing.T) {
	parts := strings.Split(hashOf(t, pwWang), "$")
	for _, params := range []string{"m=262144,t=10,p=8", "m=65537,t=2,p=1", "m=19456,t=5,p=1", "m=19456,t=2,p=5"} {
		parts[3] = params
		costly := strings.Join(parts, "$")
		_, err := rules.ParsePasswordHash(costly)
		require.Error(t, err, "%s is refused before any hashing", params)
		require.False(t, CheckPassword(costly, pwWang))
	}
}
