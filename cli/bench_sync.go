package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	gosync "sync"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// BenchSyncOptions are the flags of `bench sync`.
type BenchSyncOptions struct {
	Iterations int
	CatchUp    int
	Shaped     bool
	CPUProfile string
}

// BenchSyncReport is the answer of `bench sync`.
type BenchSyncReport struct {
	Iterations        int     `json:"iterations"`
	OneWayP50Ms       float64 `json:"oneWayP50Ms"`
	OneWayP99Ms       float64 `json:"oneWayP99Ms"`
	RoundTripP50Ms    float64 `json:"roundTripP50Ms"`
	RoundTripP99Ms    float64 `json:"roundTripP99Ms"`
	LiveBytesPerEvent float64 `json:"liveBytesPerEventHop"`

	CatchUpEvents        int     `json:"catchUpEvents"`
	HopVillageTownship   float64 `json:"hopVillageTownshipPerSecond"`
	HopTownshipCounty    float64 `json:"hopTownshipCountyPerSecond"`
	CatchUpSeconds       float64 `json:"catchUpSeconds"`
	CatchUpBytesPerEvent float64 `json:"catchUpBytesPerEventHop"`

	ShapedSeconds   float64 `json:"shapedSeconds,omitempty"`
	ShapedBytes     int64   `json:"shapedBytes,omitempty"`
	ShapedPredicted float64 `json:"shapedPredictedSeconds,omitempty"`
	ShapedPushes    int64   `json:"shapedPushes,omitempty"`
}

func newBenchSyncCmd(f *Factory) *cobra.Command {
	o := &BenchSyncOptions{}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "同步：村→县单程与往返延迟、每跳转发吞吐、断线积压一万事件后的追平时间、每事件线上字节数、限速链路下的追平",
		Long: `bench sync runs a village, its township and the county in this process, on
loopback, fsync on, each child's link through the fault/shaping layer with its
TCP bytes counted, and measures:
  latency    village accepts -> the county has received it (one way), and
             -> the county decides -> the village sees the decision (round trip)
  relay      a village cut off while N events accumulate: events/s over the
             village-township hop, then over the township-county hop
  catch-up   the same backlog with both hops healed at once: time until the
             county holds it all, and TCP bytes per event per hop
  shaped     the catch-up through a 1 Mbit/s, 150 ms RTT village link, against
             bytes / bandwidth`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stop, err := startCPUProfile(o.CPUProfile)
			if err != nil {
				return err
			}
			defer stop()
			rep, err := benchSync(cmd.Context(), o)
			if err != nil {
				return err
			}
			if f.json() {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(f.Out, string(b))
				return nil
			}
			w := f.Out
			fmt.Fprintf(w, "延迟（%d 次）：村受理→县已接收 p50 %.2f ms，p99 %.2f ms；往返（→县办结→村可见）p50 %.2f ms，p99 %.2f ms\n",
				rep.Iterations, rep.OneWayP50Ms, rep.OneWayP99Ms, rep.RoundTripP50Ms, rep.RoundTripP99Ms)
			fmt.Fprintf(w, "实时同步每事件每跳线上字节：%.0f B\n", rep.LiveBytesPerEvent)
			fmt.Fprintf(w, "转发吞吐（积压 %d 个事件）：村→乡镇 %.0f 事件/秒，乡镇→县 %.0f 事件/秒\n", rep.CatchUpEvents, rep.HopVillageTownship, rep.HopTownshipCounty)
			fmt.Fprintf(w, "断线追平：重连后 %.2f 秒县里收齐；批量同步每事件每跳线上字节：%.0f B\n", rep.CatchUpSeconds, rep.CatchUpBytesPerEvent)
			if rep.ShapedSeconds > 0 {
				fmt.Fprintf(w, "限速链路（1 Mbit/s，RTT 150 ms）追平：%.2f 秒；村链路 %d 字节、%d 次请求；字节÷带宽 = %.2f 秒，实际多出 %.1f 个 RTT\n",
					rep.ShapedSeconds, rep.ShapedBytes, rep.ShapedPushes, rep.ShapedPredicted, (rep.ShapedSeconds-rep.ShapedPredicted)/0.150)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Iterations, "iterations", 300, "latency samples")
	cmd.Flags().IntVar(&o.CatchUp, "catch-up", 10000, "events accumulated at the cut-off village")
	cmd.Flags().BoolVar(&o.Shaped, "shaped", true, "also run the catch-up through a 1 Mbit/s, 150 ms RTT link")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	return cmd
}

