package rules

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Operator roles: what an account may do (see node/auth for the table of
// procedures each role reaches).
const (
	RoleWorker   = "worker"   // 窗口人员: accept, supplements, deliver, rate, withdraw
	RoleClerk    = "clerk"    // 乡镇经办: also decide what the township holds
	RoleApprover = "approver" // 审批人员: its department's matters at its unit
	RoleAdmin    = "admin"    // 管理员: catalog, delegations, menus, accounts
	RoleAuditor  = "auditor"  // 审计员: the audit trail and reveals
)

// OperatorRoles are every role, in the order people read them.
var OperatorRoles = []string{RoleWorker, RoleClerk, RoleApprover, RoleAdmin, RoleAuditor}

// RoleLabel is a role's Chinese name.
func RoleLabel(role string) string {
	switch role {
	case RoleWorker:
		return "窗口人员"
	case RoleClerk:
		return "乡镇经办"
	case RoleApprover:
		return "审批人员"
	case RoleAdmin:
		return "管理员"
	case RoleAuditor:
		return "审计员"
	}
	return role
}

// NeedsSecondFactor: admin and auditor accounts log in with TOTP as well.
func NeedsSecondFactor(roles []string) bool {
	return slices.Contains(roles, RoleAdmin) || slices.Contains(roles, RoleAuditor)
}

var (
	loginPattern  = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)
	base32Pattern = regexp.MustCompile(`^[A-Z2-7]{16,64}$`)
)

const maxHashLen = 200

// The argon2id parameters a stored password hash may have: what nodes set
// (m=19 MiB, t=2, p=1) with room to raise them, and no more, so that a
// hash cannot make a login cost a village box seconds and hundreds of MiB.
const (
	MaxHashMemoryKiB = 64 * 1024
	MaxHashTime      = 4
	MaxHashThreads   = 4
)

