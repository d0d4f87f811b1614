// Package tiers knows the three tiers of the network (county, township,
// village), the statistical division codes (统计用区划代码) that name every
// unit, and the tree they form: a unit's parent is derived from its code.
//
// A county code has 6 digits (330324), a township 9 (330324101) and a
// village or community 12 (330324101201). Codes are validated strictly: a
// code that would name a unit "000" below its parent is malformed.
package tiers

import (
	"errors"
	"fmt"
	"strings"
)

// Tier is one of the three levels of the network.
type Tier int

// The tiers, from the top.
const (
	TierUnknown Tier = iota
	County
	Township
	Village
)

// String returns the identifier used in code, JSON and flags.
func (t Tier) String() string {
	switch t {
	case County:
		return "county"
	case Township:
		return "township"
	case Village:
		return "village"
	}
	return "unknown"
}

// Label returns the Chinese word people read.
func (t Tier) Label() string {
	switch t {
	case County:
		return "县"
	case Township:
		return "乡镇"
	case Village:
		return "村（社区）"
	}
	return "未知"
}

// ErrBadUnitCode is returned (wrapped) for any malformed unit code.
var ErrBadUnitCode = errors.New("malformed unit code")

// Unit is a validated unit code.
type Unit string

// Parse validates a unit code and returns it.
func Parse(code string) (Unit, error) {
	if err := validate(code); err != nil {
		return "", err
	}
	return Unit(code), nil
}

// MustParse is Parse for constants in tests and seed data.
func MustParse(code string) Unit {
	u, err := Parse(code)
	if err != nil {
		panic(err)
	}
	return u
}

func validate(code string) error {
	if code == "" {
		return fmt.Errorf("%w: 单位代码为空 (empty)", ErrBadUnitCode)
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: %q 只能由数字组成 (digits only)", ErrBadUnitCode, code)
		}
	}
	switch len(code) {
	case 6, 9, 12:
	default:
		return fmt.Errorf("%w: %q 长度应为 6（县）、9（乡镇）或 12（村）位，实为 %d 位", ErrBadUnitCode, code, len(code))
	}
	if p := code[:2]; !provinces[p] {
		return fmt.Errorf("%w: %q 省级代码 %s 不存在", ErrBadUnitCode, code, p)
	}
	if code[2:4] == "00" || code[4:6] == "00" {
		return fmt.Errorf("%w: %q 不是县级代码（地市或县段为 00）", ErrBadUnitCode, code)
	}
	if len(code) >= 9 && code[6:9] == "000" {
		return fmt.Errorf("%w: %q 乡镇段不能为 000", ErrBadUnitCode, code)
	}
	if len(code) == 12 && code[9:12] == "000" {
		return fmt.Errorf("%w: %q 村（社区）段不能为 000", ErrBadUnitCode, code)
	}
	return nil
}

// provinces are the province-level codes of GB/T 2260 (the first two
// digits of every division code).
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// Tier returns the unit's tier, from the length of its code.
func (u Unit) Tier() Tier {
	switch len(u) {
	case 6:
		return County
	case 9:
		return Township
	case 12:
		return Village
	}
	return TierUnknown
}

// Parent returns the unit directly above, or "" for a county.
func (u Unit) Parent() Unit {
	switch u.Tier() {
	case Township:
		return u[:6]
	case Village:
		return u[:9]
	}
	return ""
}

// County returns the county the unit belongs to.
func (u Unit) County() Unit {
	if len(u) < 6 {
		return ""
	}
	return u[:6]
}

// Ancestors returns the unit itself and every unit above it, bottom up.
func (u Unit) Ancestors() []Unit {
	out := []Unit{u}
	for p := u.Parent(); p != ""; p = p.Parent() {
		out = append(out, p)
	}
	return out
}

// Contains reports whether v is u or lies below u in the tree.
func (u Unit) Contains(v Unit) bool {
	return u != "" && strings.HasPrefix(string(v), string(u))
}

// Path returns the units on the tree path from a to b, both included, each
// once: up from a to the lowest common ancestor, then down to b.
func Path(a, b Unit) []Unit {
	up := a.Ancestors()
	down := b.Ancestors()
	var out []Unit
	for _, x := range up {
		out = append(out, x)
		if x.Contains(b) {
			// x is the lowest common ancestor; walk down to b.
			for i := len(down) - 1; i >= 0; i-- {
				if x.Contains(down[i]) && down[i] != x {
					out = append(out, down[i])
				}
			}
			return out
		}
	}
	// Different counties: no common ancestor inside the network.
	for i := len(down) - 1; i >= 0; i-- {
		out = append(out, down[i])
	}
	return out
}

// String returns the code.
func (u Unit) String() string { return string(u) }
