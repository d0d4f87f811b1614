package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	gosync "sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

// Errors of logins and sessions.
var (
	ErrBadLogin       = errors.New("账户或口令不对")
	ErrLocked         = errors.New("账户已暂时锁定")
	ErrDisabled       = errors.New("账户已停用")
	ErrOTPRequired    = errors.New("须输入动态口令")
	ErrPasswordChange = errors.New("须先修改口令")
	ErrBadPassword    = errors.New("口令不合要求")
	ErrNoSession      = errors.New("未登录或会话已结束")
	ErrForbidden      = errors.New("角色不允许此操作")
	ErrInsecureLogin  = errors.New("insecure 节点不设登录")
	ErrWrongUnit      = errors.New("账户不属于本节点的单位")
)

// Lockout and session defaults.
const (
	maxFailures      = 5
	lockFor          = 15 * time.Minute
	defaultIdle      = 30 * time.Minute
	defaultAbsolute  = 12 * time.Hour
	concurrentHashes = 2
)

// AnonymousName is the actor of every call at an insecure node.
const AnonymousName = "匿名（insecure）"

// Operator is who makes a call: an account's login, name, unit and roles
// as they stand now, and the address the call came from.
type Operator struct {
	Login      string
	Name       string
	Unit       string
	Roles      []string
	Department string
	Source     string
	// Insecure: the node has no logins; the caller may do anything.
	Insecure bool
}

// Has reports whether the operator holds the role.
func (o *Operator) Has(role string) bool { return o.Insecure || slices.Contains(o.Roles, role) }

type operatorKey struct{}

// WithOperator is ctx carrying the operator.
func WithOperator(ctx context.Context, op *Operator) context.Context {
	return context.WithValue(ctx, operatorKey{}, op)
}

// OperatorFrom is the operator of a call (nil outside one).
func OperatorFrom(ctx context.Context) *Operator {
	op, _ := ctx.Value(operatorKey{}).(*Operator)
	return op
}

// AccountsConfig configures the logins of a node.
type AccountsConfig struct {
	Rules *rules.Rules
	// Write applies a command through the node's writer.
	Write func(ctx context.Context, cmd *pb.Command) (proto.Message, error)
	// Insecure: no logins; every call is anonymous with every role.
	Insecure bool
	// Idle and Absolute end a session (defaults 30 min and 12 h).
	Idle, Absolute time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

// Accounts logs operators in at one node and knows their sessions.
// Sessions and failed-login counts live in the node's memory: a restart
// ends every session, and the lockout is per node.
type Accounts struct {
	cfg     AccountsConfig
	hashing chan struct{} // bounds the argon2id work of concurrent logins
	steps   usedSteps

	// pending: failed logins still being recorded.
	pending gosync.WaitGroup

	mu       gosync.Mutex
	sessions map[[32]byte]*session
	failed   map[string]*failures
}

type session struct {
	login    string
	created  time.Time
	lastUsed time.Time
	// passwordSet is when an administrator last set the account's password,
	// as the login saw it: a later reset ends the session.
	passwordSet uint64
	// op is the operator as last read, at the store's generation gen:
	// while no account changes, a call needs no read of the store (a
	// read waits for the commits in flight).
	op  *Operator
	gen uint64
}

type failures struct {
	n           int
	last        time.Time
	lockedUntil time.Time
}

// NewAccounts builds a node's logins.
func NewAccounts(cfg AccountsConfig) *Accounts {
	if cfg.Idle <= 0 {
		cfg.Idle = defaultIdle
	}
	if cfg.Absolute <= 0 {
		cfg.Absolute = defaultAbsolute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Accounts{cfg: cfg, hashing: make(chan struct{}, concurrentHashes),
		sessions: map[[32]byte]*session{}, failed: map[string]*failures{}}
}

// Wait returns once every failed login answered so far is recorded (the
// node waits before it closes its store; tests before they read).
func (a *Accounts) Wait() { a.pending.Wait() }

// Insecure reports whether the node runs without logins.
func (a *Accounts) Insecure() bool { return a.cfg.Insecure }

// Hash hashes a password, a few at a time: argon2id is meant to be slow.
func (a *Accounts) Hash(ctx context.Context, password string) (string, error) {
	if err := a.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-a.hashing }()
	return HashPassword(password)
}

func (a *Accounts) check(ctx context.Context, phc, password string) (bool, error) {
	if err := a.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-a.hashing }()
	return CheckPassword(phc, password), nil
}

