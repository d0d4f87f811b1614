package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node/rules"
)

// AcceptConfig is a run of RunAccept (`bench accept`).
type AcceptConfig struct {
	// Clients are the concurrent clients, one run each (--clients).
	Clients []int
	// Duration is the length of each run.
	Duration time.Duration
	// Settle is the wait, after the catalog is imported, before the idle
	// memory is measured.
	Settle time.Duration
	// Seed seeds the generated applicants.
	Seed uint64
	// TLS: the node serves TLS with a certificate of a CA made for the run,
	// and the clients trust that CA (false: insecure, plain HTTP).
	TLS bool
}

// Validate says what in c cannot be run, naming the flag.
func (c AcceptConfig) Validate() error {
	for _, clients := range c.Clients {
		if clients < 1 {
			return fmt.Errorf("--clients: %d 应为正数", clients)
		}
	}
	return nil
}

// AcceptRun is one run of RunAccept: one number of clients.
type AcceptRun struct {
	Clients     int     `json:"clients"`
	Accepted    int64   `json:"accepted"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	PeakRSSMiB  float64 `json:"peakRssMiB"`
	AfterRSSMiB float64 `json:"afterRssMiB"`
}

// AcceptReport is the answer of RunAccept.
type AcceptReport struct {
	IdleRSSMiB float64     `json:"idleRssMiB"`
	Runs       []AcceptRun `json:"runs"`
}

// RunAccept starts this binary as a county node process (fsync on),
// imports the seed catalog and, for each number of clients, has them
// accept applications for the run's length: throughput, latency and the
// node's resident memory.
func RunAccept(ctx context.Context, cfg AcceptConfig) (*AcceptReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "jiujin-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var trust *tls.Config
	args := []string{"--insecure"}
	if cfg.TLS {
		bundles, err := benchCertificates(filepath.Join(dir, "ca"), []string{seed.County})
		if err != nil {
			return nil, err
		}
		trust = &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: bundles[seed.County].Pool}
		args = []string{"--tls-dir", filepath.Join(dir, "ca", "tls-"+seed.County)}
	}
	proc, url, err := startNodeProcess(nctx, filepath.Join(dir, "data"), args...)
	if err != nil {
		return nil, err
	}
	defer func() { cancel(); proc.Wait() }()
	hc := client.NewHTTPClient(trust)
	cat := jiujinv1connect.NewCatalogServiceClient(hc, url)
	apps := jiujinv1connect.NewApplicationServiceClient(hc, url)
	if cfg.TLS {
		// With TLS come accounts: every call carries a session.
		admin, worker, err := operators(ctx, hc, url)
		if err != nil {
			return nil, err
		}
		cat = jiujinv1connect.NewCatalogServiceClient(hc, url, admin)
		apps = jiujinv1connect.NewApplicationServiceClient(hc, url, worker)
	}
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return nil, err
	}
	if _, err := cat.ImportCatalog(ctx, connect.NewRequest(req)); err != nil {
		return nil, err
	}
	time.Sleep(cfg.Settle)
	rep := &AcceptReport{IdleRSSMiB: rssMiB(proc.Process.Pid)}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	var rngMu sync.Mutex
	newID := func() string {
		rngMu.Lock()
		defer rngMu.Unlock()
		birth := time.Date(1940+rng.IntN(60), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		return rules.MakeIDNumber(fmt.Sprintf("330324%s%03d", birth.Format("20060102"), rng.IntN(1000)))
	}
	for _, clients := range cfg.Clients {
		var count atomic.Int64
		lat := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		var firstErr atomic.Value
		start := time.Now()
		deadline := start.Add(cfg.Duration)
		peak := 0.0
		stopSample := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopSample:
					return
				case <-t.C:
					peak = max(peak, rssMiB(proc.Process.Pid))
				}
			}
		}()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for time.Now().Before(deadline) {
					r := connect.NewRequest(&pb.AcceptApplicationRequest{
						MatterCode: "MZ-005",
						Applicant:  &pb.Applicant{Name: "测试申请人", IdNumber: newID()},
						Materials:  []string{"居民身份证", "近期一寸免冠证件照"},
					})
					t0 := time.Now()
					if _, err := apps.AcceptApplication(ctx, r); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					lat[c] = append(lat[c], time.Since(t0))
					count.Add(1)
				}
			}(c)
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		close(stopSample)
		<-sampled
		if e := firstErr.Load(); e != nil {
			return nil, fmt.Errorf("accept with %d clients: %w", clients, e.(error))
		}
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		pct := func(p float64) float64 {
			if len(all) == 0 {
				return 0
			}
			return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
		}
		rep.Runs = append(rep.Runs, AcceptRun{
			Clients: clients, Accepted: count.Load(), Seconds: elapsed, PerSecond: float64(count.Load()) / elapsed,
			P50Ms: pct(0.50), P99Ms: pct(0.99), PeakRSSMiB: peak, AfterRSSMiB: rssMiB(proc.Process.Pid),
		})
	}
	return rep, nil
}

var urlLine = regexp.MustCompile(`(https?://127\.0\.0\.1:[0-9]+)`)

// startNodeProcess starts this binary as a separate county node process,
// so its memory is the node's alone.
func startNodeProcess(ctx context.Context, dir string, trust ...string) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	args := append([]string{"node", "start", "--unit", seed.County, "--listen", "127.0.0.1:0", "--data", dir}, trust...)
	cmd := exec.CommandContext(ctx, exe, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	sc := bufio.NewScanner(out)
	urlCh := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := urlLine.FindString(sc.Text()); m != "" {
				urlCh <- m
			}
		}
	}()
	select {
	case u := <-urlCh:
		return cmd, u, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("bench node did not start")
	}
}

// rssMiB reads a process's resident set size.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fs := strings.Fields(line)
			if len(fs) >= 2 {
				kb, _ := strconv.ParseFloat(fs[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
