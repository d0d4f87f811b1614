package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorsQuoteNoLongValue(t *testing.T) {
	long := strings.Repeat("1", 5000)
	err := Invalid("applicant.phone", "联系电话 %q 格式不正确（%d 位）", long, 5000)
	require.Less(t, len(err.Error()), 200)
	require.Contains(t, err.Error(), "共 5000 字")
	require.Contains(t, err.Error(), "5000 位", "other arguments keep their place")
	short := Invalid("x", "%q 与 %s", "短", strings.Repeat("长", 100))
	require.Contains(t, short.Error(), `"短"`)
	require.Contains(t, short.Error(), strings.Repeat("长", 100), "only quoted values are clipped")
	require.Equal(t, "x: 100% 完成", Invalid("x", "100%% 完成").Error())
}