// PasswordHash is a parsed argon2id PHC string.
type PasswordHash struct {
	MemoryKiB, Time uint32
	Threads         uint8
	Salt, Sum       []byte
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=([0-9]{1,6}),t=([0-9]{1,2}),p=([0-9]{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

// ParsePasswordHash reads $argon2id$v=19$m=…,t=…,p=…$salt$sum, within the
// bounds above: salt of 8–64 bytes, sum of 16–64.
func ParsePasswordHash(phc string) (*PasswordHash, error) {
	m := phcPattern.FindStringSubmatch(phc)
	if m == nil || len(phc) > maxHashLen {
		return nil, invalid("password_hash", "不是 argon2id 口令散列")
	}
	mem, _ := strconv.ParseUint(m[1], 10, 32)
	t, _ := strconv.ParseUint(m[2], 10, 32)
	p, _ := strconv.ParseUint(m[3], 10, 8)
	if mem == 0 || mem > MaxHashMemoryKiB || t == 0 || t > MaxHashTime || p == 0 || p > MaxHashThreads {
		return nil, invalid("password_hash", "argon2id 参数 m=%d,t=%d,p=%d 超出范围", mem, t, p)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(m[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return nil, invalid("password_hash", "argon2id 盐值无效")
	}
	sum, err := b64.DecodeString(m[5])
	if err != nil || len(sum) < 16 || len(sum) > 64 {
		return nil, invalid("password_hash", "argon2id 散列值无效")
	}
	return &PasswordHash{MemoryKiB: uint32(mem), Time: uint32(t), Threads: uint8(p), Salt: salt, Sum: sum}, nil
}

// AccountState is an account as a login sees it: the record and the
// password that holds now (the owner's own, or one an administrator set
// later).
type AccountState struct {
	Record       *pb.AccountRecord
	Version      uint64
	PasswordHash string
	// The password in force was set by an administrator.
	MustChange bool
}

// Account is the account with that login, with its password in force.
func (s *Rules) Account(login string) (*AccountState, error) {
	var st *AccountState
	err := s.st.View(func(r store.Reader) error {
		var err error
		st, err = accountState(r.Record, login)
		return err
	})
	return st, err
}

func accountState(get func(string) (*pb.StoredRecord, error), login string) (*AccountState, error) {
	rec, err := get(recAccount + login)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound("login", "没有账户 %q", login)
	}
	a, err := decodeRecord(rec, &pb.AccountRecord{})
	if err != nil {
		return nil, err
	}
	st := &AccountState{Record: a, Version: rec.GetVersion(), PasswordHash: a.GetPasswordHash(),
		MustChange: a.GetAccount().GetMustChangePassword()}
	own, err := get(recPassword + login)
	if err != nil {
		return nil, err
	}
	if own != nil {
		p, err := decodeRecord(own, &pb.PasswordRecord{})
		if err != nil {
			return nil, err
		}
		if p.GetPasswordSetHlc() > a.GetPasswordSetHlc() {
			st.PasswordHash, st.MustChange = p.GetPasswordHash(), false
		}
	}
	st.Record.Account.MustChangePassword = st.MustChange
	return st, nil
}

// Accounts lists the accounts this node holds (of one unit, if given),
// by login.
func (s *Rules) Accounts(unit tiers.Unit) ([]*pb.Account, error) {
	var out []*pb.Account
	err := s.st.View(func(r store.Reader) error {
		return r.Scan(recAccount, false, func(key string, _ *pb.StoredRecord) (bool, error) {
			st, err := accountState(r.Record, strings.TrimPrefix(key, recAccount))
			if err != nil {
				return false, err
			}
			if unit == "" || st.Record.GetAccount().GetUnit() == string(unit) {
				out = append(out, st.Record.GetAccount())
			}
			return true, nil
		})
	})
	return out, err
}

// CheckAccount checks an account record as the county writes it and as
// every node receives it.
func CheckAccount(r *pb.AccountRecord) error {
	a := r.GetAccount()
	if !loginPattern.MatchString(a.GetLogin()) {
		return invalid("login", "%q 应为 2–32 位小写字母、数字或 . _ -，以字母开头", a.GetLogin())
	}
	if err := checkText("name", a.GetName(), maxNameRunes, true); err != nil {
		return err
	}
	u, err := tiers.Parse(a.GetUnit())
	if err != nil {
		return invalid("unit", "%v", err)
	}
	if len(a.GetRoles()) == 0 {
		return invalid("role", "至少一个角色（%s）", strings.Join(OperatorRoles, "、"))
	}
	for i, role := range a.GetRoles() {
		if !slices.Contains(OperatorRoles, role) {
			return invalid("role", "未知的角色 %q，应为 %s 之一", role, strings.Join(OperatorRoles, "、"))
		}
		if slices.Contains(a.GetRoles()[:i], role) {
			return invalid("role", "角色 %s 重复", role)
		}
	}
	if slices.Contains(a.GetRoles(), RoleAdmin) && u.Tier() != tiers.County {
		return invalid("role", "管理员只设在县级单位，%s 是%s单位", u, u.Tier().Label())
	}
	approver := slices.Contains(a.GetRoles(), RoleApprover)
	switch {
	case approver && a.GetDepartment() == "":
		return invalid("department", "审批人员须指定所属部门")
	case !approver && a.GetDepartment() != "":
		return invalid("department", "只有审批人员才有所属部门")
	}
	if err := checkText("department", a.GetDepartment(), maxNameRunes, false); err != nil {
		return err
	}
	if _, err := ParsePasswordHash(r.GetPasswordHash()); err != nil {
		return err
	}
	switch secret := r.GetTotpSecret(); {
	case NeedsSecondFactor(a.GetRoles()) && secret == "":
		return invalid("totp_secret", "管理员和审计员须有第二因子")
	case secret != "" && !base32Pattern.MatchString(secret):
		return invalid("totp_secret", "不是 base32 密钥")
	}
	return nil
}

// putAccount writes an account whole: the county's administrators make
// and change accounts, the API layer having hashed any password.
func (s *Rules) putAccount(w *store.Tx, cmd *pb.Command, req *pb.PutAccount) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "账户只能在县级节点管理，本节点是%s单位 %s", s.unit.Tier().Label(), s.unit)
	}
	r := req.GetRecord()
	if err := CheckAccount(r); err != nil {
		return nil, err
	}
	if !s.unit.Contains(tiers.Unit(r.GetAccount().GetUnit())) {
		return nil, invalid("unit", "%s 不属于本县 %s", r.GetAccount().GetUnit(), s.unit)
	}
	if req.GetBootstrap() {
		found := false
		if err := w.Committed().Scan(recAccount, false, func(string, *pb.StoredRecord) (bool, error) {
			found = true
			return false, nil
		}); err != nil {
			return nil, err
		}
		if found {
			return nil, precondition("login", "本县已有账户：第一个管理员只能在没有任何账户时设立")
		}
	}
	key := recAccount + r.GetAccount().GetLogin()
	prev, err := w.Record(key)
	if err != nil {
		return nil, err
	}
	switch {
	case req.GetKind() == KindAccountCreated && prev != nil:
		return nil, precondition("login", "账户 %s 已存在", r.GetAccount().GetLogin())
	case req.GetKind() != KindAccountCreated && prev == nil:
		return nil, notFound("login", "没有账户 %q", r.GetAccount().GetLogin())
	case prev != nil && prev.GetVersion() != req.GetExpectVersion():
		return nil, precondition("login", "账户 %s 刚被他人修改，请重试", r.GetAccount().GetLogin())
	}
	if d := r.GetAccount().GetDepartment(); d != "" {
		if err := s.checkDepartment(w, d); err != nil {
			return nil, err
		}
	}
	b, err := proto.Marshal(&pb.AccountChanged{Record: r})
	if err != nil {
		return nil, err
	}
	rec, err := w.Emit(cmd, &pb.Event{Kind: req.GetKind(), RecordKey: key, Payload: b,
		Scope: &pb.Scope{Units: []string{r.GetAccount().GetUnit()}}})
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.AccountRecord{})
}

