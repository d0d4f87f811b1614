package rules

import (
	"context"
	"errors"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Tests of operator accounts as records: what CheckAccount accepts, what
// the folds of account, password and login events allow, and who may
// write a password or a login for an account.

const (
	township = "330324101"
	village  = "330324101201"
	// PHC strings: the rules look only at the algorithm and the length
	// (the hashing is node/auth's).
	hashA  = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGFoYXNoYWhhc2hhaGFzaGFoYXNoYWhhc2hh"
	hashB  = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGJoYXNoYmhhc2hiaGFzaGJoYXNoYmhhc2hi"
	secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

// accountRec is a valid record: a window worker of a village.
func accountRec(login, unit string, roles ...string) *pb.AccountRecord {
	if len(roles) == 0 {
		roles = []string{RoleWorker}
	}
	return &pb.AccountRecord{Account: &pb.Account{Login: login, Name: "王芳", Unit: unit, Roles: roles}, PasswordHash: hashA}
}

// fieldOf is the field a rules error names ("" for none).
func fieldOf(err error) string {
	var fe *store.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func TestCheckAccount(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(r *pb.AccountRecord)
		field string // "" when accepted
	}{
		{"a village worker", func(r *pb.AccountRecord) {}, ""},
		{"a county admin with a second factor", func(r *pb.AccountRecord) {
			r.Account.Unit, r.Account.Roles, r.TotpSecret = county, []string{RoleAdmin}, secret
		}, ""},
		{"an approver with a department", func(r *pb.AccountRecord) {
			r.Account.Unit, r.Account.Roles, r.Account.Department = county, []string{RoleApprover, RoleWorker}, "县民政局"
		}, ""},
		{"a worker with a second factor", func(r *pb.AccountRecord) { r.TotpSecret = secret }, ""},
		{"login with upper case", func(r *pb.AccountRecord) { r.Account.Login = "Wang" }, "login"},
		{"login of one letter", func(r *pb.AccountRecord) { r.Account.Login = "w" }, "login"},
		{"login starting with a digit", func(r *pb.AccountRecord) { r.Account.Login = "1wang" }, "login"},
		{"login with a slash", func(r *pb.AccountRecord) { r.Account.Login = "wang/li" }, "login"},
		{"login of 33 characters", func(r *pb.AccountRecord) { r.Account.Login = "w" + strings.Repeat("a", 32) }, "login"},
		{"login in Chinese", func(r *pb.AccountRecord) { r.Account.Login = "王芳" }, "login"},
		{"no name", func(r *pb.AccountRecord) { r.Account.Name = " " }, "name"},
		{"a name too long", func(r *pb.AccountRecord) { r.Account.Name = strings.Repeat("王", 41) }, "name"},
		{"a malformed unit", func(r *pb.AccountRecord) { r.Account.Unit = "3303241" }, "unit"},
		{"no roles", func(r *pb.AccountRecord) { r.Account.Roles = nil }, "role"},
		{"an unknown role", func(r *pb.AccountRecord) { r.Account.Roles = []string{RoleWorker, "root"} }, "role"},
		{"a role twice", func(r *pb.AccountRecord) { r.Account.Roles = []string{RoleWorker, RoleClerk, RoleWorker} }, "role"},
		{"an admin at a township", func(r *pb.AccountRecord) {
			r.Account.Unit, r.Account.Roles, r.TotpSecret = township, []string{RoleAdmin}, secret
		}, "role"},
		{"an approver without a department", func(r *pb.AccountRecord) { r.Account.Roles = []string{RoleApprover} }, "department"},
		{"a department without the approver role", func(r *pb.AccountRecord) { r.Account.Department = "县民政局" }, "department"},
		{"a department too long", func(r *pb.AccountRecord) {
			r.Account.Roles, r.Account.Department = []string{RoleApprover}, strings.Repeat("局", 41)
		}, "department"},
		{"a bcrypt hash", func(r *pb.AccountRecord) { r.PasswordHash = "$2b$10$abcdefghijklmnopqrstuv" }, "password_hash"},
		{"no hash", func(r *pb.AccountRecord) { r.PasswordHash = "" }, "password_hash"},
		{"a hash too long", func(r *pb.AccountRecord) { r.PasswordHash = "$argon2id$" + strings.Repeat("a", 200) }, "password_hash"},
		{"an admin without a second factor", func(r *pb.AccountRecord) {
			r.Account.Unit, r.Account.Roles = county, []string{RoleAdmin}
		}, "totp_secret"},
		{"an auditor without a second factor", func(r *pb.AccountRecord) { r.Account.Roles = []string{RoleAuditor} }, "totp_secret"},
		{"a secret in lower case", func(r *pb.AccountRecord) { r.TotpSecret = strings.ToLower(secret) }, "totp_secret"},
		{"a secret with padding", func(r *pb.AccountRecord) { r.TotpSecret = secret + "====" }, "totp_secret"},
		{"a secret too short", func(r *pb.AccountRecord) { r.TotpSecret = "JBSWY3DP" }, "totp_secret"},
		{"a secret with 0 and 1 (not base32)", func(r *pb.AccountRecord) { r.TotpSecret = "01234567ABCDEFGH" }, "totp_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := accountRec("wang", village)
			tt.edit(r)
			err := CheckAccount(r)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, store.ErrInvalidArgument)
			require.Equal(t, tt.field, fieldOf(err), "%v", err)
		})
	}
	require.Error(t, CheckAccount(nil), "no account at all")
}

