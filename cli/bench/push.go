package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	gosync "sync"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// runPush starts townships under the group, lets the catalog reach them,
// cuts their links, has each accept a backlog, and then pushes each
// backlog to the leader in batches, the townships at once, timing every
// Push: it is answered only when the batch is committed by the group.
func runPush(ctx context.Context, cfg CountyConfig, g groupTarget, dir string, cal *delegation.Calendar) (*CountyPush, error) {
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
	for i := 0; i < cfg.PushTownships; i++ {
		unit, err := tiers.Parse(fmt.Sprintf("%s%03d", g.county, 101+i))
		if err != nil {
			return nil, fmt.Errorf("township under %s: %w", g.county, err)
		}
		link := sync.NewFaultTransport(client.NewH2CClient().Transport, uint64(i))
		n, err := node.Start(node.Config{Insecure: true, Unit: unit, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, string(unit)), Calendar: cal, Logger: quiet,
			Parents: g.urls, SyncTransport: link, NoSync: true})
		if err != nil {
			return nil, err
		}
		towns = append(towns, &town{n: n, link: link})
	}
	for _, t := range towns {
		if err := waitUntil(ctx, t.n.Store, 30*time.Second, func() bool {
			c, err := t.n.Rules.Catalog()
			return err == nil && c.GetVersion() > 0
		}); err != nil {
			return nil, fmt.Errorf("catalog to %s: %w", t.n.Rules.Unit(), err)
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
		n, keep := 0, keepFor(t.n.Rules.Unit())
		for after := uint64(0); after < t.n.Store.FeedHead(); {
			evs, last, err := t.n.Store.ReadFeed(after, keep, cfg.BatchEvents, sync.MaxBatchBytes)
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
				_, err = t.n.Apply(ctx, acceptCmd(ti*1000000))
			}
			after, err2 := backlog(t)
			if err = errors.Join(err, err2); err != nil {
				errs[ti] = err
				return
			}
			per := max(1, after-before)
			want := (cfg.PushBatches*cfg.BatchEvents + per - 1) / per
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
						if _, err := t.n.Apply(ctx, acceptCmd(ti*1000000+i)); err != nil {
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
		keep := keepFor(t.n.Rules.Unit())
		for after := uint64(0); after < t.n.Store.FeedHead(); {
			evs, last, err := t.n.Store.ReadFeed(after, keep, cfg.BatchEvents, sync.MaxBatchBytes)
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
	return &CountyPush{Townships: len(towns), Batches: len(lat), Events: events, PerSecond: float64(events) / el,
		P50Ms: pctMs(lat, 0.5), P99Ms: pctMs(lat, 0.99)}, nil
}