// benchNet is a county, a township and a village with instrumented links.
type benchNet struct {
	county, town, vill *node.Node
	villLink, townLink *sync.FaultTransport
	villWire, townWire *sync.WireCounter
}

func (b *benchNet) close() {
	for _, n := range []*node.Node{b.vill, b.town, b.county} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n.Shutdown(ctx)
		cancel()
	}
}

func startBenchNet(dir string) (*benchNet, error) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &benchNet{villWire: &sync.WireCounter{}, townWire: &sync.WireCounter{}}
	b.villLink = sync.NewFaultTransport(b.villWire.Transport(), 1)
	b.townLink = sync.NewFaultTransport(b.townWire.Transport(), 2)
	start := func(unit string, parent *node.Node, rt *sync.FaultTransport) (*node.Node, error) {
		cfg := node.Config{Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, unit), Calendar: cal, Logger: quiet,
			// Retry at once after a heal: the figures are transfer times,
			// not backoff sleeps.
			Sync: sync.Config{BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond}}
		if parent != nil {
			cfg.Parents, cfg.SyncTransport = []string{parent.URL()}, rt
		}
		return node.Start(cfg)
	}
	if b.county, err = start(DemoCounty, nil, nil); err != nil {
		return nil, err
	}
	if b.town, err = start("330324101", b.county, b.townLink); err != nil {
		return nil, err
	}
	if b.vill, err = start("330324101201", b.town, b.villLink); err != nil {
		return nil, err
	}
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return nil, err
	}
	if _, err := b.county.Store.Apply(context.Background(), &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "bench",
		Op: &pb.Command_ImportCatalog{ImportCatalog: req}}); err != nil {
		return nil, err
	}
	return b, waitUntil(context.Background(), b.vill.Store, 30*time.Second, func() bool {
		c, err := b.vill.Store.Catalog()
		return err == nil && c.GetVersion() > 0
	})
}

// waitUntil waits for cond, re-checking at every commit of st.
func waitUntil(ctx context.Context, st *node.Store, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := st.Changed()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("timed out after %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func stateIs(st *node.Store, id, state string) func() bool {
	return func() bool { a, _, err := st.GetApplication(id); return err == nil && a.GetState() == state }
}

func benchAcceptCmd(i int) *pb.Command {
	idn := node.MakeIDNumber(fmt.Sprintf("3303241960%02d%02d%03d", 1+i%12, 1+i%28, i%1000))
	return &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "bench", Op: &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{
		MatterCode: "MZ-005", Applicant: &pb.Applicant{Name: "测试", IdNumber: idn}, Materials: []string{"居民身份证", "近期一寸免冠证件照"}}}}
}

func pctMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
}

