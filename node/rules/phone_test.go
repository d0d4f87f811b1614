package rules

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"13857700101":   "138****0101",
		"0577-65012345": "0577-****2345",
		"057765012345":  "0577-****2345",
		"01062345678":   "010-****5678",
		"":              "",
		"12345":         "******",
		"1385770010199": "******",
	} {
		require.Equal(t, want, MaskPhone(in), in)
	}
}