func (a *Accounts) acquire(ctx context.Context) error {
	select {
	case a.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dummyHash is checked for a login that has no account, so that a wrong
// login and a wrong password take the same time.
var dummyHash = gosync.OnceValue(func() string {
	h, err := HashPassword("jiujin-no-such-account")
	if err != nil {
		panic(err)
	}
	return h
})

// Login checks a login, password and second factor, changes the password
// when an administrator set it, records the login (or the failure) as an
// event and opens a session.
func (a *Accounts) Login(ctx context.Context, req *pb.LoginRequest, source string) (*pb.LoginResponse, error) {
	if a.cfg.Insecure {
		return nil, fmt.Errorf("%w: 所有调用都以 %s 身份进行", ErrInsecureLogin, AnonymousName)
	}
	login, now := req.GetLogin(), a.cfg.Now()
	if until := a.lockedUntil(login, now); !until.IsZero() {
		a.cfg.Logger.Warn("login refused: account locked", "login", login, "source", source)
		return nil, fmt.Errorf("%w: 连续 %d 次登录失败，请于 %s 后再试", ErrLocked, maxFailures, until.In(delegation.China).Format("15:04"))
	}
	st, err := a.cfg.Rules.Account(login)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = a.check(ctx, dummyHash(), req.GetPassword())
		a.cfg.Logger.Warn("login refused: no such account", "source", source)
		return nil, fmt.Errorf("%w: login: 请检查后重试", ErrBadLogin)
	}
	if err != nil {
		return nil, err
	}
	acct := st.Record.GetAccount()
	if acct.GetUnit() != string(a.cfg.Rules.Unit()) {
		// Before the password: a node above the account's unit holds the
		// account but must not tell whether a password is right.
		return nil, fmt.Errorf("%w: 账户 %s 属于 %s，请在该单位的节点登录（本节点 %s）", ErrWrongUnit, login, acct.GetUnit(), a.cfg.Rules.Unit())
	}
	ok, err := a.check(ctx, st.PasswordHash, req.GetPassword())
	if err != nil {
		return nil, err
	}
	// Guesses that waited for a hashing slot while the account was being
	// locked find it locked, whatever their password.
	if until := a.lockedUntil(login, a.cfg.Now()); !until.IsZero() {
		return nil, fmt.Errorf("%w: 连续 %d 次登录失败，请于 %s 后再试", ErrLocked, maxFailures, until.In(delegation.China).Format("15:04"))
	}
	if !ok {
		return nil, a.fail(ctx, st, source, "口令错误", fmt.Errorf("%w: password: 请检查后重试", ErrBadLogin))
	}
	if acct.GetDisabled() {
		return nil, a.fail(ctx, st, source, "账户已停用", fmt.Errorf("%w: 请与县里的管理员联系", ErrDisabled))
	}
	// What the caller has yet to give is asked for before a one-time code
	// is taken, so that the next try may use the same code.
	if st.MustChange {
		if err := checkNewPassword(req); err != nil {
			return nil, err
		}
	}
	if st.Record.GetTotpSecret() != "" {
		if req.GetOtp() == "" {
			return nil, fmt.Errorf("%w: otp: 请输入身份验证器上的 6 位数字", ErrOTPRequired)
		}
		if !a.steps.check(login, st.Record.GetTotpSecret(), req.GetOtp(), now) {
			return nil, a.fail(ctx, st, source, "动态口令错误", fmt.Errorf("%w: otp: 动态口令不对或已用过", ErrBadLogin))
		}
	}
	if st.MustChange {
		if err := a.changePassword(ctx, st, req, source); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	delete(a.failed, login)
	a.mu.Unlock()
	if _, err := a.cfg.Write(ctx, a.cmd(st, source, &pb.Command{Op: &pb.Command_SignIn{SignIn: &pb.SignIn{Login: login}}})); err != nil {
		return nil, fmt.Errorf("record login: %w", err)
	}
	token, err := a.open(login, st.Record.GetPasswordSetHlc(), now)
	if err != nil {
		return nil, err
	}
	a.cfg.Logger.Info("login", "login", login, "source", source)
	acct = proto.Clone(acct).(*pb.Account)
	acct.MustChangePassword = false
	return &pb.LoginResponse{Token: token, Account: acct, ExpiresAt: timestamppb.New(now.Add(a.cfg.Absolute)),
		IdleSeconds: int64(a.cfg.Idle / time.Second)}, nil
}

// checkNewPassword: the new password a first login must set is there, fit
// and not the old one.
func checkNewPassword(req *pb.LoginRequest) error {
	np := req.GetNewPassword()
	if np == "" {
		return fmt.Errorf("%w: new_password: 口令由管理员设置，首次登录须设新口令", ErrPasswordChange)
	}
	if err := CheckPasswordStrength("new_password", np); err != nil {
		return err
	}
	if np == req.GetPassword() {
		return fmt.Errorf("%w: new_password: 新口令不能与原口令相同", ErrBadPassword)
	}
	return nil
}

// changePassword records the owner's new password (checked by
// checkNewPassword).
func (a *Accounts) changePassword(ctx context.Context, st *rules.AccountState, req *pb.LoginRequest, source string) error {
	h, err := a.Hash(ctx, req.GetNewPassword())
	if err != nil {
		return err
	}
	_, err = a.cfg.Write(ctx, a.cmd(st, source, &pb.Command{Op: &pb.Command_SetPassword{
		SetPassword: &pb.PasswordChanged{Login: req.GetLogin(), PasswordHash: h}}}))
	return err
}

func (a *Accounts) cmd(st *rules.AccountState, source string, cmd *pb.Command) *pb.Command {
	cmd.NowMs = a.cfg.Rules.Store().Now().UnixMilli()
	cmd.Actor, cmd.ActorLogin, cmd.Source = st.Record.GetAccount().GetName(), st.Record.GetAccount().GetLogin(), source
	return cmd
}

// fail counts a failed login at this node (locking the account after
// maxFailures) and records it as an event; it answers err.
func (a *Accounts) fail(ctx context.Context, st *rules.AccountState, source, reason string, err error) error {
	login := st.Record.GetAccount().GetLogin()
	a.mu.Lock()
	now := a.cfg.Now()
	f := a.failed[login]
	if f != nil && now.Before(f.lockedUntil) {
		// Locked by a guess that finished while this one was hashing.
		until := f.lockedUntil
		a.mu.Unlock()
		return fmt.Errorf("%w: 连续 %d 次登录失败，请于 %s 后再试", ErrLocked, maxFailures, until.In(delegation.China).Format("15:04"))
	}
	if f == nil || now.Sub(f.last) > lockFor {
		// Failures long past do not count towards a lock.
		f = &failures{}
		a.failed[login] = f
	}
	f.n++
	f.last = now
	if f.n >= maxFailures {
		f.n, f.lockedUntil = 0, now.Add(lockFor)
		reason += fmt.Sprintf("，连续 %d 次失败，锁定 %d 分钟", maxFailures, int(lockFor/time.Minute))
	}
	a.mu.Unlock()
	a.cfg.Logger.Warn("login failed", "login", login, "source", source, "reason", reason)
	cmd := &pb.Command{Op: &pb.Command_SignInFailed{SignInFailed: &pb.SignIn{Login: login, Reason: reason}}}
	cmd.NowMs, cmd.Actor, cmd.Source = a.cfg.Rules.Store().Now().UnixMilli(), "登录失败", source
	// Written while the answer goes out: a wrong password must not take
	// longer than an unknown login (which writes nothing).
	a.pending.Add(1)
	go func() {
		defer a.pending.Done()
		if _, werr := a.cfg.Write(context.WithoutCancel(ctx), cmd); werr != nil {
			a.cfg.Logger.Error("record failed login", "login", login, "err", werr)
		}
	}()
	return err
}

func (a *Accounts) lockedUntil(login string, now time.Time) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f := a.failed[login]; f != nil && now.Before(f.lockedUntil) {
		return f.lockedUntil
	}
	return time.Time{}
}

// open makes a session: a random 256-bit token, of which the node keeps
// only the SHA-256.
func (a *Accounts) open(login string, passwordSet uint64, now time.Time) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	a.mu.Lock()
	defer a.mu.Unlock()
	for h, s := range a.sessions {
		if a.expired(s, now) {
			delete(a.sessions, h)
		}
	}
	a.sessions[sha256.Sum256([]byte(token))] = &session{login: login, created: now, lastUsed: now, passwordSet: passwordSet}
	return token, nil
}