// accountEvent is an event of the account kind, as unit would write it.
func accountEvent(t *testing.T, kind, unit string, rec *pb.AccountRecord, hlc uint64) *pb.Event {
	b, err := proto.Marshal(&pb.AccountChanged{Record: rec})
	require.NoError(t, err)
	return &pb.Event{Origin: "c0c0c0c0c0c0c0c0", Seq: 1, Kind: kind, RecordKey: recAccount + rec.GetAccount().GetLogin(),
		Payload: b, Hlc: hlc, Unit: unit, Actor: "县管理员"}
}

// stored is a record as the store keeps it.
func stored(t *testing.T, m proto.Message) *pb.StoredRecord {
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return &pb.StoredRecord{Data: b, Version: 1}
}

// hlcAt is a hybrid clock reading of a wall time (counter 0).
func hlcAt(tm time.Time) uint64 { return uint64(tm.UnixMilli()) << 16 }

func TestApplyAccountEvent(t *testing.T) {
	h1, h2 := hlcAt(at("2026-11-23", 9)), hlcAt(at("2026-11-24", 9))
	existing := accountRec("wang", village)
	existing.PasswordSetHlc = h1
	prev := stored(t, existing)
	moved := accountRec("wang", township)
	tests := []struct {
		name  string
		prev  *pb.StoredRecord
		ev    *pb.Event
		field string // "" when applied
		kind  error
	}{
		{"created by the county", nil, accountEvent(t, KindAccountCreated, county, accountRec("wang", village), h1), "", nil},
		{"created by a township", nil, accountEvent(t, KindAccountCreated, township, accountRec("wang", village), h1), "event.unit", store.ErrFailedPrecondition},
		{"created by a village for itself", nil, accountEvent(t, KindAccountCreated, village, accountRec("wang", village), h1), "event.unit", store.ErrFailedPrecondition},
		{"disabled by a township", prev, accountEvent(t, KindAccountDisabled, township, accountRec("wang", village), h2), "event.unit", store.ErrFailedPrecondition},
		{"created by another county", nil, accountEvent(t, KindAccountCreated, "330325", accountRec("wang", village), h1), "unit", store.ErrInvalidArgument},
		{"created over an existing record", prev, accountEvent(t, KindAccountCreated, county, accountRec("wang", village), h2), "login", store.ErrFailedPrecondition},
		{"changed with no record", nil, accountEvent(t, KindAccountChanged, county, accountRec("wang", village), h2), "login", store.ErrFailedPrecondition},
		{"moved to another unit", prev, accountEvent(t, KindAccountChanged, county, moved, h2), "unit", store.ErrFailedPrecondition},
		{"an unknown kind", prev, accountEvent(t, "account.deleted", county, accountRec("wang", village), h2), "event.kind", store.ErrInvalidArgument},
		{"a record that fails the checks", nil, accountEvent(t, KindAccountCreated, county, accountRec("wang", village, "root"), h1), "role", store.ErrInvalidArgument},
		{"written under another login", nil, func() *pb.Event {
			ev := accountEvent(t, KindAccountCreated, county, accountRec("wang", village), h1)
			ev.RecordKey = recAccount + "li"
			return ev
		}(), "event.record_key", store.ErrInvalidArgument},
		{"no record in the payload", nil, func() *pb.Event {
			ev := accountEvent(t, KindAccountCreated, county, accountRec("wang", village), h1)
			ev.Payload = nil
			return ev
		}(), "event.payload", store.ErrInvalidArgument},
		{"a payload that is not one", nil, func() *pb.Event {
			ev := accountEvent(t, KindAccountCreated, county, accountRec("wang", village), h1)
			ev.Payload = []byte{0xff, 0xff, 0xff}
			return ev
		}(), "event.payload", store.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := applyAccountEvent(tt.prev, tt.ev)
			if tt.field == "" {
				require.NoError(t, err)
				require.NotNil(t, out)
				return
			}
			require.ErrorIs(t, err, tt.kind)
			require.Equal(t, tt.field, fieldOf(err), "%v", err)
		})
	}
}

