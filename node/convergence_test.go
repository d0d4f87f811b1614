package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	gosync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/sync"
	"github.com/jiujin/jiujin/tiers"
)

// testNet is a county, two townships and two villages under each, every
// child's link going through its own fault-injecting transport.
type testNet struct {
	t      testing.TB
	clock  *testClock
	nodes  map[string]*testNode
	links  map[string]*sync.FaultTransport // by child unit
	dirs   map[string]string
	order  []string
	parent map[string]string
	seed   uint64
}

var netUnits = []string{"330324", "330324101", "330324102", "330324101201", "330324101202", "330324102201", "330324102202"}

func newTestNet(t testing.TB, seed uint64) *testNet {
	n := &testNet{t: t, seed: seed, clock: &testClock{t: at("2026-11-23", 9)}, nodes: map[string]*testNode{},
		links: map[string]*sync.FaultTransport{}, dirs: map[string]string{}, parent: map[string]string{}}
	for _, u := range netUnits {
		n.dirs[u] = t.TempDir()
		n.order = append(n.order, u)
		if p := tiers.Unit(u).Parent(); p != "" {
			n.parent[u] = string(p)
			protocols := new(http.Protocols)
			protocols.SetUnencryptedHTTP2(true)
			n.links[u] = sync.NewFaultTransport(&http.Transport{Protocols: protocols}, seed^hashUnit(u))
		}
		n.start(u)
	}
	t.Cleanup(n.close)
	return n
}

func hashUnit(u string) uint64 {
	v, _ := strconv.ParseUint(u, 10, 64)
	return v * 0x9e3779b97f4a7c15
}

func (n *testNet) start(u string) {
	if p, ok := n.parent[u]; ok {
		n.nodes[u] = startChildNoCleanup(n.t, u, []string{n.nodes[p].URL()}, n.links[u], n.clock, n.dirs[u])
		return
	}
	n.nodes[u] = startChildNoCleanup(n.t, u, nil, nil, n.clock, n.dirs[u])
}

// restart stops a node gracefully and starts it again on its data, on a
// new port; its children are restarted to point at the new address, and
// theirs in turn (a village whose township came back behind a restarted
// county would otherwise call the township's old port for ever).
func (n *testNet) restart(u string) {
	n.stop(u)
	n.start(u)
	for _, c := range n.order {
		if n.parent[c] == u {
			n.restart(c)
		}
	}
}

func (n *testNet) stop(u string) {
	nd := n.nodes[u]
	nd.hc.CloseIdleConnections()
	require.NoError(n.t, nd.Shutdown(context.Background()))
}

func (n *testNet) close() {
	var wg gosync.WaitGroup
	for _, nd := range n.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd.hc.CloseIdleConnections()
			nd.Shutdown(context.Background())
		}()
	}
	wg.Wait()
}

func startChildNoCleanup(t testing.TB, unit string, parents []string, rt http.RoundTripper, clock *testClock, dir string) *testNode {
	n, err := Start(Config{Insecure: true, Unit: tiers.MustParse(unit), Listen: "127.0.0.1:0", DataDir: dir, Parents: parents,
		Calendar: seedCalendar(t), Clock: clock, Logger: quietLogger(),
		SyncTransport: rt, Sync: sync.Config{BackoffMin: 5 * time.Millisecond, BackoffMax: 100 * time.Millisecond, PullWait: time.Second, MaxEvents: 50}})
	require.NoError(t, err)
	tn := &testNode{Node: n, clock: clock, dir: dir}
	tn.hc = &http.Client{}
	return tn
}

// universe is every event on any node, by id.
func (n *testNet) universe() map[string]*pb.Event {
	all := map[string]*pb.Event{}
	for _, nd := range n.nodes {
		evs, err := nd.Store.Events(0, 1<<30)
		require.NoError(n.t, err)
		for _, ev := range evs {
			all[fmt.Sprintf("%s/%d", ev.GetOrigin(), ev.GetSeq())] = ev
		}
	}
	return all
}

