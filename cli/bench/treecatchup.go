package bench

import (
	"context"
	"fmt"
	"sort"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/rules"
)

// herd stops the county (SIGKILL) for the outage while the villages go on
// accepting at the day's rate, starts it again, and times the catch-up.
func (t *treeNet) herd(ctx context.Context) (TreeCatchUp, error) {
	out := TreeCatchUp{Unit: seed.County, OutageSeconds: t.cfg.Outage.Seconds()}
	t.setPhase(phaseHerd)
	t.killCounty()
	n := max(1, int(int64(t.cfg.Apps)*int64(t.cfg.Outage)/int64(t.cfg.Duration)))
	last, err := t.acceptAt(ctx, n, t.cfg.Outage, t.all())
	if err != nil {
		return out, err
	}
	out.Backlog = n
	t0 := time.Now()
	if err := t.startCounty(ctx, t.countyAddr); err != nil {
		return out, fmt.Errorf("county again: %w", err)
	}
	out.StartMs = msSince(t0)
	s := t.sample(ctx)
	if err := t.catchUp(ctx, &out, t0, last, phaseHerd); err != nil {
		return out, err
	}
	out.Cost = s.end(ctx)
	return out, nil
}

// townshipDown stops township i for the outage while its villages go on
// accepting (a morning's share of the day), starts it again and times the
// catch-up.
func (t *treeNet) townshipDown(ctx context.Context, i int) (TreeCatchUp, error) {
	out := TreeCatchUp{Unit: townCode(i), OutageSeconds: t.cfg.Outage.Seconds()}
	t.setPhase(phaseTownship)
	t.mu.Lock()
	n := t.towns[i]
	t.towns[i] = nil
	t.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	n.Shutdown(sctx)
	cancel()
	var among []int
	for v := range t.vills {
		if t.townOf(v) == i {
			among = append(among, v)
		}
	}
	out.Backlog = max(len(among), t.cfg.Apps/(2*t.cfg.Townships))
	last, err := t.acceptAt(ctx, out.Backlog, t.cfg.Outage, among)
	if err != nil {
		return out, err
	}
	t0 := time.Now()
	n, err = node.Start(t.townCfg[i])
	if err != nil {
		return out, fmt.Errorf("township %s again: %w", townCode(i), err)
	}
	out.StartMs = msSince(t0)
	t.mu.Lock()
	t.towns[i] = n
	t.mu.Unlock()
	s := t.sample(ctx)
	if err := t.catchUp(ctx, &out, t0, last, phaseTownship); err != nil {
		return out, err
	}
	out.Cost = s.end(ctx)
	return out, nil
}

// catchUp times, from t0, each village's last application of the outage
// reaching the county, then the same shown at the window, then every
// decision of the phase back at its window.
func (t *treeNet) catchUp(ctx context.Context, out *TreeCatchUp, t0 time.Time, last map[int]string, phase int) error {
	per, err := pollVillages(ctx, last, 5*time.Minute, t.countyHolds)
	if err != nil {
		return fmt.Errorf("%s: county holding the backlog: %w", out.Unit, err)
	}
	var slowest int
	var ds []time.Duration
	for v, at := range per {
		ds = append(ds, at.Sub(t0))
		if at.After(per[slowest]) || per[slowest].IsZero() {
			slowest = v
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	out.CaughtUpMs, out.MedianChildMs = pctMs(ds, 1), pctMs(ds, 0.5)
	out.SlowestChild = string(t.vills[slowest].Store.Unit())
	known, err := pollVillages(ctx, last, 2*time.Minute, t.windowKnows)
	if err != nil {
		return fmt.Errorf("%s: windows showing 已送达县级: %w", out.Unit, err)
	}
	for _, at := range known {
		out.WindowKnowsMs = max(out.WindowKnowsMs, float64(at.Sub(t0).Microseconds())/1000)
	}
	if left := t.waitDecided(ctx, 5*time.Minute); left > 0 {
		return fmt.Errorf("%s: %d 件仍未在受理窗口看到办结", out.Unit, left)
	}
	t.appsMu.Lock()
	for _, o := range t.apps {
		if o.phase == phase {
			out.DecidedMs = max(out.DecidedMs, float64(o.decidedAt.Sub(t0).Microseconds())/1000)
		}
	}
	t.appsMu.Unlock()
	return nil
}

// pollVillages checks cond(v, id) for each village's id every 20 ms and
// returns when each first held.
func pollVillages(ctx context.Context, ids map[int]string, timeout time.Duration, cond func(v int, id string) bool) (map[int]time.Time, error) {
	seen := map[int]time.Time{}
	deadline := time.Now().Add(timeout)
	for len(seen) < len(ids) {
		for v, id := range ids {
			if _, ok := seen[v]; !ok && cond(v, id) {
				seen[v] = time.Now()
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d villages not there after %s", len(ids)-len(seen), len(ids), timeout)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sleep(ctx, 20*time.Millisecond)
	}
	return seen, nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// check counts, over every application accepted in the run, those lost
// (not decided at their window, or unknown at the county) and those
// duplicated (listed twice at the county, decided twice, or more at a
// window than were accepted there).
func (t *treeNet) check(ctx context.Context) (lost, dup int, err error) {
	atCounty, err := t.countyApps(ctx)
	if err != nil {
		return 0, 0, err
	}
	perVillage := make([]int, len(t.vills))
	t.appsMu.Lock()
	defer t.appsMu.Unlock()
	for id, o := range t.apps {
		perVillage[o.village]++
		switch atCounty[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
		a, hist, err := t.vills[o.village].Rules.GetApplication(id)
		if err != nil || a.GetState() != rules.StateApproved {
			lost++
			continue
		}
		decided := 0
		for _, h := range hist {
			if h.GetKind() == rules.KindAppDecided {
				decided++
			}
		}
		if decided > 1 {
			dup++
		}
	}
	if len(atCounty) > len(t.apps) {
		dup += len(atCounty) - len(t.apps)
	}
	for v, n := range t.vills {
		if _, total, err := n.Rules.ListApplications(rules.AppFilter{Limit: 1}); err == nil && total > perVillage[v] {
			dup += total - perVillage[v]
		}
	}
	return lost, dup, nil
}

// countyApps lists every application the county holds, by id, with how
// many times each was listed.
func (t *treeNet) countyApps(ctx context.Context) (map[string]int, error) {
	apps := jiujinv1connect.NewApplicationServiceClient(t.hc, t.countyURL, t.approver.option())
	out := map[string]int{}
	for offset := 0; ; {
		res, err := apps.ListApplications(ctx, connect.NewRequest(&pb.ListApplicationsRequest{Limit: 1000, Offset: uint32(offset)}))
		if connect.CodeOf(err) == connect.CodeUnauthenticated {
			if err := t.approver.logIn(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list at the county: %w", err)
		}
		for _, a := range res.Msg.GetApplications() {
			out[a.GetId()]++
		}
		offset += len(res.Msg.GetApplications())
		if len(res.Msg.GetApplications()) == 0 || offset >= int(res.Msg.GetTotal()) {
			return out, nil
		}
	}
}
