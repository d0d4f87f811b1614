package sync

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestToldSendsACertificateOnceStored: a certificate goes with batches
// until the other end has stored one of them, then no more; one it may
// not have stored goes again.
func TestToldSendsACertificateOnceStored(t *testing.T) {
	a, b := []byte("certificate a"), []byte("certificate b")
	var tl told
	require.Equal(t, [][]byte{a}, tl.unsent([][]byte{a}, 10))
	tl.stored(5) // an older batch: the one that carried a is not stored yet
	require.Equal(t, [][]byte{a}, tl.unsent([][]byte{a}, 12), "not known stored: sent again")
	tl.stored(12)
	require.Empty(t, tl.unsent([][]byte{a}, 15))
	require.Equal(t, [][]byte{b}, tl.unsent([][]byte{a, b}, 20))
	// The batch with b is lost; the next goes out before anything is
	// stored: b again.
	require.Equal(t, [][]byte{b}, tl.unsent([][]byte{b}, 20))
	tl.stored(20)
	require.Empty(t, tl.unsent([][]byte{a, b}, 30))

	var children toldChildren
	require.Same(t, children.of("n1"), children.of("n1"))
	require.NotSame(t, children.of("n1"), children.of("n2"))
}