func (a *Accounts) expired(s *session, now time.Time) bool {
	return now.Sub(s.lastUsed) > a.cfg.Idle || now.Sub(s.created) > a.cfg.Absolute
}

// Logout ends the session of a token.
func (a *Accounts) Logout(token string) {
	a.mu.Lock()
	delete(a.sessions, sha256.Sum256([]byte(token)))
	a.mu.Unlock()
}

// Authenticate is the operator behind a session token, with the account
// as it stands now: a session of an account disabled since (the event may
// have just arrived from the county) ends here.
func (a *Accounts) Authenticate(token, source string) (*Operator, error) {
	if a.cfg.Insecure {
		return &Operator{Name: AnonymousName, Roles: rules.OperatorRoles, Source: source, Insecure: true,
			Unit: string(a.cfg.Rules.Unit())}, nil
	}
	if token == "" {
		return nil, fmt.Errorf("%w: 请先登录（jiujin login）", ErrNoSession)
	}
	h := sha256.Sum256([]byte(token))
	now := a.cfg.Now()
	a.mu.Lock()
	s := a.sessions[h]
	if s != nil && a.expired(s, now) {
		delete(a.sessions, h)
		s = nil
	}
	if s != nil {
		s.lastUsed = now
	}
	a.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("%w: 请重新登录（jiujin login）", ErrNoSession)
	}
	gen := a.cfg.Rules.Store().Generation()
	a.mu.Lock()
	cached, cachedGen := s.op, s.gen
	a.mu.Unlock()
	if cached != nil && cachedGen == gen {
		op := *cached
		op.Source = source
		return &op, nil
	}
	st, err := a.cfg.Rules.Account(s.login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil || st.Record.GetAccount().GetDisabled() {
		a.Logout(token)
		return nil, fmt.Errorf("%w: 账户已停用", ErrNoSession)
	}
	if st.Record.GetPasswordSetHlc() != s.passwordSet {
		// An administrator reset the password since: whoever had it is out.
		a.Logout(token)
		return nil, fmt.Errorf("%w: 口令已由管理员重置，请重新登录", ErrNoSession)
	}
	acct := st.Record.GetAccount()
	op := &Operator{Login: acct.GetLogin(), Name: acct.GetName(), Unit: acct.GetUnit(), Roles: acct.GetRoles(),
		Department: acct.GetDepartment()}
	a.mu.Lock()
	s.op, s.gen = op, gen
	a.mu.Unlock()
	out := *op
	out.Source = source
	return &out, nil
}

// Forbidden is ErrForbidden with what the caller lacks.
func Forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrForbidden, fmt.Sprintf(format, args...))
}
