package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	gosync "sync"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
)

// TreeConfig is a run of RunTree (`bench tree`).
type TreeConfig struct {
	// Townships, and Villages under each.
	Townships, Villages int
	// Apps are the working day's applications, accepted evenly over
	// Duration (a day compressed).
	Apps     int
	Duration time.Duration
	// Outage is how long the county, then one township, is down while
	// the villages go on accepting at the day's rate (0: neither).
	Outage time.Duration
	// Settle is the wait after start-up before Idle, the window over
	// which the county's idle cost is measured.
	Settle, Idle time.Duration
	// MemTableMiB is the badger memtable of each in-process node.
	MemTableMiB int
	// Seed draws the village of each application.
	Seed uint64
	// Binary is the jiujin executable the county process runs (default:
	// this program).
	Binary string
	// CPUProfile, if set, is where this process's CPU profile goes, and
	// the county process's beside it (CPUProfile + ".county").
	CPUProfile string
}

// Validate says what in c cannot be run, naming the flag.
func (c TreeConfig) Validate() error {
	switch {
	case c.Townships < 1 || c.Townships > 899:
		return fmt.Errorf("--townships: %d 应在 1 到 899 之间（乡镇段 101 起）", c.Townships)
	case c.Villages < 1 || c.Villages > 799:
		return fmt.Errorf("--villages: %d 应在 1 到 799 之间（村段 201 起）", c.Villages)
	case c.Apps < 1:
		return fmt.Errorf("--apps: %d 应为正数", c.Apps)
	case c.Duration <= 0:
		return fmt.Errorf("--duration: %s 应为正", c.Duration)
	case c.Outage < 0:
		return fmt.Errorf("--outage: %s 不能为负", c.Outage)
	case c.Idle <= 0:
		return fmt.Errorf("--idle: %s 应为正", c.Idle)
	case c.MemTableMiB < 1:
		return fmt.Errorf("--memtable: %d MiB 太小，应至少 1 MiB", c.MemTableMiB)
	}
	return nil
}

// Spread is a latency's distribution over nodes or applications.
type Spread struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	MaxMs float64 `json:"maxMs"`
}

func spreadOf(d []time.Duration) Spread {
	return Spread{N: len(d), P50Ms: pctMs(d, 0.5), P99Ms: pctMs(d, 0.99), MaxMs: pctMs(d, 1)}
}

// TreeFanOut is how long what the county publishes takes to reach every
// village: a catalog version (the top-level figures), a delegation grant
// and its revocation.
type TreeFanOut struct {
	Spread
	Grant  Spread `json:"grant"`
	Revoke Spread `json:"revoke"`
}

// TreeDay is the working day: accepted at villages, decided at the county
// or a township, the decision seen back at the window.
type TreeDay struct {
	Spread
	Accepted   int     `json:"accepted"`
	PerSecond  float64 `json:"perSecond"`
	AtTownship int     `json:"decidedAtTownships"`
	AtCounty   int     `json:"decidedAtCounty"`
	// The same end to end, of those decided at a township and at the
	// county.
	Township Spread `json:"township"`
	County   Spread `json:"county"`
	// Lost and Duplicated are counted over every application of the run
	// (the day, the herd and the township's morning), at the window and
	// at the county.
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
}

// TreeCost is what the county process pays for its children over a window.
type TreeCost struct {
	Seconds        float64 `json:"seconds"`
	CountyCPUShare float64 `json:"countyCpuShare"` // of one core
	PeakCores      float64 `json:"peakCores"`      // over half-second samples
	CountyRSSMiB   float64 `json:"countyRssMiB"`   // at the end of the window
	PeakRSSMiB     float64 `json:"peakRssMiB"`
	Goroutines     int     `json:"goroutines"`
	Connections    int     `json:"connections"`
}

// TreeCatchUp is a return after an outage: the backlog accepted while the
// node was down, and from its start until the county held every village's
// part of it (per village: the slowest and the median), until every
// village showed it 已送达县级, and until every decision was back.
type TreeCatchUp struct {
	Unit          string   `json:"unit"`
	OutageSeconds float64  `json:"outageSeconds"`
	Backlog       int      `json:"backlog"`
	CaughtUpMs    float64  `json:"caughtUpMs"`
	MedianChildMs float64  `json:"medianChildMs"`
	SlowestChild  string   `json:"slowestChild"`
	WindowKnowsMs float64  `json:"windowKnowsMs"`
	DecidedMs     float64  `json:"decidedMs"`
	Cost          TreeCost `json:"cost"`
	StartMs       float64  `json:"startMs"`
}