// TestAccountEventsKeepThePasswordClock: the time a password was set is
// the event's, never the payload's: set by a creation or a reset, kept by
// every other change, so that an owner's own later password wins.
func TestAccountEventsKeepThePasswordClock(t *testing.T) {
	h1, h2, h3 := hlcAt(at("2026-11-23", 9)), hlcAt(at("2026-11-24", 9)), hlcAt(at("2026-11-25", 9))
	forged := accountRec("wang", village)
	forged.PasswordSetHlc = 1 << 62 // a writer's claim, ignored
	out, err := applyAccountEvent(nil, accountEvent(t, KindAccountCreated, county, forged, h1))
	require.NoError(t, err)
	created := out.(*pb.AccountRecord)
	require.Equal(t, h1, created.GetPasswordSetHlc())
	require.False(t, created.GetAccount().GetSecondFactor())
	require.Equal(t, "县管理员", created.GetAccount().GetUpdatedBy())

	withTOTP := accountRec("wang", village, RoleWorker, RoleClerk)
	withTOTP.TotpSecret, withTOTP.PasswordSetHlc = secret, 1<<62
	out, err = applyAccountEvent(stored(t, created), accountEvent(t, KindAccountChanged, county, withTOTP, h2))
	require.NoError(t, err)
	changed := out.(*pb.AccountRecord)
	require.Equal(t, h1, changed.GetPasswordSetHlc(), "a change of roles keeps the password's time")
	require.True(t, changed.GetAccount().GetSecondFactor())

	reset := accountRec("wang", village)
	reset.PasswordHash = hashB
	out, err = applyAccountEvent(stored(t, changed), accountEvent(t, KindAccountPasswordReset, county, reset, h3))
	require.NoError(t, err)
	require.Equal(t, h3, out.(*pb.AccountRecord).GetPasswordSetHlc())
}

