package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sampler follows the county process's CPU and memory over a window.
type sampler struct {
	t        *treeNet
	pid      int
	start    time.Time
	cpu0     time.Duration
	stop     chan struct{}
	done     chan struct{}
	peakCore float64
	peakRSS  float64
}

func (t *treeNet) sample(ctx context.Context) *sampler {
	s := &sampler{t: t, pid: t.countyProc.Process.Pid, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	s.cpu0 = procCPU(s.pid)
	go func() {
		defer close(s.done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		prev, at := s.cpu0, s.start
		for {
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				c := procCPU(s.pid)
				s.peakCore = max(s.peakCore, (c-prev).Seconds()/now.Sub(at).Seconds())
				s.peakRSS = max(s.peakRSS, rssMiB(s.pid))
				prev, at = c, now
			}
		}
	}()
	return s
}

func (s *sampler) end(ctx context.Context) TreeCost {
	close(s.stop)
	<-s.done
	secs := time.Since(s.start).Seconds()
	c := TreeCost{Seconds: secs, CountyCPUShare: (procCPU(s.pid) - s.cpu0).Seconds() / secs, PeakCores: s.peakCore,
		CountyRSSMiB: rssMiB(s.pid), PeakRSSMiB: s.peakRSS}
	c.PeakRSSMiB = max(c.PeakRSSMiB, c.CountyRSSMiB)
	c.Goroutines, c.Connections = s.t.countyGoroutines(ctx), connectionsTo(s.t.countyPort())
	return c
}

// procCPU is a process's CPU time so far, user and system (Linux: from
// /proc, in clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fs := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fs) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(fs[11], 10, 64)
	k, _ := strconv.ParseInt(fs[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

// connectionsTo counts the established TCP connections whose local port
// is port: those a listener has accepted.
func connectionsTo(port int) int {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "01" {
				continue
			}
			if i := strings.LastIndexByte(fs[1], ':'); i >= 0 {
				if p, err := strconv.ParseInt(fs[1][i+1:], 16, 32); err == nil && int(p) == port {
					n++
				}
			}
		}
	}
	return n
}

// countyGoroutines reads the county's goroutines from its /metrics.
func (t *treeNet) countyGoroutines(ctx context.Context) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.countyURL+"/metrics", nil)
	if err != nil {
		return 0
	}
	res, err := t.hc.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
