package rules

import "strings"

// MaskPhone shows a phone number the way an identity number is shown: a
// mobile number's first three and last four digits (138****0101), a
// landline's area code and last four (0577-****5678). What is not a phone
// number is masked whole.
func MaskPhone(p string) string {
	switch {
	case p == "":
		return ""
	case !phoneRE.MatchString(p):
		return "******"
	case p[0] == '1':
		return p[:3] + "****" + p[7:]
	}
	area, rest, dashed := strings.Cut(p, "-")
	if !dashed {
		area, rest = p[:4], p[4:]
		if p[1] == '1' || p[1] == '2' { // 010, 02x: three-digit codes
			area, rest = p[:3], p[3:]
		}
	}
	return area + "-" + strings.Repeat("*", len(rest)-4) + rest[len(rest)-4:]
}
