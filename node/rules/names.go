package rules

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
)

// What people type instead of codes: a matter by name, alias (常用名) or
// pinyin initials, a department by name, a mode or a delivery way by its
// Chinese word; and, where nothing matches, the closest names.

//go:generate go run ./internal/initialsgen

// initialsOf are the pinyin initials of a text, lower case (最低生活保障 →
// zdshbz); letters and digits stay as they are, other signs are dropped.
// The letters come from initials_table.go (generated from go-pinyin).
func initialsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= hanFirst && r <= hanLast:
			if l := hanInitials[r-hanFirst]; l != '_' {
				b.WriteByte(l)
			}
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// initialsCache keeps the initials of names already seen: a catalog's
// names are few and asked for often.
var initialsCache sync.Map

func initials(s string) string {
	if v, ok := initialsCache.Load(s); ok {
		return v.(string)
	}
	v := initialsOf(s)
	initialsCache.Store(s, v)
	return v
}

// isInitials tells a query that may be pinyin initials: ASCII letters only.
func isInitials(q string) bool {
	for _, r := range q {
		if r >= unicode.MaxASCII || !unicode.IsLetter(r) {
			return false
		}
	}
	return q != ""
}

// matterMatches tells whether a matter answers a query: part of its code,
// name or an alias, or the pinyin initials of its name or an alias.
func matterMatches(m *pb.Matter, q string) bool {
	q = strings.TrimSpace(q)
	if q == "" {
		return true
	}
	if strings.Contains(strings.ToUpper(m.GetCode()), strings.ToUpper(q)) || strings.Contains(m.GetName(), q) {
		return true
	}
	for _, a := range m.GetAliases() {
		if strings.Contains(a, q) {
			return true
		}
	}
	if isInitials(q) {
		lq := strings.ToLower(q)
		if strings.Contains(initials(m.GetName()), lq) {
			return true
		}
		for _, a := range m.GetAliases() {
			if strings.Contains(initials(a), lq) {
				return true
			}
		}
	}
	return false
}

// ResolveMatter turns what a person typed for a matter into its code: a
// code in force as it is; else a name or alias that names one matter
// (whole, or else as a part, or as pinyin initials). Ambiguity is refused
// with the candidates, nothing found with the closest names.
func (s *Rules) ResolveMatter(field, text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", nil
	}
	if looksLikeMatterCode(text) {
		// A code: the rules say whether it is in force.
		return strings.ToUpper(text), nil
	}
	var all []*pb.Matter
	err := s.st.View(func(txn store.Reader) error {
		return txn.Scan(recMatter, false, func(_ string, rec *pb.StoredRecord) (bool, error) {
			m, err := decodeRecord(rec, &pb.Matter{})
			if err != nil {
				return false, err
			}
			if !isWithdrawnMatter(m) {
				all = append(all, m)
			}
			return true, nil
		})
	})
	if err != nil {
		return "", err
	}
	var exact, partial []candidate
	for _, m := range all {
		c := candidate{m.GetCode(), m.GetName() + "（" + m.GetCode() + "）"}
		switch {
		case m.GetName() == text || slices.Contains(m.GetAliases(), text):
			exact = append(exact, c)
		case matterMatches(m, text):
			partial = append(partial, c)
		}
	}
	code, fit := choose(exact, partial)
	switch {
	case code != "":
		return code, nil
	case len(fit) == 0:
		names := make([]string, 0, len(all))
		for _, m := range all {
			names = append(names, m.GetName())
			names = append(names, m.GetAliases()...)
		}
		return "", notFound(field, "事项清单中没有 %q%s", text, suggestion(text, names))
	}
	return "", invalid(field, "%q 对应多个事项：%s；请写全名或用代码", text, candidates(fit))
}

// candidate is what a typed name may stand for: its code, and how a
// person reads it.
type candidate struct{ code, label string }

// choose picks what a typed name stands for: the one that bears it whole,
// else the one whose name holds it. It answers the code, or, where none or
// several fit, the labels of those that do.
func choose(exact, partial []candidate) (string, []string) {
	pick := exact
	if len(pick) == 0 {
		pick = partial
	}
	if len(pick) == 1 {
		return pick[0].code, nil
	}
	labels := make([]string, len(pick))
	for i, c := range pick {
		labels[i] = c.label
	}
	return "", labels
}