// converged checks the network's invariants and says what is wrong.
func (n *testNet) converged() error {
	all := n.universe()
	records := map[string]*pb.StoredRecord{}
	for _, u := range n.order {
		nd := n.nodes[u]
		evs, err := nd.Store.Events(0, 1<<30)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, ev := range evs {
			id := fmt.Sprintf("%s/%d", ev.GetOrigin(), ev.GetSeq())
			if have[id] {
				return fmt.Errorf("%s holds %s twice", u, id)
			}
			have[id] = true
			if !sync.ReachesSubtree(ev.GetScope(), tiers.Unit(u)) {
				return fmt.Errorf("%s holds %s (%s) outside its scope", u, id, ev.GetKind())
			}
		}
		for id, ev := range all {
			if sync.ReachesSubtree(ev.GetScope(), tiers.Unit(u)) && !have[id] {
				return fmt.Errorf("%s lacks %s (%s %s)", u, id, ev.GetKind(), ev.GetRecordKey())
			}
		}
		if q, held := nd.Store.SyncCounts(); q != 0 || held != 0 {
			list, _ := nd.Store.Quarantine(3)
			return fmt.Errorf("%s: %d quarantined, %d held back: %v", u, q, held, list)
		}
		// Every record equal on every node that holds it.
		for _, ev := range evs {
			key := ev.GetRecordKey()
			var rec *pb.StoredRecord
			if err := nd.Store.View(func(r store.Reader) error { var e error; rec, e = r.Record(key); return e }); err != nil {
				return err
			}
			if other, ok := records[key]; ok && !proto.Equal(other, rec) {
				return fmt.Errorf("record %s differs on %s (version %d vs %d)", key, u, rec.GetVersion(), other.GetVersion())
			}
			records[key] = rec
		}
	}
	return nil
}

// convergenceSeeds: a short slice by default; JIUJIN_LONG=1 runs hundreds;
// JIUJIN_SEED=n replays one.
func convergenceSeeds() []uint64 {
	if s := os.Getenv("JIUJIN_SEED"); s != "" {
		v, _ := strconv.ParseUint(s, 10, 64)
		return []uint64{v}
	}
	n := 3
	if os.Getenv("JIUJIN_LONG") != "" {
		n = 200
	}
	var out []uint64
	for i := 1; i <= n; i++ {
		out = append(out, uint64(i))
	}
	return out
}

func TestConvergenceUnderFaults(t *testing.T) {
	for _, seed := range convergenceSeeds() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runSchedule(t, seed, 60)
		})
	}
}

