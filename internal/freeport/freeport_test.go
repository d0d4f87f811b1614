package freeport

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPortsAreBelowTheEphemeralRangeAndNeverTwice(t *testing.T) {
	high := ephemeralStart()
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		base, err := Run(3)
		require.NoError(t, err)
		for p := base; p < base+3; p++ {
			require.GreaterOrEqual(t, p, lowest)
			require.Less(t, p, high, "a port from the ephemeral range can be taken by any outgoing connection")
			require.False(t, seen[p], "port %d given twice", p)
			seen[p] = true
		}
	}
	addr, err := Loopback()
	require.NoError(t, err)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "the port given is bindable")
	ln.Close()
}

func TestABoundPortIsNotGiven(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	require.False(t, runFree(port, 1), "port "+strconv.Itoa(port)+" is bound")
	_, err = Run(0)
	require.Error(t, err)
}
