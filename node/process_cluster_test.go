package node

import (
	"context"
	"net/http"
	gosync "sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/node/rules"
)

// TestCountyGroupSurvivesKillNine: three county members and a township as
// processes of the built binary. The leader is killed with SIGKILL while
// the township pushes; every acceptance the township acknowledged reaches
// the survivors, the township keeps syncing, and the killed member comes
// back and catches up, from a snapshot: the others compacted their logs
// past what it had.
func TestCountyGroupSurvivesKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	g := startProcGroup(t, "--raft-snapshot-threshold", "32")
	bin, hc, ms, status := g.bin, g.hc, g.ms, g.status
	ctx := context.Background()

	town := &procNode{t: t, bin: bin, unit: "330324101", addr: freeAddr(t), dir: t.TempDir(),
		parents: []string{ms[0].url(), ms[1].url(), ms[2].url()}}
	town.start()
	town.apps = jiujinv1connect.NewApplicationServiceClient(hc, town.url())
	town.catalog = jiujinv1connect.NewCatalogServiceClient(hc, town.url())
	eventually(t, func() bool {
		_, err := town.catalog.GetMatter(ctx, connect.NewRequest(&pb.GetMatterRequest{Code: "MZ-005"}))
		return err == nil
	}, "catalog reaches the township")

	var mu gosync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := town.apps.AcceptApplication(ctx, connect.NewRequest(acceptReq()))
			if err == nil {
				mu.Lock()
				acked = append(acked, res.Msg.GetApplication().GetId())
				mu.Unlock()
			}
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	eventually(t, func() bool { return count() > 50 }, "the township accepts")

	leader := g.leader()
	require.NotNil(t, leader)
	appliedAtKill := status(leader).GetApplied()
	leader.kill9()
	n := count()
	eventually(t, func() bool { return count() > n+50 }, "the township goes on")
	close(stop)
	<-done

	var alive []*procMember
	for _, m := range ms {
		if m != leader {
			alive = append(alive, m)
		}
	}
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	has := func(m *procMember, id string) bool {
		res, err := m.apps.GetApplication(ctx, connect.NewRequest(&pb.GetApplicationRequest{Id: id}))
		return err == nil && res.Msg.GetApplication().GetState() == rules.StateReceived
	}
	for _, m := range alive {
		eventually(t, func() bool { return has(m, want[len(want)-1]) }, "the last acknowledged acceptance reaches %s", m.url())
		for _, id := range want {
			require.True(t, has(m, id), "%s lost at %s", id, m.url())
		}
	}
	// The killed member comes back and catches up, after the others have
	// snapshotted past what it had.
	// Single writes at a survivor move the log on (the township's pushes
	// carry many acceptances per entry).
	for i := 0; i < 150; i++ {
		_, err := alive[i%2].apps.AcceptApplication(ctx, connect.NewRequest(acceptReq()))
		require.NoError(t, err)
	}
	eventually(t, func() bool {
		for _, m := range alive {
			if s := status(m); s == nil || s.GetSnapshotIndex() <= appliedAtKill+32+10 {
				return false
			}
		}
		return true
	}, "the survivors snapshot past what the killed member had (%d)", appliedAtKill)
	g.start(leader)
	eventually(t, func() bool { return has(leader, want[len(want)-1]) }, "the killed member catches up")
	// The entries it missed are gone from the others' logs: it caught up
	// by installing a snapshot.
	require.GreaterOrEqual(t, status(leader).GetSnapshotsInstalled(), uint64(1), "the killed member installed a snapshot")
	for _, id := range want {
		require.True(t, has(leader, id), "%s lost at the returning member", id)
	}
	t.Logf("%d acknowledged acceptances, all on the group after the leader's kill -9", len(want))
}

// procMember is a county member run as a process of the built binary.
type procMember struct {
	*procNode
	raft string
}

// procGroup is three county members as processes, talked to over h2c.
type procGroup struct {
	t    *testing.T
	bin  string
	hc   *http.Client
	ms   []*procMember
	args []string // on every member's command line
}

// startProcGroup starts three members (the first bootstraps, the others
// join through it), waits until they form a group and imports the seed
// catalog. args go on every member's command line.
func startProcGroup(t *testing.T, args ...string) *procGroup {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	g := &procGroup{t: t, bin: bin, args: args,
		hc: &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 5 * time.Second}}
	t.Cleanup(g.hc.CloseIdleConnections)
	for i := 0; i < 3; i++ {
		m := &procMember{procNode: &procNode{t: t, bin: bin, unit: "330324", addr: freeAddr(t), dir: t.TempDir()}, raft: freeAddr(t)}
		m.apps = jiujinv1connect.NewApplicationServiceClient(g.hc, m.url())
		m.catalog = jiujinv1connect.NewCatalogServiceClient(g.hc, m.url())
		g.ms = append(g.ms, m)
	}
	g.start(g.ms[0], "--bootstrap")
	eventually(t, func() bool { s := g.status(g.ms[0]); return s != nil && s.GetLeader() == g.ms[0].url() }, "first member leads")
	g.start(g.ms[1], "--join", g.ms[0].url())
	g.start(g.ms[2], "--join", g.ms[0].url())
	eventually(t, func() bool { return g.leader() != nil }, "three members")
	_, err = g.ms[1].catalog.ImportCatalog(context.Background(), connect.NewRequest(seedCatalog(t)))
	require.NoError(t, err)
	return g
}

// start starts (or restarts) a member; extra is --bootstrap or --join on
// its first start.
func (g *procGroup) start(m *procMember, extra ...string) {
	args := append([]string{"node", "start", "--insecure", "--unit", "330324", "--listen", m.addr, "--data", m.dir, "--raft-listen", m.raft}, g.args...)
	m.cmd, _ = startProcessArgs(g.t, g.bin, append(args, extra...)...)
}

// status is the member's view of the group, nil if it does not answer.
func (g *procGroup) status(m *procMember) *pb.GetClusterStatusResponse {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := jiujinv1connect.NewClusterServiceClient(g.hc, m.url()).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
	if err != nil {
		return nil
	}
	return res.Msg
}

// leader is the member leading a group of three, or nil.
func (g *procGroup) leader() *procMember {
	for _, m := range g.ms {
		if s := g.status(m); s != nil && s.GetLeader() == m.url() && len(s.GetMembers()) == 3 {
			return m
		}
	}
	return nil
}
