package delegation

import (
	"fmt"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/tiers"
)

// Delegation modes.
const (
	ModeDevolve = "devolve" // 下放: to the department's agency at a township
	ModeEntrust = "entrust" // 委托: to the township government
	ModeProxy   = "proxy"   // 代办: accept and hand back, not decide
)

// ModeLabels are the Chinese names of the modes.
var ModeLabels = map[string]string{ModeDevolve: "下放", ModeEntrust: "委托", ModeProxy: "代办"}

// Decides reports whether a mode carries the power to decide.
func Decides(mode string) bool { return mode == ModeDevolve || mode == ModeEntrust }

// InForce reports whether a delegation is in force at time t: its days
// cover t's day and it was not revoked by t.
func InForce(d *pb.Delegation, t time.Time) bool {
	day := FormatDate(t)
	if d.GetFrom() > day || (d.GetUntil() != "" && day > d.GetUntil()) {
		return false
	}
	return d.GetRevokedAt() == nil || d.GetRevokedAt().AsTime().After(t)
}

// Route answers who decides a matter accepted at a unit at time t: the
// township whose subtree holds the accepting unit, if the matter is
// devolved or entrusted to it then; otherwise the county department that
// owns the matter (the county). It also returns the delegation that makes
// it so, or nil.
func Route(dels []*pb.Delegation, accepting tiers.Unit, t time.Time) (tiers.Unit, *pb.Delegation) {
	for _, d := range dels {
		u := tiers.Unit(d.GetUnit())
		if Decides(d.GetMode()) && u.Contains(accepting) && InForce(d, t) {
			return u, d
		}
	}
	return accepting.County(), nil
}

// Entitled reports whether unit may be made the deciding unit of an
// application for the matter accepted at accepting, by a routing made here
// at time t: the county always may; a township only under a deciding
// delegation in force then that covers the accepting unit.
func Entitled(dels []*pb.Delegation, unit, accepting tiers.Unit, t time.Time) (*pb.Delegation, bool) {
	return entitled(dels, unit, accepting, t, true)
}

// Admits is what a receiver checks of a routing another node made at time
// t: as Entitled, except that a revocation does not count against it. The
// router acted on the delegations it knew, and a revocation may not have
// reached it yet: a village accepting for hours behind a broken link, or
// one whose clock runs fast. Refusing such a routing would strand the
// application, which revoking never does; it finishes where it was routed,
// or is re-routed by an explicit event. The days a delegation covers are
// known to every node from the grant, so those still count.
func Admits(dels []*pb.Delegation, unit, accepting tiers.Unit, t time.Time) (*pb.Delegation, bool) {
	return entitled(dels, unit, accepting, t, false)
}

func entitled(dels []*pb.Delegation, unit, accepting tiers.Unit, t time.Time, revocations bool) (*pb.Delegation, bool) {
	if unit == accepting.County() {
		return nil, true
	}
	for _, d := range dels {
		if tiers.Unit(d.GetUnit()) != unit || !Decides(d.GetMode()) || !unit.Contains(accepting) {
			continue
		}
		check := d
		if !revocations && d.GetRevokedAt() != nil {
			check = &pb.Delegation{From: d.GetFrom(), Until: d.GetUntil()} // its days only
		}
		if InForce(check, t) {
			return d, true
		}
	}
	return nil, false
}

// ValidateGrant checks a grant against the delegations already recorded
// for the matter: a decision may be delegated only to a township, and only
// one deciding delegation per matter and township may be in force at once.
func ValidateGrant(req *pb.GrantDelegationRequest, existing []*pb.Delegation, today time.Time) error {
	unit, err := tiers.Parse(req.GetUnit())
	if err != nil {
		return fmt.Errorf("%w: unit: %v", ErrInvalidDelegation, err)
	}
	switch req.GetMode() {
	case ModeDevolve, ModeEntrust:
		if unit.Tier() != tiers.Township {
			return fmt.Errorf("%w: unit: 下放、委托只能给乡镇（9 位代码），%s 是%s", ErrInvalidDelegation, unit, unit.Tier().Label())
		}
	case ModeProxy:
		if unit.Tier() == tiers.County {
			return fmt.Errorf("%w: unit: 县级本身即可受理，无需代办", ErrInvalidDelegation)
		}
	default:
		return fmt.Errorf("%w: mode: %q 应为 devolve（下放）、entrust（委托）或 proxy（代办）", ErrInvalidDelegation, req.GetMode())
	}
	from, err := ParseDate(req.GetFrom())
	if err != nil {
		return fmt.Errorf("%w: from: %v", ErrInvalidDelegation, err)
	}
	if from.Before(Day(today)) {
		return fmt.Errorf("%w: from: 生效日期 %s 早于今天，不能追溯", ErrInvalidDelegation, req.GetFrom())
	}
	if req.GetUntil() != "" {
		until, err := ParseDate(req.GetUntil())
		if err != nil {
			return fmt.Errorf("%w: until: %v", ErrInvalidDelegation, err)
		}
		if until.Before(from) {
			return fmt.Errorf("%w: until: 截止日期 %s 早于生效日期 %s", ErrInvalidDelegation, req.GetUntil(), req.GetFrom())
		}
	}
	for _, d := range existing {
		if d.GetUnit() != req.GetUnit() || d.GetRevokedAt() != nil || Decides(d.GetMode()) != Decides(req.GetMode()) {
			continue
		}
		if overlaps(d.GetFrom(), d.GetUntil(), req.GetFrom(), req.GetUntil()) {
			return fmt.Errorf("%w: unit: 事项 %s 对 %s 已有生效期重叠的%s（%s），请先撤销", ErrDelegationConflict,
				req.GetMatterCode(), req.GetUnit(), ModeLabels[d.GetMode()], d.GetId())
		}
	}
	return nil
}

func overlaps(f1, u1, f2, u2 string) bool {
	end := func(u string) string {
		if u == "" {
			return "9999-12-31"
		}
		return u
	}
	return f1 <= end(u2) && f2 <= end(u1)
}
