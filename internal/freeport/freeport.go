// Package freeport picks loopback ports that stay free between the moment
// they are picked and the moment a process started later binds them.
//
// A port the kernel hands out for "127.0.0.1:0" comes from the ephemeral
// range, which is also where every outgoing connection on the machine takes
// its local port. Closed and handed to a child process a few hundred
// milliseconds later, such a port is sometimes already the local end of
// someone's connection, and the child fails with "address already in use".
// The ports here come from below the ephemeral range instead, where neither
// outgoing connections nor ":0" listeners ever land, chosen at random and
// never twice in one process.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	gosync "sync"
)

// lowest is the first port considered; below it live well-known services.
const lowest = 10000

var (
	mu    gosync.Mutex
	given = map[int]bool{}
)

// ErrNoneFree is returned when no free run of ports was found.
var ErrNoneFree = errors.New("no free loopback port below the ephemeral range")

// Loopback is a free "127.0.0.1:port".
func Loopback() (string, error) {
	p, err := Run(1)
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// Run is the first of n consecutive free loopback ports.
func Run(n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("freeport: a run of %d ports", n)
	}
	high := ephemeralStart()
	if high-lowest < 10*n {
		return 0, ErrNoneFree
	}
	mu.Lock()
	defer mu.Unlock()
	for try := 0; try < 200; try++ {
		base := lowest + rand.IntN(high-lowest-n)
		if runFree(base, n) {
			for i := 0; i < n; i++ {
				given[base+i] = true
			}
			return base, nil
		}
	}
	return 0, ErrNoneFree
}

// runFree reports whether ports base..base+n-1 are unused here and bindable.
func runFree(base, n int) bool {
	for i := 0; i < n; i++ {
		if given[base+i] {
			return false
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}

// ephemeralStart is the first port of the kernel's ephemeral range, or the
// IANA range's 49152 where the kernel does not say (not Linux).
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 49152
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 49152
	}
	p, err := strconv.Atoi(f[0])
	if err != nil || p <= lowest {
		return 49152
	}
	return p
}