func TestApplyPasswordAndSignInEvents(t *testing.T) {
	h := hlcAt(at("2026-11-23", 9))
	pw := func(key, hash string) *pb.Event {
		b, err := proto.Marshal(&pb.PasswordChanged{Login: "wang", PasswordHash: hash})
		require.NoError(t, err)
		return &pb.Event{Kind: KindPasswordChanged, RecordKey: key, Payload: b, Hlc: h, Unit: village}
	}
	out, err := applyPasswordEvent(nil, pw(recPassword+"wang", hashB))
	require.NoError(t, err)
	require.Equal(t, &pb.PasswordRecord{PasswordHash: hashB, PasswordSetHlc: h}, out)
	_, err = applyPasswordEvent(nil, pw(recPassword+"li", hashB))
	require.Equal(t, "event.record_key", fieldOf(err))
	_, err = applyPasswordEvent(nil, pw(recPassword+"wang", "plain-text-password"))
	require.Equal(t, "password_hash", fieldOf(err))
	bad := pw(recPassword+"wang", hashB)
	bad.Kind = KindSignIn
	_, err = applyPasswordEvent(nil, bad)
	require.Equal(t, "event.kind", fieldOf(err))

	in := func(kind, login, source string) *pb.Event {
		b, err := proto.Marshal(&pb.SignIn{Login: login})
		require.NoError(t, err)
		return &pb.Event{Kind: kind, RecordKey: recSignIn + "wang", Payload: b, Hlc: h, Unit: village, Source: source}
	}
	var prev *pb.StoredRecord
	for _, kind := range []string{KindSignInFailed, KindSignIn, KindSignIn} {
		out, err := applySignInEvent(prev, in(kind, "wang", "192.0.2.7:1"))
		require.NoError(t, err)
		prev = stored(t, out)
	}
	rec, err := decodeRecord(prev, &pb.SignInRecord{})
	require.NoError(t, err)
	require.Equal(t, uint64(2), rec.GetLogins())
	require.Equal(t, uint64(1), rec.GetFailures())
	require.Equal(t, "192.0.2.7:1", rec.GetLastSource())
	require.Equal(t, at("2026-11-23", 9).UnixMilli(), rec.GetLastAtMs())
	_, err = applySignInEvent(nil, in(KindSignIn, "li", ""))
	require.Equal(t, "event.record_key", fieldOf(err))
	_, err = applySignInEvent(nil, in(KindPasswordChanged, "wang", ""))
	require.Equal(t, "event.kind", fieldOf(err))
}

// --- through a store