// TreeReport is the answer of RunTree.
type TreeReport struct {
	Townships    int         `json:"townships"`
	Villages     int         `json:"villages"`
	MemTableMiB  int         `json:"memTableMiB"`
	SetupSeconds float64     `json:"setupSeconds"`
	Idle         TreeCost    `json:"idle"`
	FanOut       TreeFanOut  `json:"fanOut"`
	WorkingDay   TreeDay     `json:"workingDay"`
	Load         TreeCost    `json:"load"`
	Herd         TreeCatchUp `json:"herd"`
	TownshipDown TreeCatchUp `json:"townshipDown"`
}

// Phases of the run, for the applications accepted in each.
const (
	phaseDay = iota
	phaseHerd
	phaseTownship
)

// RunTree starts a whole county on loopback — the county a node process
// of its own, its townships and villages nodes in this process, all with
// their stores (fsync on), TLS listeners, node certificates and signed
// events — and measures what the county publishes reaching every village,
// a working day end to end, what the county pays for its children idle
// and under load, the county's return after an outage (the herd), and a
// township's.
func RunTree(ctx context.Context, cfg TreeConfig) (*TreeReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "jiujin-bench-tree-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	stopProfile, err := StartCPUProfile(cfg.CPUProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	rep := &TreeReport{Townships: cfg.Townships, Villages: cfg.Townships * cfg.Villages, MemTableMiB: cfg.MemTableMiB}
	t0 := time.Now()
	t, err := startTreeNet(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer t.close()
	if err := t.waitVillages(ctx, 5*time.Minute, func(n *node.Node) bool {
		c, err := n.Rules.Catalog()
		dels, _ := n.Rules.Delegations(false, "MZ-005", "")
		return err == nil && c.GetVersion() > 0 && len(dels) == (cfg.Townships+1)/2
	}); err != nil {
		return nil, fmt.Errorf("seed reaching every village: %w", err)
	}
	rep.SetupSeconds = time.Since(t0).Seconds()
	bg, stop := context.WithCancel(ctx)
	var wg gosync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Add(1 + cfg.Townships + len(t.vills))
	go func() { defer wg.Done(); t.decideAtCounty(bg) }()
	for i := 0; i < cfg.Townships; i++ {
		go func(i int) { defer wg.Done(); t.decideAtTownship(bg, i) }(i)
	}
	for v := range t.vills {
		go func(v int) { defer wg.Done(); t.watchWindow(bg, v) }(v)
	}

	sleep(ctx, cfg.Settle)
	s := t.sample(ctx)
	sleep(ctx, cfg.Idle)
	rep.Idle = s.end(ctx)

	if rep.FanOut, err = t.fanOuts(ctx); err != nil {
		return nil, err
	}
	if rep.WorkingDay, rep.Load, err = t.workingDay(ctx); err != nil {
		return nil, err
	}
	if cfg.Outage > 0 {
		if rep.Herd, err = t.herd(ctx); err != nil {
			return nil, err
		}
		if rep.TownshipDown, err = t.townshipDown(ctx, cfg.Townships-1); err != nil {
			return nil, err
		}
	}
	rep.WorkingDay.Lost, rep.WorkingDay.Duplicated, err = t.check(ctx)
	return rep, err
}

// waitVillages waits until cond holds at every village.
func (t *treeNet) waitVillages(ctx context.Context, timeout time.Duration, cond func(*node.Node) bool) error {
	_, err := t.everyVillage(ctx, timeout, func() {}, cond)
	return err
}

// everyVillage runs act and measures, per village, the time until cond
// holds there.
func (t *treeNet) everyVillage(ctx context.Context, timeout time.Duration, act func(), cond func(*node.Node) bool) ([]time.Duration, error) {
	seen := make([]time.Time, len(t.vills))
	errs := make([]error, len(t.vills))
	var wg gosync.WaitGroup
	for i, n := range t.vills {
		wg.Add(1)
		go func(i int, n *node.Node) {
			defer wg.Done()
			if errs[i] = waitUntil(ctx, n.Store, timeout, func() bool { return cond(n) }); errs[i] == nil {
				seen[i] = time.Now()
			}
		}(i, n)
	}
	t0 := time.Now()
	act()
	wg.Wait()
	out := make([]time.Duration, len(seen))
	for i := range seen {
		if errs[i] != nil {
			return nil, fmt.Errorf("%s: %w", t.vills[i].Store.Unit(), errs[i])
		}
		out[i] = max(seen[i].Sub(t0), 0)
	}
	return out, nil
}

// fanOuts publishes a catalog version, grants a delegation and revokes it,
// each timed until every village holds it.
func (t *treeNet) fanOuts(ctx context.Context) (TreeFanOut, error) {
	var out TreeFanOut
	cur, err := t.vills[0].Rules.Catalog()
	if err != nil {
		return out, err
	}
	req, err := delegation.ParseCatalogYAML(strings.NewReader(string(seed.Catalog)))
	if err != nil {
		return out, err
	}
	req.Matters[0].Aliases = append(req.Matters[0].Aliases, "压测新版")
	var pubErr error
	d, err := t.everyVillage(ctx, 2*time.Minute, func() {
		_, pubErr = jiujinv1connect.NewCatalogServiceClient(t.hc, t.countyURL, t.admin).ImportCatalog(ctx, connect.NewRequest(req))
	}, func(n *node.Node) bool {
		c, err := n.Rules.Catalog()
		return err == nil && c.GetVersion() > cur.GetVersion()
	})
	if err = firstErr(pubErr, err); err != nil {
		return out, fmt.Errorf("catalog fan-out: %w", err)
	}
	out.Spread = spreadOf(d)

	dels := jiujinv1connect.NewDelegationServiceClient(t.hc, t.countyURL, t.admin)
	town := townCode(min(1, t.cfg.Townships-1))
	granted := func(n *node.Node) *pb.Delegation {
		ds, _ := n.Rules.Delegations(true, "MZ-006", town)
		for _, d := range ds {
			if d.GetUnit() == town {
				return d
			}
		}
		return nil
	}
	var id string
	d, err = t.everyVillage(ctx, 2*time.Minute, func() {
		var res *connect.Response[pb.GrantDelegationResponse]
		if res, pubErr = dels.GrantDelegation(ctx, connect.NewRequest(&pb.GrantDelegationRequest{MatterCode: "MZ-006", Unit: town, Mode: delegation.ModeEntrust})); pubErr == nil {
			id = res.Msg.GetDelegation().GetId()
		}
	}, func(n *node.Node) bool { return granted(n) != nil })
	if err = firstErr(pubErr, err); err != nil {
		return out, fmt.Errorf("grant fan-out: %w", err)
	}
	out.Grant = spreadOf(d)
	d, err = t.everyVillage(ctx, 2*time.Minute, func() {
		_, pubErr = dels.RevokeDelegation(ctx, connect.NewRequest(&pb.RevokeDelegationRequest{Id: id, Reason: "压测：撤销"}))
	}, func(n *node.Node) bool { g := granted(n); return g != nil && g.GetRevokedAt() != nil })
	if err = firstErr(pubErr, err); err != nil {
		return out, fmt.Errorf("revocation fan-out: %w", err)
	}
	out.Revoke = spreadOf(d)
	return out, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// all is every village's index.
func (t *treeNet) all() []int {
	out := make([]int, len(t.vills))
	for i := range out {
		out[i] = i
	}
	return out
}

// workingDay accepts the day's applications and waits for every decision
// back at its window; the county's cost is sampled meanwhile.
func (t *treeNet) workingDay(ctx context.Context) (TreeDay, TreeCost, error) {
	var day TreeDay
	t.setPhase(phaseDay)
	s := t.sample(ctx)
	start := time.Now()
	midday := make(chan [2]int, 1) // goroutines and connections at noon
	mid := time.AfterFunc(t.cfg.Duration/2, func() {
		midday <- [2]int{t.countyGoroutines(ctx), connectionsTo(t.countyPort())}
	})
	if _, err := t.acceptAt(ctx, t.cfg.Apps, t.cfg.Duration, t.all()); err != nil {
		mid.Stop()
		return day, TreeCost{}, err
	}
	day.PerSecond = float64(t.cfg.Apps) / time.Since(start).Seconds()
	left := t.waitDecided(ctx, 2*time.Minute+t.cfg.Duration/2)
	cost := s.end(ctx)
	mid.Stop()
	select {
	case m := <-midday:
		cost.Goroutines, cost.Connections = m[0], m[1]
	default:
	}
	var lat, atTown, atCounty []time.Duration
	t.appsMu.Lock()
	for _, o := range t.apps {
		if o.phase != phaseDay {
			continue
		}
		day.Accepted++
		if t.townOf(o.village)%2 == 0 {
			day.AtTownship++
		} else {
			day.AtCounty++
		}
		if o.decidedAt.IsZero() {
			continue
		}
		d := o.decidedAt.Sub(o.acceptedAt)
		lat = append(lat, d)
		if t.townOf(o.village)%2 == 0 {
			atTown = append(atTown, d)
		} else {
			atCounty = append(atCounty, d)
		}
	}
	t.appsMu.Unlock()
	day.Spread, day.Township, day.County = spreadOf(lat), spreadOf(atTown), spreadOf(atCounty)
	if left > 0 {
		return day, cost, fmt.Errorf("working day: %d 件在 %s 后仍未在受理窗口看到办结", left, 2*time.Minute+t.cfg.Duration/2)
	}
	return day, cost, nil
}

func (t *treeNet) setPhase(p int) {
	t.appsMu.Lock()
	t.phase = p
	t.appsMu.Unlock()
}

func (t *treeNet) countyPort() int {
	var port int
	fmt.Sscanf(t.countyAddr[strings.LastIndexByte(t.countyAddr, ':')+1:], "%d", &port)
	return port
}
