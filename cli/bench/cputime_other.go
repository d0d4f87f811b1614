//go:build !unix

package bench

import "time"

// processCPU is the CPU time this process has used so far; this system
// does not say.
func processCPU() (time.Duration, bool) { return 0, false }
