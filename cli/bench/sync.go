package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	gosync "sync"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// SyncConfig is a run of RunSync (`bench sync`).
type SyncConfig struct {
	// Iterations are the latency samples.
	Iterations int
	// CatchUp is the number of events accumulated at the cut-off village.
	CatchUp int
	// Shaped: also run the catch-up through a 1 Mbit/s, 150 ms RTT link.
	Shaped bool
	// CPUProfile, if set, is where the run's CPU profile goes.
	CPUProfile string
	// TLS: the nodes speak mutual TLS with certificates of a CA made for
	// the run, as deployed (false: insecure, h2c).
	TLS bool
}

// Validate says what in c cannot be run, naming the flag.
func (c SyncConfig) Validate() error {
	// The backlog is accepted by backlogWriters at once, two events an
	// application; fewer events than that make no backlog, and the run
	// would wait minutes for an application that does not exist.
	if c.CatchUp < 2*backlogWriters {
		return fmt.Errorf("--catch-up: %d 太少，应不少于 %d（%d 个并发受理者各受理至少一件，每件两个事件）", c.CatchUp, 2*backlogWriters, backlogWriters)
	}
	return nil
}

// SyncReport is the answer of RunSync.
type SyncReport struct {
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

// tierNet is a county, a township and a village with instrumented links.
type tierNet struct {
	county, town, vill *node.Node
	villLink, townLink *sync.FaultTransport
	villWire, townWire *sync.WireCounter
}

func (b *tierNet) close() {
	for _, n := range []*node.Node{b.vill, b.town, b.county} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n.Shutdown(ctx)
		cancel()
	}
}

func startTierNet(dir string, secure bool) (*tierNet, error) {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	if err != nil {
		return nil, err
	}
	units := []string{seed.County, "330324101", "330324101201"}
	bundles := map[string]*auth.Bundle{}
	if secure {
		if bundles, err = benchCertificates(filepath.Join(dir, "ca"), units); err != nil {
			return nil, err
		}
	}
	client := func(unit string) *tls.Config {
		if b := bundles[unit]; b != nil {
			return b.ClientConfig()
		}
		return nil
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &tierNet{villWire: &sync.WireCounter{}, townWire: &sync.WireCounter{}}
	b.villLink = sync.NewFaultTransport(b.villWire.Transport(client(units[2])), 1)
	b.townLink = sync.NewFaultTransport(b.townWire.Transport(client(units[1])), 2)
	start := func(unit string, parent *node.Node, rt *sync.FaultTransport) (*node.Node, error) {
		cfg := node.Config{Insecure: !secure, TLS: bundles[unit], Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, unit), Calendar: cal, Logger: quiet,
			// Retry at once after a heal: the figures are transfer times,
			// not backoff sleeps.
			Sync: sync.Config{BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond}}
		if parent != nil {
			cfg.Parents, cfg.SyncTransport = []string{parent.URL()}, rt
		}
		return node.Start(cfg)
	}
	if b.county, err = start(seed.County, nil, nil); err != nil {
		return nil, err
	}
	if b.town, err = start(units[1], b.county, b.townLink); err != nil {
		return nil, err
	}
	if b.vill, err = start(units[2], b.town, b.villLink); err != nil {
		return nil, err
	}
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	if err != nil {
		return nil, err
	}
	if _, err := b.county.Apply(context.Background(), &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "bench",
		Op: &pb.Command_ImportCatalog{ImportCatalog: req}}); err != nil {
		return nil, err
	}
	return b, waitUntil(context.Background(), b.vill.Store, 30*time.Second, func() bool {
		c, err := b.vill.Rules.Catalog()
		return err == nil && c.GetVersion() > 0
	})
}

