package web

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	qrcode "github.com/yeqown/go-qrcode/v2"
)

// TestQRCodeOfAReceipt: the receipt's code is a QR code (its three finder
// patterns where a reader looks for them), drawn as SVG with a quiet zone.
func TestQRCodeOfAReceipt(t *testing.T) {
	text := "JIUJIN:330324101201-20261123-000001:3F7A-91C2"
	q, err := qrcode.New(text)
	require.NoError(t, err)
	var m bitmap
	require.NoError(t, q.Save(&m))
	n := len(m.bits)
	require.GreaterOrEqual(t, n, 21)
	finder := func(x0, y0 int) {
		for i := range 7 {
			for _, p := range [][2]int{{x0 + i, y0}, {x0 + i, y0 + 6}, {x0, y0 + i}, {x0 + 6, y0 + i}} {
				require.True(t, m.bits[p[1]][p[0]], "finder ring at %v", p)
			}
		}
		require.False(t, m.bits[y0+1][x0+1], "finder's white ring")
		require.True(t, m.bits[y0+3][x0+3], "finder's centre")
	}
	finder(0, 0)
	finder(n-7, 0)
	finder(0, n-7)

	svg, err := qrSVG(text)
	require.NoError(t, err)
	s := string(svg)
	require.True(t, strings.HasPrefix(s, `<svg class="qr"`))
	require.Contains(t, s, `viewBox="-4 -4 `)
	again, _ := qrSVG(text)
	require.Equal(t, svg, again, "the same code for the same receipt")
}