// looksLikeMatterCode: two to four letters, a dash, digits (GA-001).
func looksLikeMatterCode(s string) bool {
	letters, digits, ok := strings.Cut(s, "-")
	return ok && len(letters) >= 2 && len(letters) <= 4 && isInitials(letters) && isDigits(digits)
}

// ResolveDepartment turns a department's code or name (县民政局, 民政局,
// 民政) into its code, from the catalog in force.
func (s *Rules) ResolveDepartment(field, text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", nil
	}
	cat, err := s.Catalog()
	if err != nil {
		return "", err
	}
	deps := cat.GetDepartments()
	var exact, partial []candidate
	for _, d := range deps {
		c := candidate{d.GetCode(), d.GetName() + "（" + d.GetCode() + "）"}
		switch {
		case strings.EqualFold(d.GetCode(), text):
			return d.GetCode(), nil
		case d.GetName() == text:
			exact = append(exact, c)
		case strings.Contains(d.GetName(), text):
			partial = append(partial, c)
		}
	}
	code, fit := choose(exact, partial)
	switch {
	case code != "":
		return code, nil
	case len(fit) == 0:
		if len(deps) == 0 {
			return strings.ToUpper(text), nil // no catalog yet: take it as a code
		}
		names := make([]string, 0, len(deps))
		for _, d := range deps {
			names = append(names, d.GetName()+"（"+d.GetCode()+"）")
		}
		return "", notFound(field, "没有部门 %q；部门有：%s", text, candidates(names))
	}
	return "", invalid(field, "%q 对应多个部门：%s", text, candidates(fit))
}

// DepartmentName is a department's name in the catalog in force ("" if
// none).
func (s *Rules) DepartmentName(code string) string {
	cat, err := s.Catalog()
	if err != nil {
		return ""
	}
	for _, d := range cat.GetDepartments() {
		if d.GetCode() == code {
			return d.GetName()
		}
	}
	return ""
}

// ResolveMode turns 下放 / 委托 / 代办 (or the codes) into a mode code.
func ResolveMode(field, text string) (string, error) {
	return resolveWord(field, "方式", text, delegation.ModeLabels)
}

// DeliveryLabels are the Chinese words of the delivery ways.
var DeliveryLabels = map[string]string{"window": "窗口", "post": "邮寄"}

// ResolveDelivery turns 窗口 / 邮寄 (快递) into a delivery way.
func ResolveDelivery(field, text string) (string, error) {
	if strings.TrimSpace(text) == "快递" || strings.TrimSpace(text) == "寄递" {
		return "post", nil
	}
	if strings.TrimSpace(text) == "窗口领取" || strings.TrimSpace(text) == "自取" {
		return "window", nil
	}
	return resolveWord(field, "出件方式", text, DeliveryLabels)
}

func resolveWord(field, what, text string, labels map[string]string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", nil
	}
	var words []string
	for code, label := range labels {
		if text == code || text == label {
			return code, nil
		}
		words = append(words, label+"（"+code+"）")
	}
	slices.Sort(words)
	return "", invalid(field, "%q 不是已知的%s，可选：%s", text, what, strings.Join(words, "、"))
}

// candidates joins names for an answer, at most eight of them.
func candidates(names []string) string {
	slices.Sort(names)
	if len(names) > 8 {
		return strings.Join(names[:8], "、") + fmt.Sprintf(" 等 %d 个", len(names))
	}
	return strings.Join(names, "、")
}

// suggestion is "；最接近的：A、B" with the names closest to text (those
// that share at least a character with it), or "" if none do.
func suggestion(text string, names []string) string {
	best := closest(text, names, 3)
	if len(best) == 0 {
		return ""
	}
	return "；最接近的：" + strings.Join(best, "、")
}

// closest are up to n names nearest to text by edit distance over
// characters, among those that share a character with it.
func closest(text string, names []string, n int) []string {
	t := []rune(text)
	type scored struct {
		name string
		d    int
	}
	var all []scored
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] || name == "" {
			continue
		}
		seen[name] = true
		r := []rune(name)
		if !sharesRune(t, r) {
			continue
		}
		all = append(all, scored{name, editDistance(t, r)})
	}
	slices.SortStableFunc(all, func(a, b scored) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, all[i].name)
	}
	return out
}

func sharesRune(a, b []rune) bool {
	for _, x := range a {
		if !unicode.IsSpace(x) && slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// editDistance is Levenshtein's distance over runes.
func editDistance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