// manualClock is a store's clock, moved by hand.
type manualClock struct {
	mu gosync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func openUnit(t *testing.T, unit string, clock store.Clock) *Rules {
	r, err := Open(Config{Store: store.Config{Dir: t.TempDir(), Unit: tiers.Unit(unit), Clock: clock, NoSync: true}, Calendar: seedCalendar(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func apply(r *Rules, clock *manualClock, op *pb.Command) (proto.Message, error) {
	op.NowMs, op.Actor, op.ActorLogin, op.Source = clock.Now().UnixMilli(), "县管理员", "root", "127.0.0.1:1"
	return r.Store().Apply(context.Background(), op)
}

func putAccountCmd(kind string, rec *pb.AccountRecord, expect uint64) *pb.Command {
	return &pb.Command{Op: &pb.Command_PutAccount{PutAccount: &pb.PutAccount{Kind: kind, Record: rec, ExpectVersion: expect}}}
}

// TestAccountCommands: who may write accounts and passwords, and which
// password holds after an administrator's reset and an owner's change.
func TestAccountCommands(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)

	admin := accountRec("zhao", county, RoleAdmin)
	admin.TotpSecret = secret
	_, err := apply(c, clock, &pb.Command{Op: &pb.Command_PutAccount{PutAccount: &pb.PutAccount{Kind: KindAccountCreated, Record: admin, Bootstrap: true}}})
	require.NoError(t, err, "the first administrator")
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_PutAccount{PutAccount: &pb.PutAccount{Kind: KindAccountCreated,
		Record: accountRec("qian", county, RoleWorker), Bootstrap: true}}})
	require.Equal(t, "login", fieldOf(err), "no second bootstrap: %v", err)

	_, err = apply(c, clock, putAccountCmd(KindAccountCreated, accountRec("wang", county), 0))
	require.NoError(t, err)
	_, err = apply(c, clock, putAccountCmd(KindAccountCreated, accountRec("wang", county), 0))
	require.ErrorIs(t, err, store.ErrFailedPrecondition, "created twice")
	_, err = apply(c, clock, putAccountCmd(KindAccountCreated, accountRec("sun", "330325101"), 0))
	require.Equal(t, "unit", fieldOf(err), "an account of another county: %v", err)
	_, err = apply(c, clock, putAccountCmd(KindAccountChanged, accountRec("nobody", county), 0))
	require.ErrorIs(t, err, store.ErrNotFound)
	st, err := c.Account("wang")
	require.NoError(t, err)
	_, err = apply(c, clock, putAccountCmd(KindAccountChanged, accountRec("wang", county, RoleClerk), st.Version+1))
	require.Equal(t, "login", fieldOf(err), "a stale version: %v", err)

	// The owner's own password holds over the one the account was made with ...
	clock.t = clock.t.Add(time.Minute)
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_SetPassword{SetPassword: &pb.PasswordChanged{Login: "wang", PasswordHash: hashB}}})
	require.NoError(t, err)
	st, err = c.Account("wang")
	require.NoError(t, err)
	require.Equal(t, hashB, st.PasswordHash)
	require.False(t, st.MustChange)
	// ... until an administrator resets it, to be changed at the next login ...
	clock.t = clock.t.Add(time.Minute)
	reset := accountRec("wang", county)
	reset.Account.MustChangePassword = true
	_, err = apply(c, clock, putAccountCmd(KindAccountPasswordReset, reset, st.Version))
	require.NoError(t, err)
	st, err = c.Account("wang")
	require.NoError(t, err)
	require.Equal(t, hashA, st.PasswordHash)
	require.True(t, st.MustChange)
	require.True(t, st.Record.GetAccount().GetMustChangePassword())
	// ... and a change of roles after the reset keeps the reset in force.
	clock.t = clock.t.Add(time.Minute)
	roles := accountRec("wang", county, RoleWorker, RoleClerk)
	roles.Account.MustChangePassword = true
	_, err = apply(c, clock, putAccountCmd(KindAccountChanged, roles, st.Version))
	require.NoError(t, err)
	st, err = c.Account("wang")
	require.NoError(t, err)
	require.Equal(t, hashA, st.PasswordHash)
	require.True(t, st.MustChange)

	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_SetPassword{SetPassword: &pb.PasswordChanged{Login: "wang", PasswordHash: "md5:x"}}})
	require.Equal(t, "password_hash", fieldOf(err))
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_SignIn{SignIn: &pb.SignIn{Login: "nobody"}}})
	require.ErrorIs(t, err, store.ErrNotFound)

	// A township's account: its password and logins are the township's to
	// write, not the county's.
	_, err = apply(c, clock, putAccountCmd(KindAccountCreated, accountRec("li", township, RoleClerk), 0))
	require.NoError(t, err)
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_SetPassword{SetPassword: &pb.PasswordChanged{Login: "li", PasswordHash: hashB}}})
	require.Equal(t, "login", fieldOf(err), "%v", err)
	_, err = apply(c, clock, &pb.Command{Op: &pb.Command_SignIn{SignIn: &pb.SignIn{Login: "li"}}})
	require.Equal(t, "login", fieldOf(err), "%v", err)

	all, err := c.Accounts("")
	require.NoError(t, err)
	require.Len(t, all, 3)
	towns, err := c.Accounts(township)
	require.NoError(t, err)
	require.Len(t, towns, 1)

	// A township node writes no account.
	town := openUnit(t, township, clock)
	_, err = apply(town, clock, putAccountCmd(KindAccountCreated, accountRec("zhou", township), 0))
	require.Equal(t, "unit", fieldOf(err), "%v", err)
	require.ErrorIs(t, err, store.ErrFailedPrecondition)

	_, err = c.DepartmentOf("330324-20261123-000001", "")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// forged is an event a village node writes, with a valid hash.
func forged(t *testing.T, origin string, seq uint64, kind, key string, payload proto.Message, hlc uint64) *pb.Event {
	b, err := proto.Marshal(payload)
	require.NoError(t, err)
	ev := &pb.Event{Origin: origin, Seq: seq, Kind: kind, RecordKey: key, Payload: b, Hlc: hlc, Unit: village,
		Scope: &pb.Scope{Units: []string{village}}, Actor: "王芳"}
	ev.Hash = store.EventHash(ev)
	return ev
}

