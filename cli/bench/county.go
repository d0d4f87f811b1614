package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
)

// CountyConfig is a run of RunCounty (`bench county`).
type CountyConfig struct {
	// Writers are the concurrent writers, one run each.
	Writers []int
	// Duration is the length of each writers' run.
	Duration time.Duration
	// PushTownships push PushBatches batches of BatchEvents events each
	// (no push run if either of the first two is 0).
	PushTownships, PushBatches, BatchEvents int
	// Kills are the leader kills to time (0: none).
	Kills int
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
	// machines of their own, as deployed). Failover is not measured then:
	// Kills must be 0.
	Members []string
}

// Validate says what in c cannot be run, naming the flag.
func (c CountyConfig) Validate() error {
	if len(c.Members) > 0 && c.Kills > 0 {
		return errors.New("--kills: 不能用 --members 测量主节点切换（本命令不会杀死外部成员的进程）")
	}
	// A push run reads its batches off the feed BatchEvents at a time:
	// none at a time would never get to the end.
	if c.PushTownships > 0 && c.PushBatches > 0 && c.BatchEvents < 1 {
		return fmt.Errorf("--batch-events: %d 应为正数", c.BatchEvents)
	}
	return nil
}

// CountyRun is one writers' run of RunCounty.
type CountyRun struct {
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

// CountyPush is the townships' push run of RunCounty.
type CountyPush struct {
	Townships int     `json:"townships"`
	Batches   int     `json:"batches"`
	Events    int64   `json:"events"`
	PerSecond float64 `json:"perSecond"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// CountyReport is the answer of RunCounty.
type CountyReport struct {
	Runs            []CountyRun `json:"runs"`
	Push            *CountyPush `json:"push,omitempty"`
	FailoverMs      []float64   `json:"failoverMs"`
	FailoverMedianS float64     `json:"failoverMedianSeconds"`
}

// RunCounty measures a three-member county group, fsync on: concurrent
// writers at the leader, then townships pushing their backlogs in batches
// (if PushTownships and PushBatches), then, Kills times, the time from the
// leader's kill -9 to the next write acknowledged at a survivor (members as
// processes of Binary). The group is one in this process, or, with
// Members, a running one, which is left running.
func RunCounty(ctx context.Context, cfg CountyConfig) (*CountyReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
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
	rep := &CountyReport{}
	if len(cfg.Members) > 0 {
		err = countyMembers(ctx, cfg, dir, cal, catalog, rep)
	} else {
		err = countyInProcess(ctx, cfg, filepath.Join(dir, "group"), cal, catalog, rep)
	}
	if err != nil {
		return nil, err
	}
	if cfg.Kills > 0 {
		if rep.FailoverMs, err = runFailover(ctx, cfg, filepath.Join(dir, "procs"), catalog); err != nil {
			return nil, fmt.Errorf("failover: %w", err)
		}
		s := append([]float64(nil), rep.FailoverMs...)
		sort.Float64s(s)
		rep.FailoverMedianS = s[len(s)/2] / 1000
	}
	return rep, nil
}

// countyInProcess runs the writers and the pushes against a group in
// this process.
func countyInProcess(ctx context.Context, cfg CountyConfig, dir string, cal *delegation.Calendar, catalog *pb.ImportCatalogRequest, rep *CountyReport) error {
	g, err := StartGroup(dir, cal)
	if err != nil {
		return err
	}
	defer g.Close()
	leaderURL, err := GroupLeader(ctx, g.URLs(), 30*time.Second)
	if err != nil {
		return err
	}
	target := groupTarget{urls: g.URLs(), leader: leaderURL, county: seed.County, groupID: g.Members[0].Store.NodeID()}
	return countyRuns(ctx, cfg, target, filepath.Join(dir, "towns"), cal, catalog, rep)
}

// countyMembers runs the writers and the pushes against a running
// group, which must hold no applications: the measurement writes its own.
func countyMembers(ctx context.Context, cfg CountyConfig, dir string, cal *delegation.Calendar, catalog *pb.ImportCatalogRequest, rep *CountyReport) error {
	hc := client.NewHTTPClient(nil)
	defer hc.CloseIdleConnections()
	cs, err := jiujinv1connect.NewClusterServiceClient(hc, cfg.Members[0]).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
	if err != nil {
		return fmt.Errorf("--members: group status at %s: %w", cfg.Members[0], err)
	}
	var have []string
	for _, m := range cs.Msg.GetMembers() {
		have = append(have, m.GetId())
	}
	want := append([]string(nil), cfg.Members...)
	sort.Strings(have)
	sort.Strings(want)
	if !slices.Equal(have, want) {
		return fmt.Errorf("--members: 应列出集群的全部成员 %v，实为 %v", have, cfg.Members)
	}
	leaderURL, err := GroupLeader(ctx, cfg.Members, 10*time.Second)
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
	target := groupTarget{urls: cfg.Members, leader: leaderURL, county: st.Msg.GetUnit(), groupID: st.Msg.GetNodeId()}
	return countyRuns(ctx, cfg, target, filepath.Join(dir, "towns"), cal, catalog, rep)
}

// groupTarget is the group measured.
type groupTarget struct {
	urls    []string // every member
	leader  string
	county  string // the group's unit
	groupID string // the group's node id
}

// countyRuns imports the seed catalog at the group, then runs the writers
// and the pushes.
func countyRuns(ctx context.Context, cfg CountyConfig, g groupTarget, townDir string, cal *delegation.Calendar, catalog *pb.ImportCatalogRequest, rep *CountyReport) error {
	hc := client.NewHTTPClient(nil)
	defer hc.CloseIdleConnections()
	if _, err := jiujinv1connect.NewCatalogServiceClient(hc, g.leader).ImportCatalog(ctx, connect.NewRequest(catalog)); err != nil {
		return fmt.Errorf("import the seed catalog: %w", err)
	}
	stopProfile, err := StartCPUProfile(cfg.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	for _, w := range cfg.Writers {
		cpu0, cpuOK := processCPU()
		run, err := runWriters(ctx, g.leader, w, cfg.Duration, cfg.H2C)
		if err != nil {
			return fmt.Errorf("%d writers: %w", w, err)
		}
		if cpu1, _ := processCPU(); cpuOK && len(cfg.Members) == 0 && run.Committed > 0 {
			used := cpu1 - cpu0
			run.CPUMicrosPerWrite = float64(used.Microseconds()) / float64(run.Committed)
			run.Cores = used.Seconds() / run.Seconds
		}
		rep.Runs = append(rep.Runs, *run)
	}
	if cfg.PushTownships > 0 && cfg.PushBatches > 0 {
		if rep.Push, err = runPush(ctx, cfg, g, townDir, cal); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
	return nil
}

// runWriters runs w clients accepting applications at url for d, each
// speaking HTTP/1.1 as the command line does, or h2c.
func runWriters(ctx context.Context, url string, w int, d time.Duration, h2c bool) (*CountyRun, error) {
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
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < w; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			// Each writer is a client of its own, on its own connection.
			hc := client.NewHTTPClient(nil)
			if h2c {
				hc = client.NewH2CClient()
			}
			defer hc.CloseIdleConnections()
			// As the command line does: an idempotency key on every
			// write, asked again under it when the group answers
			// Unavailable (a leader changing); the write counts once, its
			// latency from the first try.
			apps := jiujinv1connect.NewApplicationServiceClient(hc, url,
				connect.WithInterceptors(client.RetryInterceptor(writerRetries, writerRetryWait), countRetries))
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				_, err := apps.AcceptApplication(ctx, connect.NewRequest(acceptCmd(c*100000+i).GetAccept()))
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
	return &CountyRun{Writers: w, Seconds: el, Committed: int64(len(lat)), PerSecond: float64(len(lat)) / el,
		P50Ms: pctMs(lat, 0.5), P99Ms: pctMs(lat, 0.99), MaxMs: pctMs(lat, 1), Unavailable: retried.Load()}, nil
}

// A writer asks again every tenth of a second, for up to five seconds: a
// leader change settles in about one.
const (
	writerRetries   = 50
	writerRetryWait = 100 * time.Millisecond
)
