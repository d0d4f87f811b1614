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
	bin, err := buildBinary()
	require.NoError(t, err)
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 5 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	ctx := context.Background()

	type member struct {
		*procNode
		raft string
	}
	var ms []*member
	for i := 0; i < 3; i++ {
		m := &member{procNode: &procNode{t: t, bin: bin, unit: "330324", addr: freeAddr(t), dir: t.TempDir()}, raft: freeAddr(t)}
		m.apps = jiujinv1connect.NewApplicationServiceClient(hc, m.url())
		m.catalog = jiujinv1connect.NewCatalogServiceClient(hc, m.url())
		ms = append(ms, m)
	}
	startMember := func(m *member, first bool) {
		args := []string{"node", "start", "--unit", "330324", "--listen", m.addr, "--data", m.dir, "--raft-listen", m.raft,
			"--raft-snapshot-threshold", "32"}
		if first {
			args = append(args, "--bootstrap")
		} else if m != ms[0] {
			args = append(args, "--join", ms[0].url())
		}
		m.cmd, _ = startProcessArgs(t, bin, args...)
	}
	status := func(m *member) *pb.GetClusterStatusResponse {
		res, err := jiujinv1connect.NewClusterServiceClient(hc, m.url()).GetClusterStatus(ctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
		if err != nil {
			return nil
		}
		return res.Msg
	}
	startMember(ms[0], true)
	eventually(t, func() bool { s := status(ms[0]); return s != nil && s.GetLeader() == ms[0].url() }, "first member leads")
	startMember(ms[1], false)
	startMember(ms[2], false)
	eventually(t, func() bool { s := status(ms[0]); return s != nil && len(s.GetMembers()) == 3 }, "three members")
	_, err = ms[1].catalog.ImportCatalog(ctx, connect.NewRequest(seedCatalog(t)))
	require.NoError(t, err)

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

	var leader *member
	for _, m := range ms {
		if s := status(m); s != nil && s.GetLeader() == m.url() {
			leader = m
		}
	}
	require.NotNil(t, leader)
	appliedAtKill := status(leader).GetApplied()
	leader.kill9()
	n := count()
	eventually(t, func() bool { return count() > n+50 }, "the township goes on")
	close(stop)
	<-done

	var alive []*member
	for _, m := range ms {
		if m != leader {
			alive = append(alive, m)
		}
	}
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	has := func(m *member, id string) bool {
		res, err := m.apps.GetApplication(ctx, connect.NewRequest(&pb.GetApplicationRequest{Id: id}))
		return err == nil && res.Msg.GetApplication().GetState() == StateReceived
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
	startMember(leader, false)
	eventually(t, func() bool { return has(leader, want[len(want)-1]) }, "the killed member catches up")
	// The entries it missed are gone from the others' logs: it caught up
	// by installing a snapshot.
	require.GreaterOrEqual(t, status(leader).GetSnapshotsInstalled(), uint64(1), "the killed member installed a snapshot")
	for _, id := range want {
		require.True(t, has(leader, id), "%s lost at the returning member", id)
	}
	t.Logf("%d acknowledged acceptances, all on the group after the leader's kill -9", len(want))
}
