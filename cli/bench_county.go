package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	gosync "sync"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/tiers"
)

// BenchCountyOptions are the flags of `bench county`.
type BenchCountyOptions struct {
	Writers  []int
	Duration time.Duration
	Kills    int
	// CPUProfile, if set, is where the throughput runs' CPU profile goes.
	CPUProfile string
}

// BenchCountyRun is one row of `bench county`.
type BenchCountyRun struct {
	Writers   int     `json:"writers"`
	Committed int64   `json:"committed"`
	PerSecond float64 `json:"perSecond"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// BenchCountyReport is the answer of `bench county`.
type BenchCountyReport struct {
	Runs            []BenchCountyRun `json:"runs"`
	FailoverMs      []float64        `json:"failoverMs"`
	FailoverMedianS float64          `json:"failoverMedianSeconds"`
}

func newBenchCountyCmd(f *Factory) *cobra.Command {
	o := &BenchCountyOptions{}
	cmd := &cobra.Command{
		Use:   "county",
		Short: "县级三成员集群：1/16/64 个并发写入者的提交吞吐与延迟，主节点宕机到下一次确认写入的时间",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := benchCounty(cmd.Context(), o)
			if err != nil {
				return err
			}
			if f.json() {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(f.Out, string(b))
				return nil
			}
			t := &table{}
			t.add("并发写入", "已提交", "每秒提交", "p50 ms", "p99 ms")
			for _, r := range rep.Runs {
				t.add(fmt.Sprint(r.Writers), fmt.Sprint(r.Committed), fmt.Sprintf("%.0f", r.PerSecond), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms))
			}
			t.print(f.Out)
			fmt.Fprintf(f.Out, "主节点停止 → 下一次确认写入（%d 次）：%v ms，中位数 %.2f 秒\n", len(rep.FailoverMs), rep.FailoverMs, rep.FailoverMedianS)
			return nil
		},
	}
	cmd.Flags().IntSliceVar(&o.Writers, "writers", []int{1, 16, 64}, "concurrent writers, one run each")
	cmd.Flags().DurationVar(&o.Duration, "duration", 5*time.Second, "length of each run")
	cmd.Flags().IntVar(&o.Kills, "kills", 5, "leader stops to time")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the throughput runs to this file")
	return cmd
}

type benchMember struct {
	cfg node.Config
	n   *node.Node
}

func benchCounty(ctx context.Context, o *BenchCountyOptions) (*BenchCountyReport, error) {
	dir, err := os.MkdirTemp("", "jiujin-bench-county-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	if err != nil {
		return nil, err
	}
	free := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return ln.Addr().String()
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ms []*benchMember
	for i := 0; i < 3; i++ {
		rc := &node.RaftConfig{Listen: free(), Bootstrap: i == 0}
		cfg := node.Config{Unit: tiers.MustParse(DemoCounty), Listen: free(), DataDir: filepath.Join(dir, fmt.Sprint(i)), Calendar: cal, Logger: quiet, Raft: rc}
		if i > 0 {
			rc.Join = []string{"http://" + ms[0].cfg.Listen}
		}
		n, err := node.Start(cfg)
		if err != nil {
			return nil, err
		}
		ms = append(ms, &benchMember{cfg: cfg, n: n})
	}
	defer func() {
		for _, m := range ms {
			if m.n != nil {
				m.n.Shutdown(context.Background())
			}
		}
	}()
	hc := NewHTTPClient()
	cluster := func(m *benchMember) jiujinv1connect.ClusterServiceClient {
		return jiujinv1connect.NewClusterServiceClient(hc, m.n.URL())
	}
	leader := func() (*benchMember, error) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range ms {
				if m.n == nil {
					continue
				}
				s, err := cluster(m).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
				if err == nil && s.Msg.GetLeader() == m.n.URL() && len(s.Msg.GetMembers()) == 3 {
					return m, nil
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil, fmt.Errorf("no leader with three members")
	}
	l, err := leader()
	if err != nil {
		return nil, err
	}
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return nil, err
	}
	if _, err := jiujinv1connect.NewCatalogServiceClient(hc, l.n.URL()).ImportCatalog(ctx, connect.NewRequest(req)); err != nil {
		return nil, err
	}
	rep := &BenchCountyReport{}
	stopProfile, err := startCPUProfile(o.CPUProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	for _, w := range o.Writers {
		var mu gosync.Mutex
		var lat []time.Duration
		var firstErr error
		deadline := time.Now().Add(o.Duration)
		start := time.Now()
		var wg gosync.WaitGroup
		for c := 0; c < w; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				// Each writer is a client of its own, on its own connection.
				apps := jiujinv1connect.NewApplicationServiceClient(NewHTTPClient(), l.n.URL())
				for i := 0; time.Now().Before(deadline); i++ {
					t0 := time.Now()
					_, err := apps.AcceptApplication(ctx, connect.NewRequest(benchAcceptCmd(c*100000+i).GetAccept()))
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if err == nil {
						lat = append(lat, time.Since(t0))
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}(c)
		}
		wg.Wait()
		if firstErr != nil {
			return nil, fmt.Errorf("%d writers: %w", w, firstErr)
		}
		el := time.Since(start).Seconds()
		rep.Runs = append(rep.Runs, BenchCountyRun{Writers: w, Committed: int64(len(lat)), PerSecond: float64(len(lat)) / el,
			P50Ms: pctMs(lat, 0.5), P99Ms: pctMs(lat, 0.99)})
	}
	stopProfile()
	// Failover: stop the leader, time until a write is acknowledged by a
	// survivor, bring the stopped member back.
	for k := 0; k < o.Kills; k++ {
		l, err := leader()
		if err != nil {
			return nil, err
		}
		var other *benchMember
		for _, m := range ms {
			if m != l {
				other = m
				break
			}
		}
		apps := jiujinv1connect.NewApplicationServiceClient(hc, other.n.URL())
		t0 := time.Now()
		l.n.Shutdown(context.Background())
		l.n = nil
		for {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := apps.AcceptApplication(cctx, connect.NewRequest(benchAcceptCmd(900000+k).GetAccept()))
			cancel()
			if err == nil {
				break
			}
			if time.Since(t0) > 30*time.Second {
				return nil, fmt.Errorf("no write acknowledged after the leader stopped: %w", err)
			}
		}
		rep.FailoverMs = append(rep.FailoverMs, float64(time.Since(t0).Milliseconds()))
		cfg := l.cfg
		cfg.Raft = &node.RaftConfig{Listen: cfg.Raft.Listen}
		if l.n, err = node.Start(cfg); err != nil {
			return nil, fmt.Errorf("restart member: %w", err)
		}
	}
	if len(rep.FailoverMs) > 0 {
		s := append([]float64(nil), rep.FailoverMs...)
		sort.Float64s(s)
		rep.FailoverMedianS = s[len(s)/2] / 1000
	}
	return rep, nil
}
