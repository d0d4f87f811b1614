package rules

import (
	"fmt"
	"time"
)

// Resident identity numbers (居民身份证号码, GB 11643-1999): 6 digits of
// address code, 8 of birth date, 3 of sequence and a check character
// computed as ISO 7064 MOD 11-2.

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// idCheckChar computes the check character of the first 17 digits.
func idCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// ValidateIDNumber checks an 18-character resident identity number: digits,
// a real birth date not in the future, and the check character. A lower-case
// x is accepted and normalised. It returns the normalised number.
func ValidateIDNumber(id string, now time.Time) (string, error) {
	const field = "applicant.id_number"
	if len(id) != 18 {
		return "", invalid(field, "身份证号应为 18 位，实为 %d 位", len([]rune(id)))
	}
	b := []byte(id)
	if b[17] == 'x' {
		b[17] = 'X'
	}
	for i := 0; i < 17; i++ {
		if b[i] < '0' || b[i] > '9' {
			return "", invalid(field, "身份证号前 17 位只能是数字")
		}
	}
	if !(b[17] >= '0' && b[17] <= '9') && b[17] != 'X' {
		return "", invalid(field, "身份证号末位应为数字或 X")
	}
	if b[0] == '0' || b[0] == '9' {
		return "", invalid(field, "身份证号地址码 %s 无效", string(b[:6]))
	}
	birth, err := time.Parse("20060102", string(b[6:14]))
	if err != nil || birth.Year() < 1900 || birth.After(now) {
		return "", invalid(field, "身份证号出生日期 %s 无效", string(b[6:14]))
	}
	if want := idCheckChar(string(b[:17])); b[17] != want {
		return "", invalid(field, "身份证号校验位错误（应为 %c），请核对号码", want)
	}
	return string(b), nil
}

// MaskIDNumber shows only the address code and the last four characters:
// 330324********1234. Anything that is not 18 characters is masked whole.
func MaskIDNumber(id string) string {
	if len(id) != 18 {
		return "******"
	}
	return id[:6] + "********" + id[14:]
}

// MakeIDNumber completes a 17-digit prefix with its check character (for
// seed data and tests).
func MakeIDNumber(first17 string) string {
	if len(first17) != 17 {
		panic(fmt.Sprintf("MakeIDNumber: %q is not 17 digits", first17))
	}
	return first17 + string(idCheckChar(first17))
}
