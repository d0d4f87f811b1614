package tiers

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		code    string
		tier    Tier
		parent  Unit
		wantErr string
	}{
		{code: "330324", tier: County},
		{code: "330324101", tier: Township, parent: "330324"},
		{code: "330324101201", tier: Village, parent: "330324101"},
		{code: "", wantErr: "为空"},
		{code: "33032", wantErr: "长度"},
		{code: "3303241012", wantErr: "长度"},
		{code: "33032410120a", wantErr: "数字"},
		{code: "990324", wantErr: "省级代码"},
		{code: "191001", wantErr: "省级代码"}, // within 11–82, but no province
		{code: "440101001", tier: Township, parent: "440101"},
		{code: "330024", wantErr: "县级代码"},
		{code: "330324000", wantErr: "乡镇段"},
		{code: "330324101000", wantErr: "村"},
		{code: "３30324", wantErr: "数字"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			u, err := Parse(tt.code)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrBadUnitCode)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.tier, u.Tier())
			require.Equal(t, tt.parent, u.Parent())
			require.Equal(t, Unit(tt.code[:6]), u.County())
		})
	}
}

func TestPath(t *testing.T) {
	v1 := MustParse("330324101201")
	v2 := MustParse("330324101202")
	v3 := MustParse("330324102201")
	tw := MustParse("330324101")
	c := MustParse("330324")
	require.Equal(t, []Unit{v1, tw, c}, Path(v1, c))
	require.Equal(t, []Unit{c, tw, v1}, Path(c, v1))
	require.Equal(t, []Unit{v1, tw, v2}, Path(v1, v2))
	require.Equal(t, []Unit{v1, tw, c, "330324102", v3}, Path(v1, v3))
	require.Equal(t, []Unit{v1}, Path(v1, v1))
	require.True(t, c.Contains(v3))
	require.False(t, tw.Contains(v3))
	require.Equal(t, []Unit{v1, tw, c}, v1.Ancestors())
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"330324", "330324101", "330324101201", "", "000000", "330324000201"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		// Every valid code's ancestors are valid codes, and a valid unit
		// contains itself.
		for _, a := range u.Ancestors() {
			_, err := Parse(string(a))
			require.NoError(t, err)
			require.True(t, a.Contains(u))
		}
	})
}