// TestAccountWritersOverSync: a township node takes its accounts from the
// county, then a village pushes up logins and passwords: those of its own
// accounts are applied, one written for an account of the township (or
// one the township does not hold) is quarantined, and so is an account
// the village wrote itself.
func TestAccountWritersOverSync(t *testing.T) {
	clock := &manualClock{t: at("2026-11-23", 9)}
	c := openUnit(t, county, clock)
	for _, rec := range []*pb.AccountRecord{accountRec("li", township, RoleClerk), accountRec("wang", village)} {
		_, err := apply(c, clock, putAccountCmd(KindAccountCreated, rec, 0))
		require.NoError(t, err)
	}
	evs, err := c.Store().Events(0, 100)
	require.NoError(t, err)
	require.Len(t, evs, 2)

	town := openUnit(t, township, clock)
	ingest := func(from *pb.Peer, pushed bool, evs []*pb.Event) *pb.PushResponse {
		out, err := town.Store().Apply(context.Background(), store.IngestCommand(clock.Now(), from, pushed, evs, nil, uint64(len(evs)), uint64(len(evs))))
		require.NoError(t, err)
		return out.(*pb.PushResponse)
	}
	res := ingest(c.Store().Self(), false, evs)
	require.EqualValues(t, 2, res.GetApplied())
	_, err = town.Account("li")
	require.NoError(t, err)

	clock.t = clock.t.Add(time.Minute)
	h := hlcAt(clock.t)
	const v = "v1v1v1v1v1v1v1v1"
	tests := []struct {
		name        string
		ev          *pb.Event
		quarantined bool
	}{
		{"a login of the village's account", forged(t, v, 1, KindSignIn, recSignIn+"wang", &pb.SignIn{Login: "wang"}, h), false},
		{"its owner's password", forged(t, v, 2, KindPasswordChanged, recPassword+"wang", &pb.PasswordChanged{Login: "wang", PasswordHash: hashB}, h+1), false},
		{"a login of the township's account", forged(t, v, 3, KindSignIn, recSignIn+"li", &pb.SignIn{Login: "li"}, h+2), true},
		{"a failed login of the township's account", forged(t, v, 4, KindSignInFailed, recSignIn+"li", &pb.SignIn{Login: "li"}, h+3), true},
		{"a password of the township's account", forged(t, v, 5, KindPasswordChanged, recPassword+"li", &pb.PasswordChanged{Login: "li", PasswordHash: hashB}, h+4), true},
		{"a login of an account the township does not hold", forged(t, v, 6, KindSignIn, recSignIn+"nobody", &pb.SignIn{Login: "nobody"}, h+5), true},
		{"an account the village made", forged(t, v, 7, KindAccountCreated, recAccount+"zhou", &pb.AccountChanged{Record: accountRec("zhou", village)}, h+6), true},
	}
	from := &pb.Peer{Unit: village, NodeId: v, Epoch: 1}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ingest(from, true, []*pb.Event{tt.ev})
			if tt.quarantined {
				require.EqualValues(t, 1, res.GetQuarantined(), "%v", res)
				return
			}
			require.EqualValues(t, 1, res.GetApplied(), "%v", res)
		})
	}
	q, err := town.Store().Quarantine(-1)
	require.NoError(t, err)
	require.Len(t, q, 5)
	// Each is refused for its writer, not for its shape.
	reasons := map[string]string{}
	for _, e := range q {
		reasons[e.GetEvent().GetRecordKey()+" "+e.GetEvent().GetKind()] = e.GetReason()
	}
	for key, want := range map[string]string{
		recSignIn + "li " + KindSignIn:            "event.unit: 账户 li 属于 330324101",
		recSignIn + "li " + KindSignInFailed:      "event.unit: 账户 li 属于 330324101",
		recPassword + "li " + KindPasswordChanged: "event.unit: 账户 li 属于 330324101",
		recSignIn + "nobody " + KindSignIn:        "login: 没有账户",
		recAccount + "zhou " + KindAccountCreated: "event.unit: 账户只能由县级节点发布",
	} {
		require.Contains(t, reasons[key], want, key)
	}
	st, err := town.Account("wang")
	require.NoError(t, err)
	require.Equal(t, hashB, st.PasswordHash, "the owner's password arrived")
	st, err = town.Account("li")
	require.NoError(t, err)
	require.Equal(t, hashA, st.PasswordHash, "the forged one did not")
}