// runSchedule drives a network through a seeded schedule of faults and
// work, heals it, and requires exact convergence.
func runSchedule(t *testing.T, seed uint64, steps int) {
	defer func() {
		if t.Failed() {
			t.Logf("replay with: JIUJIN_SEED=%d go test ./node -run 'TestConvergenceUnderFaults' -v", seed)
		}
	}()
	net := newTestNet(t, seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	ctx := context.Background()
	_, err := net.nodes["330324"].Store.Apply(ctx, &pb.Command{NowMs: net.clock.Now().UnixMilli(), Actor: "县管理员",
		Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}})
	require.NoError(t, err)
	children := net.order[1:]
	acceptors := net.order[1:] // townships and villages accept
	for step := 0; step < steps; step++ {
		net.clock.Set(net.clock.Now().Add(time.Duration(rng.IntN(90)) * time.Minute))
		switch r := rng.IntN(20); {
		case r < 3: // a link misbehaves
			u := pick(rng, children)
			net.links[u].Set(randomFaults(rng))
		case r < 4: // a link heals
			net.links[pick(rng, children)].Heal()
		case r < 5 && step%7 == 0: // a node restarts
			net.restart(pick(rng, net.order))
		default:
			work(t, net, rng, acceptors)
		}
		time.Sleep(time.Duration(rng.IntN(8)) * time.Millisecond)
	}
	for _, l := range net.links {
		l.Heal()
	}
	var last error
	ok := waitFor(30*time.Second, func() bool { last = net.converged(); return last == nil })
	for _, l := range net.links {
		l.Wait()
	}
	require.True(t, ok, "seed %d did not converge: %v", seed, last)
	states := map[string]int{}
	as, _, err := net.nodes["330324"].Rules.ListApplications(rules.AppFilter{Limit: 1000})
	require.NoError(t, err)
	for _, a := range as {
		states[a.GetState()]++
	}
	var sent, failed int64
	for _, l := range net.links {
		sent += l.Requests.Load()
		failed += l.Failed.Load()
	}
	t.Logf("seed %d: %d events, applications by state %v, %d link requests (%d failed by faults)", seed, len(net.universe()), states, sent, failed)
	for _, u := range net.order {
		_, err := net.nodes[u].Store.Verify()
		require.NoError(t, err, u)
	}
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func randomFaults(rng *rand.Rand) sync.Faults {
	switch rng.IntN(5) {
	case 0:
		return sync.Faults{Cut: true}
	case 1:
		return sync.Faults{DropRequest: 0.3, DropResponse: 0.3}
	case 2:
		return sync.Faults{Duplicate: 0.5, Reorder: 0.5, MaxDelay: 20 * time.Millisecond}
	case 3:
		return sync.Faults{MaxDelay: 30 * time.Millisecond, DropResponse: 0.2}
	}
	return sync.Faults{DropRequest: 0.1, DropResponse: 0.1, Duplicate: 0.2, Reorder: 0.3, MaxDelay: 10 * time.Millisecond}
}

// work makes one move some unit is entitled to make, from what that unit
// holds right now.
func work(t *testing.T, net *testNet, rng *rand.Rand, acceptors []string) {
	ctx := context.Background()
	now := net.clock.Now().UnixMilli()
	apply := func(u string, op *pb.Command) {
		op.NowMs, op.Actor = now, "窗口"+u[len(u)-3:]
		_, err := net.nodes[u].Store.Apply(ctx, op)
		require.NoError(t, err, "%s: %v", u, op)
	}
	if rng.IntN(3) == 0 {
		u := pick(rng, acceptors)
		if _, err := net.nodes[u].Rules.GetMatter("MZ-005"); err != nil {
			return // the catalog has not reached it yet
		}
		idn := rules.MakeIDNumber(fmt.Sprintf("3303241950%02d%02d%03d", 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(1000)))
		apply(u, &pb.Command{Op: &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{MatterCode: "MZ-005",
			Applicant: &pb.Applicant{Name: "申请人", IdNumber: idn}, Materials: []string{"居民身份证", "近期一寸免冠证件照"}}}})
		return
	}
	// Someone moves an application it holds.
	u := pick(rng, net.order)
	as, _, err := net.nodes[u].Rules.ListApplications(rules.AppFilter{HeldOnly: true, Limit: 1000})
	require.NoError(t, err)
	if len(as) == 0 {
		return
	}
	a := pick(rng, as)
	id := a.GetId()
	switch a.GetState() {
	case rules.StateReceived, rules.StateSupplemented:
		if rng.IntN(4) == 0 {
			apply(u, &pb.Command{Op: &pb.Command_RequestSupplement{RequestSupplement: &pb.RequestSupplementRequest{Id: id, Materials: []string{"近期一寸免冠证件照"}, Reason: "照片不清晰"}}})
		} else {
			apply(u, &pb.Command{Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: id, Approve: rng.IntN(4) != 0, Reason: "审核意见"}}})
		}
	case rules.StateSupplementRequested:
		apply(u, &pb.Command{Op: &pb.Command_Supply{Supply: &pb.SupplyMaterialsRequest{Id: id, Materials: []string{"近期一寸免冠证件照"}}}})
	case rules.StateApproved, rules.StateRejected:
		apply(u, &pb.Command{Op: &pb.Command_Deliver{Deliver: &pb.DeliverApplicationRequest{Id: id, Method: "window"}}})
	case rules.StateDelivered:
		apply(u, &pb.Command{Op: &pb.Command_Rate{Rate: &pb.RateApplicationRequest{Id: id, Score: uint32(3 + rng.IntN(3))}}})
	case rules.StateForwarded:
		if rng.IntN(3) == 0 {
			apply(u, &pb.Command{Op: &pb.Command_Withdraw{Withdraw: &pb.WithdrawApplicationRequest{Id: id, Reason: "申请人撤回"}}})
		}
	}
}
