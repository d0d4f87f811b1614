package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
)

func newBenchCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "README 中的基准测试"}
	cmd.AddCommand(newBenchAcceptCmd(f), newBenchSyncCmd(f), newBenchCountyCmd(f))
	return cmd
}

// BenchAcceptOptions are the flags of `bench accept`.
type BenchAcceptOptions struct {
	Clients  []int
	Duration time.Duration
	Settle   time.Duration
	Seed     uint64
}

// BenchAcceptResult is one row of `bench accept`.
type BenchAcceptResult struct {
	Clients     int     `json:"clients"`
	Accepted    int64   `json:"accepted"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	PeakRSSMiB  float64 `json:"peakRssMiB"`
	AfterRSSMiB float64 `json:"afterRssMiB"`
}

// BenchAcceptReport is the whole answer of `bench accept`.
type BenchAcceptReport struct {
	IdleRSSMiB float64             `json:"idleRssMiB"`
	Runs       []BenchAcceptResult `json:"runs"`
}

func newBenchAcceptCmd(f *Factory) *cobra.Command {
	o := &BenchAcceptOptions{}
	cmd := &cobra.Command{
		Use:   "accept",
		Short: "持久化受理吞吐：启动一个县节点子进程（fsync 开启），以 1 和 16 个并发客户端受理，测吞吐、延迟和常驻内存",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := benchAccept(cmd.Context(), f, o)
			if err != nil {
				return err
			}
			if f.json() {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(f.Out, string(b))
				return nil
			}
			fmt.Fprintf(f.Out, "空闲常驻内存（导入清单后）：%.1f MiB\n", rep.IdleRSSMiB)
			t := &table{}
			t.add("并发", "受理数", "秒", "每秒受理", "p50 ms", "p99 ms", "峰值 RSS MiB")
			for _, r := range rep.Runs {
				t.add(strconv.Itoa(r.Clients), strconv.FormatInt(r.Accepted, 10), fmt.Sprintf("%.1f", r.Seconds),
					fmt.Sprintf("%.0f", r.PerSecond), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms), fmt.Sprintf("%.1f", r.PeakRSSMiB))
			}
			t.print(f.Out)
			return nil
		},
	}
	cmd.Flags().IntSliceVar(&o.Clients, "clients", []int{1, 16}, "concurrent clients, one run each")
	cmd.Flags().DurationVar(&o.Duration, "duration", 10*time.Second, "length of each run")
	cmd.Flags().DurationVar(&o.Settle, "settle", 3*time.Second, "wait before measuring idle memory")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "seed for the generated applicants")
	return cmd
}

var urlLine = regexp.MustCompile(`(http://127\.0\.0\.1:[0-9]+)`)

// startBenchNode starts this binary as a separate county node process, so
// its memory is the node's alone.
func startBenchNode(ctx context.Context, dir string) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, exe, "node", "start", "--unit", DemoCounty, "--listen", "127.0.0.1:0", "--data", dir)
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

func benchAccept(ctx context.Context, f *Factory, o *BenchAcceptOptions) (*BenchAcceptReport, error) {
	dir, err := os.MkdirTemp("", "jiujin-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	proc, url, err := startBenchNode(nctx, dir)
	if err != nil {
		return nil, err
	}
	defer func() { cancel(); proc.Wait() }()
	hc := client.NewHTTPClient()
	cat := jiujinv1connect.NewCatalogServiceClient(hc, url)
	apps := jiujinv1connect.NewApplicationServiceClient(hc, url)
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return nil, err
	}
	if _, err := cat.ImportCatalog(ctx, connect.NewRequest(req)); err != nil {
		return nil, err
	}
	time.Sleep(o.Settle)
	rep := &BenchAcceptReport{IdleRSSMiB: rssMiB(proc.Process.Pid)}
	rng := rand.New(rand.NewPCG(o.Seed, 0))
	var rngMu sync.Mutex
	newID := func() string {
		rngMu.Lock()
		defer rngMu.Unlock()
		birth := time.Date(1940+rng.IntN(60), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		return node.MakeIDNumber(fmt.Sprintf("330324%s%03d", birth.Format("20060102"), rng.IntN(1000)))
	}
	for _, clients := range o.Clients {
		if clients < 1 {
			return nil, fmt.Errorf("--clients: %d 应为正数", clients)
		}
		var count atomic.Int64
		lat := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		var firstErr atomic.Value
		start := time.Now()
		deadline := start.Add(o.Duration)
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
		rep.Runs = append(rep.Runs, BenchAcceptResult{
			Clients: clients, Accepted: count.Load(), Seconds: elapsed, PerSecond: float64(count.Load()) / elapsed,
			P50Ms: pct(0.50), P99Ms: pct(0.99), PeakRSSMiB: peak, AfterRSSMiB: rssMiB(proc.Process.Pid),
		})
	}
	return rep, nil
}