func benchSync(ctx context.Context, o *BenchSyncOptions) (*BenchSyncReport, error) {
	dir, err := os.MkdirTemp("", "jiujin-bench-sync-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rep := &BenchSyncReport{Iterations: o.Iterations, CatchUpEvents: o.CatchUp}

	// Latency on live links.
	b, err := startBenchNet(filepath.Join(dir, "live"))
	if err != nil {
		return nil, err
	}
	var oneWay, round []time.Duration
	wire0 := b.villWire.Total() + b.townWire.Total()
	for i := 0; i < o.Iterations; i++ {
		t0 := time.Now()
		out, err := b.vill.Store.Apply(ctx, benchAcceptCmd(i))
		if err != nil {
			b.close()
			return nil, err
		}
		id := out.(*pb.Application).GetId()
		if err := waitUntil(ctx, b.county.Store, 10*time.Second, stateIs(b.county.Store, id, node.StateReceived)); err != nil {
			b.close()
			return nil, fmt.Errorf("one way %s: %w", id, err)
		}
		oneWay = append(oneWay, time.Since(t0))
		if _, err := b.county.Store.Apply(ctx, &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "bench",
			Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: id, Approve: true}}}); err != nil {
			b.close()
			return nil, err
		}
		if err := waitUntil(ctx, b.vill.Store, 10*time.Second, stateIs(b.vill.Store, id, node.StateApproved)); err != nil {
			b.close()
			return nil, fmt.Errorf("round trip %s: %w", id, err)
		}
		round = append(round, time.Since(t0))
	}
	// Per application: accepted + forwarded up two hops, received and
	// decided down two hops: 8 event-hops.
	rep.LiveBytesPerEvent = float64(b.villWire.Total()+b.townWire.Total()-wire0) / float64(8*o.Iterations)
	rep.OneWayP50Ms, rep.OneWayP99Ms = pctMs(oneWay, 0.5), pctMs(oneWay, 0.99)
	rep.RoundTripP50Ms, rep.RoundTripP99Ms = pctMs(round, 0.5), pctMs(round, 0.99)
	b.close()

	// Relay throughput per hop: both links cut, backlog, heal one hop at a time.
	b, err = startBenchNet(filepath.Join(dir, "relay"))
	if err != nil {
		return nil, err
	}
	last, err := backlog(ctx, b, o.CatchUp)
	if err != nil {
		b.close()
		return nil, err
	}
	t0 := time.Now()
	b.villLink.Heal()
	if err := waitUntil(ctx, b.town.Store, 5*time.Minute, stateIs(b.town.Store, last, node.StateForwarded)); err != nil {
		b.close()
		return nil, fmt.Errorf("hop 1: %w", err)
	}
	rep.HopVillageTownship = float64(o.CatchUp) / time.Since(t0).Seconds()
	t0 = time.Now()
	b.townLink.Heal()
	if err := waitUntil(ctx, b.county.Store, 5*time.Minute, func() bool { return has(b.county.Store, last) }); err != nil {
		b.close()
		return nil, fmt.Errorf("hop 2: %w", err)
	}
	rep.HopTownshipCounty = float64(o.CatchUp) / time.Since(t0).Seconds()
	b.close()

	// Catch-up through both hops at once.
	b, err = startBenchNet(filepath.Join(dir, "catchup"))
	if err != nil {
		return nil, err
	}
	if last, err = backlog(ctx, b, o.CatchUp); err != nil {
		b.close()
		return nil, err
	}
	wire0 = b.villWire.Total() + b.townWire.Total()
	t0 = time.Now()
	b.villLink.Heal()
	b.townLink.Heal()
	if err := waitUntil(ctx, b.county.Store, 5*time.Minute, func() bool { return has(b.county.Store, last) }); err != nil {
		b.close()
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	rep.CatchUpSeconds = time.Since(t0).Seconds()
	// Let the county's "received" events flow back down, then count: the
	// backlog up two hops, one received per application down two hops.
	if err := waitUntil(ctx, b.vill.Store, 5*time.Minute, stateIs(b.vill.Store, last, node.StateReceived)); err != nil {
		b.close()
		return nil, fmt.Errorf("catch-up, way back: %w", err)
	}
	rep.CatchUpBytesPerEvent = float64(b.villWire.Total()+b.townWire.Total()-wire0) / float64(2*o.CatchUp+2*o.CatchUp/2)
	b.close()

	if o.Shaped {
		b, err = startBenchNet(filepath.Join(dir, "shaped"))
		if err != nil {
			return nil, err
		}
		if last, err = backlog(ctx, b, o.CatchUp); err != nil {
			b.close()
			return nil, err
		}
		const bandwidth, rtt = 125000, 150 * time.Millisecond // 1 Mbit/s
		b.townLink.Heal()
		w0 := b.villWire.Total()
		r0 := b.villLink.Requests.Load()
		t0 = time.Now()
		b.villLink.Set(sync.Faults{Bandwidth: bandwidth, RTT: rtt})
		if err := waitUntil(ctx, b.county.Store, 10*time.Minute, func() bool { return has(b.county.Store, last) }); err != nil {
			b.close()
			return nil, fmt.Errorf("shaped catch-up: %w", err)
		}
		rep.ShapedSeconds = time.Since(t0).Seconds()
		rep.ShapedBytes = b.villWire.Total() - w0
		rep.ShapedPredicted = float64(rep.ShapedBytes) / bandwidth
		rep.ShapedPushes = b.villLink.Requests.Load() - r0
		b.close()
	}
	return rep, nil
}

func has(st *node.Store, id string) bool { _, _, err := st.GetApplication(id); return err == nil }

// backlog cuts both links and accepts n/2 applications at the village (n
// events: accepted and forwarded); it returns the last application's id.
func backlog(ctx context.Context, b *benchNet, n int) (string, error) {
	b.villLink.Set(sync.Faults{Cut: true})
	b.townLink.Set(sync.Faults{Cut: true})
	var mu gosync.Mutex
	last := ""
	var wg gosync.WaitGroup
	errs := make(chan error, 16)
	per := n / 2 / 16
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				out, err := b.vill.Store.Apply(ctx, benchAcceptCmd(c*per+i))
				if err != nil {
					errs <- err
					return
				}
				id := out.(*pb.Application).GetId()
				mu.Lock()
				if id > last {
					last = id
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}
	return last, nil
}

// startCPUProfile writes a CPU profile to path until the returned stop is
// called; an empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	var once gosync.Once
	return func() { once.Do(func() { pprof.StopCPUProfile(); fh.Close() }) }, nil
}
