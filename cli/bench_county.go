package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	gosync "sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/internal/freeport"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// BenchCountyOptions are the flags of `bench county`.
type BenchCountyOptions struct {
	Writers  []int
	Duration time.Duration
	// PushTownships push PushBatches batches of BatchEvents events each.
	PushTownships, PushBatches, BatchEvents int
	Kills                                   int
	// Binary is the jiujin executable the kill -9 runs start (default:
	// this one).
	Binary string
	// CPUProfile, if set, is where the in-process runs' CPU profile goes.
	CPUProfile string
	// H2C: the writers speak HTTP/2 without TLS, not the command line's
	// HTTP/1.1.
	H2C bool
	// Members, if set, are the URLs of a running group, started for the
	// measurement, to measure instead of one in this process (members on
	// machines of their own, as deployed). Failover is not measured then.
	Members []string
}

// BenchCountyRun is one row of `bench county`.
type BenchCountyRun struct {
	Writers   int     `json:"writers"`
	Seconds   float64 `json:"seconds"` // the run's length
	Committed int64   `json:"committed"`
	PerSecond float64 `json:"perSecond"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
	// MaxMs is the slowest write's latency: a stall of the group shows
	// here before it moves the p99.
	MaxMs float64 `json:"maxMs"`
	// Unavailable answers the writers were given (a leader changing) and
	// asked again after, under the same idempotency key.
	Unavailable int64 `json:"unavailable"`
	// CPUMicrosPerWrite is the CPU this process used in the run, user and
	// system, per committed write, and Cores that CPU over the run's
	// length: with the group in this process they count all the work, the
	// three members' and the writers'. Absent when the group runs
	// elsewhere (--members) or the system does not say.
	CPUMicrosPerWrite float64 `json:"cpuMicrosPerWrite,omitempty"`
	Cores             float64 `json:"cores,omitempty"`
}

// BenchCountyPush is the sync push run of `bench county`.
type BenchCountyPush struct {
	Townships int     `json:"townships"`
	Batches   int     `json:"batches"`
	Events    int64   `json:"events"`
	PerSecond float64 `json:"perSecond"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// BenchCountyReport is the answer of `bench county`.
type BenchCountyReport struct {
	Runs            []BenchCountyRun `json:"runs"`
	Push            *BenchCountyPush `json:"push,omitempty"`
	FailoverMs      []float64        `json:"failoverMs"`
	FailoverMedianS float64          `json:"failoverMedianSeconds"`
}

func newBenchCountyCmd(f *Factory) *cobra.Command {
	o := &BenchCountyOptions{}
	var members string
	cmd := &cobra.Command{
		Use:   "county",
		Short: "县级三成员集群：并发写入与乡镇批量推送的提交吞吐和延迟，主节点被 kill -9 到下一次确认写入的时间",
		Long: `bench county measures the three-member county group on loopback, fsync on:
  writers    1, 16, 64 concurrent clients accepting single applications at the
             leader, each on its own connection: committed/s, p50/p99
  push       townships pushing their backlog to the leader in batches of 500
             events (one sync Push each, acknowledged after commit): events/s,
             p50/p99 per batch
  failover   three members as processes of this binary; the leader is killed
             with SIGKILL and a write is retried at a survivor until it is
             acknowledged: the time from the kill, per kill and the median;
             the killed member is restarted and catches up before the next kill
The first two run in this process (--cpuprofile profiles them).

With --members URL,URL,URL they measure a running group instead, one started
for the measurement (fresh members on machines of their own, as deployed): the
writers and the townships run here, the group is left running, and failover is
not measured. A group that already holds applications is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if members != "" {
				urls, err := client.ParseURLList("--members", members)
				if err != nil {
					return err
				}
				for _, u := range urls {
					o.Members = append(o.Members, u.String())
				}
				if cmd.Flags().Changed("kills") && o.Kills > 0 {
					return fmt.Errorf("--kills: 不能用 --members 测量主节点切换（本命令不会杀死外部成员的进程）")
				}
				o.Kills = 0
			}
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
			t.add("并发写入", "已提交", "每秒提交", "p50 ms", "p99 ms", "最长 ms", "重试", "每笔 CPU µs", "占用核")
			for _, r := range rep.Runs {
				cpu, cores := "-", "-"
				if r.CPUMicrosPerWrite > 0 {
					cpu, cores = fmt.Sprintf("%.0f", r.CPUMicrosPerWrite), fmt.Sprintf("%.2f", r.Cores)
				}
				t.add(fmt.Sprint(r.Writers), fmt.Sprint(r.Committed), fmt.Sprintf("%.0f", r.PerSecond), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms), fmt.Sprintf("%.0f", r.MaxMs), fmt.Sprint(r.Unavailable), cpu, cores)
			}
			t.print(f.Out)
			if p := rep.Push; p != nil {
				fmt.Fprintf(f.Out, "乡镇批量推送（%d 个乡镇，共 %d 批，每批 ≤%d 个事件）：%d 个事件，每秒 %.0f 个；每批 p50 %.2f ms，p99 %.2f ms\n",
					p.Townships, p.Batches, o.BatchEvents, p.Events, p.PerSecond, p.P50Ms, p.P99Ms)
			}
			if len(rep.FailoverMs) > 0 {
				fmt.Fprintf(f.Out, "主节点 kill -9 → 下一次确认写入（%d 次）：%v ms，中位数 %.2f 秒\n", len(rep.FailoverMs), rep.FailoverMs, rep.FailoverMedianS)
			}
			return nil
		},
	}
	cmd.Flags().IntSliceVar(&o.Writers, "writers", []int{1, 16, 64}, "concurrent writers, one run each")
	cmd.Flags().DurationVar(&o.Duration, "duration", 5*time.Second, "length of each run")
	cmd.Flags().IntVar(&o.PushTownships, "push-townships", 4, "townships pushing at once (0: no push run)")
	cmd.Flags().IntVar(&o.PushBatches, "push-batches", 5, "batches each township pushes")
	cmd.Flags().IntVar(&o.BatchEvents, "batch-events", 500, "events per pushed batch")
	cmd.Flags().IntVar(&o.Kills, "kills", 5, "leader kills to time (0: none)")
	cmd.Flags().StringVar(&o.Binary, "binary", "", "jiujin executable for the member processes (default: this one)")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the in-process runs to this file")
	cmd.Flags().BoolVar(&o.H2C, "h2c", false, "writers speak HTTP/2 without TLS (h2c), as nodes do to one another, instead of the command line's HTTP/1.1")
	cmd.Flags().StringVar(&members, "members", "", "measure this running group (its members' URLs, comma-separated) instead of one in this process")
	_ = cmd.Flags().MarkHidden("binary")
	return cmd
}

// benchGroup is a three-member county group in this process.
type benchGroup struct {
	ms []*node.Node
	hc jiujinv1connect.ClusterServiceClient
}

func startBenchGroup(dir string, cal *delegation.Calendar) (*benchGroup, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := &benchGroup{}
	for i := 0; i < 3; i++ {
		raftAddr, err := freeport.Loopback()
		if err != nil {
			g.close()
			return nil, err
		}
		rc := &node.RaftConfig{Listen: raftAddr, Bootstrap: i == 0}
		if i > 0 {
			rc.Join = []string{g.ms[0].URL()}
		}
		n, err := node.Start(node.Config{Unit: tiers.MustParse(DemoCounty), Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, fmt.Sprint(i)),
			Calendar: cal, Logger: quiet, Raft: rc})
		if err != nil {
			g.close()
			return nil, err
		}
		g.ms = append(g.ms, n)
	}
	return g, nil
}

func (g *benchGroup) urls() []string {
	var out []string
	for _, n := range g.ms {
		out = append(out, n.URL())
	}
	return out
}

func (g *benchGroup) close() {
	var wg gosync.WaitGroup
	for _, n := range g.ms {
		wg.Add(1)
		go func() { defer wg.Done(); n.Shutdown(context.Background()) }()
	}
	wg.Wait()
}

// groupLeader waits for one of urls to lead a group of exactly those
// members and returns its URL.
func groupLeader(ctx context.Context, urls []string, timeout time.Duration) (string, error) {
	hc := client.NewHTTPClient()
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, u := range urls {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			s, err := jiujinv1connect.NewClusterServiceClient(hc, u).GetClusterStatus(cctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
			cancel()
			if err == nil && s.Msg.GetLeader() == u && len(s.Msg.GetMembers()) == len(urls) {
				return u, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("no member leads a group of the %d members %v after %s", len(urls), urls, timeout)
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
	catalog, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return nil, err
	}
	rep := &BenchCountyReport{}
	if len(o.Members) > 0 {
		err = benchCountyMembers(ctx, o, dir, cal, catalog, rep)
	} else {
		err = benchCountyInProcess(ctx, o, filepath.Join(dir, "group"), cal, catalog, rep)
	}
	if err != nil {
		return nil, err
	}
	if o.Kills > 0 {
		if rep.FailoverMs, err = benchFailover(ctx, o, filepath.Join(dir, "procs"), catalog); err != nil {
			return nil, fmt.Errorf("failover: %w", err)
		}
		s := append([]float64(nil), rep.FailoverMs...)
		sort.Float64s(s)
		rep.FailoverMedianS = s[len(s)/2] / 1000
	}
	return rep, nil
}

// benchCountyInProcess runs the writers and the pushes against a group in
// this process.
func benchCountyInProcess(ctx context.Context, o *BenchCountyOptions, dir string, cal *delegation.Calendar, catalog *pb.ImportCatalogRequest, rep *BenchCountyReport) error {
	g, err := startBenchGroup(dir, cal)
	if err != nil {
		return err
	}
	defer g.close()
	leaderURL, err := groupLeader(ctx, g.urls(), 30*time.Second)
	if err != nil {
		return err
	}
	target := benchTarget{urls: g.urls(), leader: leaderURL, county: DemoCounty, groupID: g.ms[0].Store.NodeID()}
	return benchRuns(ctx, o, target, filepath.Join(dir, "towns"), cal, catalog, rep)
}

// benchCountyMembers runs the writers and the pushes against a running
// group, which must hold no applications: the measurement writes its own.
func benchCountyMembers(ctx context.Context, o *BenchCountyOptions, dir string, cal *delegation.Calendar, catalog *pb.ImportCatalogRequest, rep *BenchCountyReport) error {
	hc := client.NewHTTPClient()
	defer hc.CloseIdleConnections()
	cs, err := jiujinv1connect.NewClusterServiceClient(hc, o.Members[0]).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
	if err != nil {
		return fmt.Errorf("--members: group status at %s: %w", o.Members[0], err)
	}
	var have []string
	for _, m := range cs.Msg.GetMembers() {
		have = append(have, m.GetId())
	}
	want := append([]string(nil), o.Members...)
	sort.Strings(have)
	sort.Strings(want)
	if !slices.Equal(have, want) {
		return fmt.Errorf("--members: 应列出集群的全部成员 %v，实为 %v", have, o.Members)
	}
	leaderURL, err := groupLeader(ctx, o.Members, 10*time.Second)
	if err != nil {
		return fmt.Errorf("--members: %w", err)
	}
	st, err := jiujinv1connect.NewNodeServiceClient(hc, leaderURL).GetStatus(ctx, connect.NewRequest(&pb.GetStatusRequest{}))
	if err != nil {
		return fmt.Errorf("--members: status of %s: %w", leaderURL, err)
	}
	if n := st.Msg.GetApplications(); n > 0 {
		return fmt.Errorf("--members: 集群已有 %d 件办件：基准测试会写入大量测试办件，只能在为测量而新建的集群上运行", n)
	}
	target := benchTarget{urls: o.Members, leader: leaderURL, county: st.Msg.GetUnit(), groupID: st.Msg.GetNodeId()}
	return benchRuns(ctx, o, target, filepath.Join(dir, "towns"), cal, catalog, rep)
}

// benchTarget is the group measured.
type benchTarget struct {
	urls    []string // every member
	leader  string
	county  string // the group's unit
	groupID string // the group's node id
}

// benchRuns imports the seed catalog at the group, then runs the writers
// and the pushes.
func benchRuns(ctx context.Context, o *BenchCountyOptions, g benchTarget, townDir string, cal *delegation.Calendar, catalog *pb.ImportCatalogRequest, rep *BenchCountyReport) error {
	hc := client.NewHTTPClient()
	defer hc.CloseIdleConnections()
	if _, err := jiujinv1connect.NewCatalogServiceClient(hc, g.leader).ImportCatalog(ctx, connect.NewRequest(catalog)); err != nil {
		return fmt.Errorf("import the seed catalog: %w", err)
	}
	stopProfile, err := startCPUProfile(o.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	for _, w := range o.Writers {
		cpu0, cpuOK := processCPU()
		run, err := benchWriters(ctx, g.leader, w, o.Duration, o.H2C)
		if err != nil {
			return fmt.Errorf("%d writers: %w", w, err)
		}
		if cpu1, _ := processCPU(); cpuOK && len(o.Members) == 0 && run.Committed > 0 {
			used := cpu1 - cpu0
			run.CPUMicrosPerWrite = float64(used.Microseconds()) / float64(run.Committed)
			run.Cores = used.Seconds() / run.Seconds
		}
		rep.Runs = append(rep.Runs, *run)
	}
	if o.PushTownships > 0 && o.PushBatches > 0 {
		if rep.Push, err = benchPush(ctx, o, g, townDir, cal); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
	return nil
}

// benchWriters runs w clients accepting applications at url for d, each
// speaking HTTP/1.1 as the command line does, or h2c.
func benchWriters(ctx context.Context, url string, w int, d time.Duration, h2c bool) (*BenchCountyRun, error) {
	var retried atomic.Int64
	countRetries := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if connect.CodeOf(err) == connect.CodeUnavailable {
				retried.Add(1)
			}
			return res, err
		}
	})
	var mu gosync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg gosync.WaitGroup
	for c := 0; c < w; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			// Each writer is a client of its own, on its own connection.
			hc := client.NewHTTPClient()
			if h2c {
				hc = client.NewH2CClient()
			}
			defer hc.CloseIdleConnections()
			// As the command line does: an idempotency key on every
			// write, asked again under it when the group answers
			// Unavailable (a leader changing); the write counts once, its
			// latency from the first try.
			apps := jiujinv1connect.NewApplicationServiceClient(hc, url,
				connect.WithInterceptors(client.RetryInterceptor(benchRetries, benchRetryWait), countRetries))
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
		return nil, firstErr
	}
	el := time.Since(start).Seconds()
	return &BenchCountyRun{Writers: w, Seconds: el, Committed: int64(len(lat)), PerSecond: float64(len(lat)) / el,
		P50Ms: pctMs(lat, 0.5), P99Ms: pctMs(lat, 0.99), MaxMs: pctMs(lat, 1), Unavailable: retried.Load()}, nil
}

// A writer asks again every tenth of a second, for up to five seconds: a
// leader change settles in about one.
const (
	benchRetries   = 50
	benchRetryWait = 100 * time.Millisecond
)

// benchPush starts townships under the group, lets the catalog reach them,
// cuts their links, has each accept a backlog, and then pushes each
// backlog to the leader in batches, the townships at once, timing every
// Push: it is answered only when the batch is committed by the group.
func benchPush(ctx context.Context, o *BenchCountyOptions, g benchTarget, dir string, cal *delegation.Calendar) (*BenchCountyPush, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	type town struct {
		n       *node.Node
		link    *sync.FaultTransport
		batches [][]*pb.Event
		lasts   []uint64
	}
	var towns []*town
	defer func() {
		var wg gosync.WaitGroup
		for _, t := range towns {
			wg.Add(1)
			go func() { defer wg.Done(); t.n.Shutdown(context.Background()) }()
		}
		wg.Wait()
	}()
	for i := 0; i < o.PushTownships; i++ {
		unit, err := tiers.Parse(fmt.Sprintf("%s%03d", g.county, 101+i))
		if err != nil {
			return nil, fmt.Errorf("township under %s: %w", g.county, err)
		}
		link := sync.NewFaultTransport(client.NewH2CClient().Transport, uint64(i))
		n, err := node.Start(node.Config{Unit: unit, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, string(unit)), Calendar: cal, Logger: quiet,
			Parents: g.urls, SyncTransport: link, NoSync: true})
		if err != nil {
			return nil, err
		}
		towns = append(towns, &town{n: n, link: link})
	}
	for _, t := range towns {
		if err := waitUntil(ctx, t.n.Store, 30*time.Second, func() bool {
			c, err := t.n.Store.Catalog()
			return err == nil && c.GetVersion() > 0
		}); err != nil {
			return nil, fmt.Errorf("catalog to %s: %w", t.n.Store.Unit(), err)
		}
		t.link.Set(sync.Faults{Cut: true})
	}
	// What a township pushes up: its own events that leave its subtree
	// (not those it pulled from the group).
	keepFor := func(unit tiers.Unit) func(ev *pb.Event, from string) bool {
		return func(ev *pb.Event, from string) bool {
			return from != g.groupID && sync.LeavesSubtree(ev.GetScope(), unit)
		}
	}
	backlog := func(t *town) (int, error) {
		n, keep := 0, keepFor(t.n.Store.Unit())
		for after := uint64(0); after < t.n.Store.FeedHead(); {
			evs, last, err := t.n.Store.ReadFeed(after, keep, o.BatchEvents, node.MaxBatchBytes)
			if err != nil {
				return 0, err
			}
			n, after = n+len(evs), last
		}
		return n, nil
	}
	// The backlogs: accepted at each township while its link is cut, as
	// many applications as make PushBatches full batches (an acceptance
	// may write more than one event: the first one tells how many; a pull
	// answered after the cut may still add the group's events to the
	// feed, which is why the backlog is counted, not the feed head).
	var wg gosync.WaitGroup
	errs := make([]error, len(towns))
	for ti, t := range towns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before, err := backlog(t)
			if err == nil {
				_, err = t.n.Store.Apply(ctx, benchAcceptCmd(ti*1000000))
			}
			after, err2 := backlog(t)
			if err = errors.Join(err, err2); err != nil {
				errs[ti] = err
				return
			}
			per := max(1, after-before)
			want := (o.PushBatches*o.BatchEvents + per - 1) / per
			var next gosync.Mutex
			k := 1
			var inner gosync.WaitGroup
			for c := 0; c < 8; c++ {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for {
						next.Lock()
						i := k
						k++
						next.Unlock()
						if i >= want {
							return
						}
						if _, err := t.n.Store.Apply(ctx, benchAcceptCmd(ti*1000000+i)); err != nil {
							errs[ti] = err
							return
						}
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("backlog: %w", err)
		}
	}
	for _, t := range towns {
		keep := keepFor(t.n.Store.Unit())
		for after := uint64(0); after < t.n.Store.FeedHead(); {
			evs, last, err := t.n.Store.ReadFeed(after, keep, o.BatchEvents, node.MaxBatchBytes)
			if err != nil {
				return nil, err
			}
			if len(evs) > 0 {
				t.batches, t.lasts = append(t.batches, evs), append(t.lasts, last)
			}
			after = last
		}
	}
	var mu gosync.Mutex
	var lat []time.Duration
	var events int64
	start := time.Now()
	for ti, t := range towns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := client.NewH2CClient() // a township's pushes, as nodes speak
			defer hc.CloseIdleConnections()
			c := jiujinv1connect.NewSyncServiceClient(hc, g.leader)
			self := t.n.Store.Self()
			after := uint64(0)
			for bi, evs := range t.batches {
				t0 := time.Now()
				res, err := c.Push(ctx, connect.NewRequest(&pb.PushRequest{Child: self, Events: evs, AfterPosition: after, LastPosition: t.lasts[bi]}))
				d := time.Since(t0)
				if err == nil && int(res.Msg.GetApplied()) != len(evs) {
					err = fmt.Errorf("batch %d: %d of %d events applied (%d duplicates, %d held, %d quarantined)", bi, res.Msg.GetApplied(), len(evs),
						res.Msg.GetDuplicates(), res.Msg.GetHeld(), res.Msg.GetQuarantined())
				}
				if err != nil {
					errs[ti] = err
					return
				}
				after = res.Msg.GetAckedPosition()
				mu.Lock()
				lat = append(lat, d)
				events += int64(len(evs))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return &BenchCountyPush{Townships: len(towns), Batches: len(lat), Events: events, PerSecond: float64(events) / el,
		P50Ms: pctMs(lat, 0.5), P99Ms: pctMs(lat, 0.99)}, nil
}