// RunSync runs a village, its township and the county in this process, on
// loopback, fsync on, each child's link through the fault and shaping
// layer (sync.FaultTransport) with its TCP bytes counted, and measures the
// latency over the tiers, the relay throughput of each hop, the catch-up of
// a backlog after a cut and, if asked, the catch-up through a shaped link.
func RunSync(ctx context.Context, cfg SyncConfig) (*SyncReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stop, err := StartCPUProfile(cfg.CPUProfile)
	if err != nil {
		return nil, err
	}
	defer stop()
	dir, err := os.MkdirTemp("", "jiujin-bench-sync-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rep := &SyncReport{Iterations: cfg.Iterations, CatchUpEvents: cfg.CatchUp}

	// Latency on live links.
	b, err := startTierNet(filepath.Join(dir, "live"), cfg.TLS)
	if err != nil {
		return nil, err
	}
	var oneWay, round []time.Duration
	wire0 := b.villWire.Total() + b.townWire.Total()
	for i := 0; i < cfg.Iterations; i++ {
		t0 := time.Now()
		out, err := b.vill.Apply(ctx, acceptCmd(i))
		if err != nil {
			b.close()
			return nil, err
		}
		id := out.(*pb.Application).GetId()
		if err := waitUntil(ctx, b.county.Store, 10*time.Second, stateIs(b.county.Rules, id, rules.StateReceived)); err != nil {
			b.close()
			return nil, fmt.Errorf("one way %s: %w", id, err)
		}
		oneWay = append(oneWay, time.Since(t0))
		if _, err := b.county.Apply(ctx, &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "bench",
			Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: id, Approve: true}}}); err != nil {
			b.close()
			return nil, err
		}
		if err := waitUntil(ctx, b.vill.Store, 10*time.Second, stateIs(b.vill.Rules, id, rules.StateApproved)); err != nil {
			b.close()
			return nil, fmt.Errorf("round trip %s: %w", id, err)
		}
		round = append(round, time.Since(t0))
	}
	// Per application: accepted + forwarded up two hops, received and
	// decided down two hops: 8 event-hops.
	rep.LiveBytesPerEvent = float64(b.villWire.Total()+b.townWire.Total()-wire0) / float64(8*cfg.Iterations)
	rep.OneWayP50Ms, rep.OneWayP99Ms = pctMs(oneWay, 0.5), pctMs(oneWay, 0.99)
	rep.RoundTripP50Ms, rep.RoundTripP99Ms = pctMs(round, 0.5), pctMs(round, 0.99)
	b.close()

	// Relay throughput per hop: both links cut, backlog, heal one hop at a time.
	b, err = startTierNet(filepath.Join(dir, "relay"), cfg.TLS)
	if err != nil {
		return nil, err
	}
	last, err := backlog(ctx, b, cfg.CatchUp)
	if err != nil {
		b.close()
		return nil, err
	}
	t0 := time.Now()
	b.villLink.Heal()
	if err := waitUntil(ctx, b.town.Store, 5*time.Minute, stateIs(b.town.Rules, last, rules.StateForwarded)); err != nil {
		b.close()
		return nil, fmt.Errorf("hop 1: %w", err)
	}
	rep.HopVillageTownship = float64(cfg.CatchUp) / time.Since(t0).Seconds()
	t0 = time.Now()
	b.townLink.Heal()
	if err := waitUntil(ctx, b.county.Store, 5*time.Minute, func() bool { return has(b.county.Rules, last) }); err != nil {
		b.close()
		return nil, fmt.Errorf("hop 2: %w", err)
	}
	rep.HopTownshipCounty = float64(cfg.CatchUp) / time.Since(t0).Seconds()
	b.close()

	// Catch-up through both hops at once.
	b, err = startTierNet(filepath.Join(dir, "catchup"), cfg.TLS)
	if err != nil {
		return nil, err
	}
	if last, err = backlog(ctx, b, cfg.CatchUp); err != nil {
		b.close()
		return nil, err
	}
	wire0 = b.villWire.Total() + b.townWire.Total()
	t0 = time.Now()
	b.villLink.Heal()
	b.townLink.Heal()
	if err := waitUntil(ctx, b.county.Store, 5*time.Minute, func() bool { return has(b.county.Rules, last) }); err != nil {
		b.close()
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	rep.CatchUpSeconds = time.Since(t0).Seconds()
	// Let the county's "received" events flow back down, then count: the
	// backlog up two hops, one received per application down two hops.
	if err := waitUntil(ctx, b.vill.Store, 5*time.Minute, stateIs(b.vill.Rules, last, rules.StateReceived)); err != nil {
		b.close()
		return nil, fmt.Errorf("catch-up, way back: %w", err)
	}
	rep.CatchUpBytesPerEvent = float64(b.villWire.Total()+b.townWire.Total()-wire0) / float64(2*cfg.CatchUp+2*cfg.CatchUp/2)
	b.close()

	if cfg.Shaped {
		b, err = startTierNet(filepath.Join(dir, "shaped"), cfg.TLS)
		if err != nil {
			return nil, err
		}
		if last, err = backlog(ctx, b, cfg.CatchUp); err != nil {
			b.close()
			return nil, err
		}
		const bandwidth, rtt = 125000, 150 * time.Millisecond // 1 Mbit/s
		b.townLink.Heal()
		w0 := b.villWire.Total()
		r0 := b.villLink.Requests.Load()
		t0 = time.Now()
		b.villLink.Set(sync.Faults{Bandwidth: bandwidth, RTT: rtt})
		if err := waitUntil(ctx, b.county.Store, 10*time.Minute, func() bool { return has(b.county.Rules, last) }); err != nil {
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

// backlogWriters accept a backlog at the village at once.
const backlogWriters = 16

// backlog cuts both links and accepts n/2 applications at the village (n
// events: accepted and forwarded); it returns the last application's id.
func backlog(ctx context.Context, b *tierNet, n int) (string, error) {
	b.villLink.Set(sync.Faults{Cut: true})
	b.townLink.Set(sync.Faults{Cut: true})
	var mu gosync.Mutex
	last := ""
	var wg gosync.WaitGroup
	errs := make(chan error, backlogWriters)
	per := n / 2 / backlogWriters
	for c := 0; c < backlogWriters; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				out, err := b.vill.Apply(ctx, acceptCmd(c*per+i))
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

// benchCertificates makes a CA in dir and a node certificate for each unit
// on 127.0.0.1, loaded as a node loads its own.
func benchCertificates(dir string, units []string) (map[string]*auth.Bundle, error) {
	ca, err := auth.InitCA(dir, tiers.MustParse(seed.County), time.Now())
	if err != nil {
		return nil, err
	}
	out := map[string]*auth.Bundle{}
	for _, u := range units {
		cert, key, err := ca.Issue(auth.IssueRequest{Unit: tiers.MustParse(u), Role: auth.RoleNode, Hosts: []string{"127.0.0.1"}, Now: time.Now()})
		if err != nil {
			return nil, err
		}
		tlsDir := filepath.Join(dir, "tls-"+u)
		if err := auth.WriteNodeDir(tlsDir, ca.CertPEM(), cert, key); err != nil {
			return nil, err
		}
		if out[u], err = auth.LoadBundle(tlsDir, time.Now()); err != nil {
			return nil, err
		}
	}
	return out, nil
}