// checkDepartment: an approver's department is one of the catalog's.
func (s *Rules) checkDepartment(w *store.Tx, code string) error {
	cat, err := w.Record(recCatalog)
	if err != nil || cat == nil {
		return err
	}
	c, err := decodeRecord(cat, &pb.CatalogRecord{})
	if err != nil {
		return err
	}
	var codes []string
	for _, d := range c.GetDepartments() {
		if d.GetCode() == code || d.GetName() == code {
			return nil
		}
		codes = append(codes, d.GetCode()+" "+d.GetName())
	}
	return invalid("department", "事项清单中没有部门 %q（有：%s）", code, strings.Join(codes, "、"))
}

// setPassword records the owner's own new password, at the account's unit.
func (s *Rules) setPassword(w *store.Tx, cmd *pb.Command, req *pb.PasswordChanged) (proto.Message, error) {
	st, err := accountState(w.Record, req.GetLogin())
	if err != nil {
		return nil, err
	}
	unit := st.Record.GetAccount().GetUnit()
	if unit != string(s.unit) {
		return nil, precondition("login", "账户 %s 属于 %s，只能在本单位节点修改口令", req.GetLogin(), unit)
	}
	if _, err := ParsePasswordHash(req.GetPasswordHash()); err != nil {
		return nil, err
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	// To the county too: its audit trail shows the change.
	_, err = w.Emit(cmd, &pb.Event{Kind: KindPasswordChanged, RecordKey: recPassword + req.GetLogin(), Payload: b,
		Scope: appScope(s.unit, s.unit.County())})
	if err != nil {
		return nil, err
	}
	st, err = accountState(w.Record, req.GetLogin())
	if err != nil {
		return nil, err
	}
	return st.Record, nil
}

// signIn records a login, or a failed one, at this node.
func (s *Rules) signIn(w *store.Tx, cmd *pb.Command, req *pb.SignIn, ok bool) (proto.Message, error) {
	st, err := accountState(w.Record, req.GetLogin())
	if err != nil {
		return nil, err
	}
	if u := st.Record.GetAccount().GetUnit(); u != string(s.unit) {
		return nil, precondition("login", "账户 %s 属于 %s，只能在本单位节点登录", req.GetLogin(), u)
	}
	kind := KindSignIn
	if !ok {
		kind = KindSignInFailed
	}
	if err := checkText("reason", req.GetReason(), maxReasonRunes, false); err != nil {
		return nil, err
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	// Logins travel up to the county, for its auditors.
	ev := &pb.Event{Kind: kind, RecordKey: recSignIn + req.GetLogin(), Payload: b,
		Scope: appScope(s.unit, s.unit.County())}
	if ok {
		ev.Actor, ev.ActorLogin = st.Record.GetAccount().GetName(), req.GetLogin()
	}
	rec, err := w.Emit(cmd, ev)
	if err != nil {
		return nil, err
	}
	return decodeRecord(rec, &pb.SignInRecord{})
}

func applyAccountEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	switch ev.GetKind() {
	case KindAccountCreated, KindAccountChanged, KindAccountDisabled, KindAccountEnabled,
		KindAccountPasswordReset, KindAccountTOTPReset:
	default:
		return nil, invalid("event.kind", "账户记录不接受 %q", ev.GetKind())
	}
	if err := requireCounty(ev, "账户"); err != nil {
		return nil, err
	}
	p := &pb.AccountChanged{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	r := p.GetRecord()
	if r == nil {
		return nil, invalid("event.payload", "缺少账户")
	}
	if err := CheckAccount(r); err != nil {
		return nil, err
	}
	if ev.GetRecordKey() != recAccount+r.GetAccount().GetLogin() {
		return nil, invalid("event.record_key", "账户 %s 不能写在 %s 下", r.GetAccount().GetLogin(), ev.GetRecordKey())
	}
	if !tiers.Unit(ev.GetUnit()).Contains(tiers.Unit(r.GetAccount().GetUnit())) {
		return nil, invalid("unit", "%s 不属于 %s", r.GetAccount().GetUnit(), ev.GetUnit())
	}
	if (ev.GetKind() == KindAccountCreated) != (prev == nil) {
		return nil, precondition("login", "账户 %s 的事件 %s 与现有记录不符", r.GetAccount().GetLogin(), ev.GetKind())
	}
	r = proto.Clone(r).(*pb.AccountRecord)
	if prev != nil {
		old, err := decodeRecord(prev, &pb.AccountRecord{})
		if err != nil {
			return nil, err
		}
		if old.GetAccount().GetUnit() != r.GetAccount().GetUnit() {
			return nil, precondition("unit", "账户的单位不能更改（%s → %s）", old.GetAccount().GetUnit(), r.GetAccount().GetUnit())
		}
		r.PasswordSetHlc = old.GetPasswordSetHlc()
	}
	if ev.GetKind() == KindAccountCreated || ev.GetKind() == KindAccountPasswordReset || r.PasswordSetHlc == 0 {
		r.PasswordSetHlc = ev.GetHlc()
	}
	r.Account.SecondFactor = r.GetTotpSecret() != ""
	r.Account.UpdatedAt, r.Account.UpdatedBy = ts(ev), ev.GetActor()
	return r, nil
}

func applyPasswordEvent(_ *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindPasswordChanged {
		return nil, invalid("event.kind", "口令记录不接受 %q", ev.GetKind())
	}
	p := &pb.PasswordChanged{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	if ev.GetRecordKey() != recPassword+p.GetLogin() {
		return nil, invalid("event.record_key", "账户 %s 的口令不能写在 %s 下", p.GetLogin(), ev.GetRecordKey())
	}
	if _, err := ParsePasswordHash(p.GetPasswordHash()); err != nil {
		return nil, err
	}
	return &pb.PasswordRecord{PasswordHash: p.GetPasswordHash(), PasswordSetHlc: ev.GetHlc()}, nil
}

func applySignInEvent(prev *pb.StoredRecord, ev *pb.Event) (proto.Message, error) {
	if ev.GetKind() != KindSignIn && ev.GetKind() != KindSignInFailed {
		return nil, invalid("event.kind", "登录记录不接受 %q", ev.GetKind())
	}
	p := &pb.SignIn{}
	if err := decodePayload(ev, p); err != nil {
		return nil, err
	}
	if ev.GetRecordKey() != recSignIn+p.GetLogin() {
		return nil, invalid("event.record_key", "账户 %s 的登录不能写在 %s 下", p.GetLogin(), ev.GetRecordKey())
	}
	r := &pb.SignInRecord{}
	if prev != nil {
		var err error
		if r, err = decodeRecord(prev, r); err != nil {
			return nil, err
		}
	}
	if ev.GetKind() == KindSignIn {
		r.Logins++
	} else {
		r.Failures++
	}
	r.LastAtMs, r.LastSource = store.HLCTime(ev.GetHlc()).UnixMilli(), ev.GetSource()
	return r, nil
}

// checkAccountWriter: an owner's password and a login are written at the
// account's own unit; a child writing them for an account of another unit
// is refused (the fold cannot see the account).
func checkAccountWriter(w *store.Tx, ev *pb.Event) error {
	var login string
	switch ev.GetKind() {
	case KindPasswordChanged:
		login = strings.TrimPrefix(ev.GetRecordKey(), recPassword)
	case KindSignIn, KindSignInFailed:
		login = strings.TrimPrefix(ev.GetRecordKey(), recSignIn)
	default:
		return nil
	}
	st, err := accountState(w.Record, login)
	if err != nil {
		return err
	}
	if u := st.Record.GetAccount().GetUnit(); u != ev.GetUnit() {
		return precondition("event.unit", "账户 %s 属于 %s，%s 不能为它写 %s", login, u, ev.GetUnit(), ev.GetKind())
	}
	return nil
}

// DepartmentOf is the department that decides an application, or one part
// of a composite application: what an approver's department must match.
func (s *Rules) DepartmentOf(id, part string) (string, error) {
	key := taskKey(id, part)
	if part == "" {
		key = appKey(id)
	}
	var dep string
	err := s.st.View(func(r store.Reader) error {
		rec, err := r.Record(key)
		if err != nil {
			return err
		}
		switch {
		case rec == nil && part == "":
			return notFound("id", "办件 %q 不存在", id)
		case rec == nil:
			return notFound("part", "办件 %s 没有子事项 %q", id, part)
		case part == "":
			a, err := appFromRecord(rec)
			dep = a.GetDepartment()
			return err
		}
		t, err := decodeRecord(rec, &pb.Task{})
		dep = t.GetDepartment()
		return err
	})
	return dep, err
}
