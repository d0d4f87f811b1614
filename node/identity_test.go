package node

import (
	"testing"
	"time"

	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/stretchr/testify/require"
)

func TestValidateIDNumber(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		id, want, err string
	}{
		{id: "11010519491231002X", want: "11010519491231002X"}, // the standard's own example
		{id: "11010519491231002x", want: "11010519491231002X"},
		{id: rules.MakeIDNumber("33032419580312122"), want: "330324195803121225"},
		{id: "110105194912310021", err: "校验位错误（应为 X）"},
		{id: "11010519491231002", err: "18 位"},
		{id: "1101051949123100211", err: "18 位"},
		{id: "11010519491331002X", err: "出生日期"},
		{id: "11010518991231002X", err: "出生日期"},
		{id: "1101051949A231002X", err: "前 17 位"},
		{id: "11010519491231002Y", err: "末位"},
		{id: "010105194912310021", err: "地址码"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := rules.ValidateIDNumber(tt.id, now)
			if tt.err != "" {
				require.ErrorIs(t, err, store.ErrInvalidArgument)
				require.ErrorContains(t, err, "applicant.id_number: ")
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, "110105********002X", rules.MaskIDNumber("11010519491231002X"))
	require.Equal(t, "******", rules.MaskIDNumber("123"))
}

func FuzzValidateIDNumber(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("330324195803121225")
	f.Add("")
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := rules.ValidateIDNumber(s, now)
		if err != nil {
			return
		}
		// A valid number survives its own check and masks to 18 characters
		// that hide the birth date.
		again, err := rules.ValidateIDNumber(got, now)
		require.NoError(t, err)
		require.Equal(t, got, again)
		m := rules.MaskIDNumber(got)
		require.Len(t, m, 18)
		require.NotContains(t, m, got[6:14])
	})
}
