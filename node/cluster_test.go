package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/migrate"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/internal/freeport"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

func startMember(t *testing.T, clock *testClock, bootstrap bool, join []string) *testNode {
	t.Helper()
	return startMemberWith(t, clock, &cluster.RaftConfig{Bootstrap: bootstrap, Join: join})
}

// startMemberWith starts a county member on loopback with short raft
// timeouts and the rest of rc.
func startMemberWith(t *testing.T, clock *testClock, rc *cluster.RaftConfig) *testNode {
	t.Helper()
	dir := t.TempDir()
	rc.Listen, rc.HeartbeatTimeout, rc.ElectionTimeout = "127.0.0.1:0", 200*time.Millisecond, 200*time.Millisecond
	n, err := Start(Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: "127.0.0.1:0", DataDir: dir, Calendar: seedCalendar(t), Clock: clock,
		Logger: quietLogger(), Raft: rc})
	require.NoError(t, err)
	return wrapTestNode(t, n, clock, dir)
}

func clusterStatus(t *testing.T, n *testNode) *pb.GetClusterStatusResponse {
	res, err := jiujinv1connect.NewClusterServiceClient(n.hc, n.URL()).GetClusterStatus(context.Background(), req(&pb.GetClusterStatusRequest{}))
	require.NoError(t, err)
	return res.Msg
}

// TestCountyGroupOverTCP: three county members over raft on loopback, a
// township that knows all three. Writes at any member are committed by the
// group; the leader is stopped, the others go on, and the township keeps
// syncing through another member.
func TestCountyGroupOverTCP(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: at("2026-11-23", 10)}
	m1 := startMember(t, clock, true, nil)
	eventually(t, func() bool { return clusterStatus(t, m1).GetLeader() == m1.URL() }, "the first member leads")
	m2 := startMember(t, clock, false, []string{m1.URL()})
	m3 := startMember(t, clock, false, []string{m2.URL()}) // through a follower
	members := []*testNode{m1, m2, m3}
	eventually(t, func() bool { return len(clusterStatus(t, m3).GetMembers()) == 3 }, "three members")
	eventually(t, func() bool { return m3.Store.NodeID() == m1.Store.NodeID() }, "one identity for the group")
	// Each member's status says what every member said of itself: one
	// leader (on a starved machine not always the first), two followers.
	for _, m := range members {
		eventually(t, func() bool {
			s := clusterStatus(t, m)
			for _, x := range s.GetMembers() {
				want := "Follower"
				if x.GetId() == s.GetLeader() {
					want = "Leader"
				}
				if !x.GetAnswered() || x.GetVersion() != buildVersion() || x.GetState() != want {
					return false
				}
			}
			return s.GetVersion() == buildVersion() && len(s.GetMembers()) == 3
		}, "versions and states of all three")
	}

	// A write at a follower is committed by the group.
	res, err := m3.catalog.ImportCatalog(ctx, req(seedCatalog(t)))
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.Msg.GetVersion())
	// Catalog and delegation reads too: right after a grant at one member,
	// every member lists it and routes by it.
	g, err := m1.deleg.GrantDelegation(ctx, req(&pb.GrantDelegationRequest{MatterCode: "GA-001", Unit: "330324102", Mode: "devolve"}))
	require.NoError(t, err)
	for _, m := range members {
		ds, err := m.deleg.ListDelegations(ctx, req(&pb.ListDelegationsRequest{}))
		require.NoError(t, err)
		require.Len(t, ds.Msg.GetDelegations(), 1, "at %s", m.URL())
		require.Equal(t, g.Msg.GetDelegation().GetId(), ds.Msg.GetDelegations()[0].GetId())
		_, err = m.catalog.GetMatter(ctx, req(&pb.GetMatterRequest{Code: "GA-001"}))
		require.NoError(t, err, "at %s", m.URL())
	}
	a := m2.accept(t, acceptReq())
	// Linearizable reads: any member, right after the write, sees it.
	for _, m := range members {
		got, err := m.apps.GetApplication(ctx, req(&pb.GetApplicationRequest{Id: a.GetId()}))
		require.NoError(t, err, "read at %s", m.URL())
		require.Equal(t, rules.StateAccepted, got.Msg.GetApplication().GetState())
	}
	// A refusal comes back from the leader as itself.
	_, err = m2.apps.AcceptApplication(ctx, req(&pb.AcceptApplicationRequest{MatterCode: "GA-999", Applicant: &pb.Applicant{Name: "x", IdNumber: idWang}}))
	requireCode(t, err, 5 /* not_found */, "matter_code")

	// A township that knows every member.
	town := startChild(t, "330324101", []string{m1.URL(), m2.URL(), m3.URL()}, nil, clock, "")
	eventually(t, func() bool { _, err := town.Rules.GetMatter("MZ-005"); return err == nil }, "catalog reaches the township")
	b := town.accept(t, acceptReq())
	eventually(t, func() bool { x := appOn(m1, b.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "the group receives")

	// Stop the leader.
	var leader *testNode
	for _, m := range members {
		if clusterStatus(t, m).GetLeader() == m.URL() {
			leader = m
		}
	}
	require.NotNil(t, leader)
	leader.hc.CloseIdleConnections()
	require.NoError(t, leader.Shutdown(ctx))
	var rest []*testNode
	for _, m := range members {
		if m != leader {
			rest = append(rest, m)
		}
	}
	eventually(t, func() bool {
		l := clusterStatus(t, rest[0]).GetLeader()
		return l != "" && l != leader.URL()
	}, "a new leader")
	eventually(t, func() bool {
		for _, x := range clusterStatus(t, rest[0]).GetMembers() {
			if x.GetId() == leader.URL() {
				return !x.GetAnswered() && x.GetVersion() == buildVersion() && x.GetState() == "Leader"
			}
		}
		return false
	}, "the stopped member: not answering, as it last said")
	c := rest[1].accept(t, acceptReq())
	d := town.accept(t, acceptReq())
	for _, m := range rest {
		eventually(t, func() bool { x := appOn(m, d.GetId()); return x != nil && x.GetState() == rules.StateReceived }, "the township's push lands")
		eventually(t, func() bool { return appOn(m, c.GetId()) != nil }, "both members have it")
	}
	_, err = rest[0].apps.DecideApplication(ctx, req(&pb.DecideApplicationRequest{Id: d.GetId(), Approve: true}))
	require.NoError(t, err)
	eventually(t, func() bool { x := appOn(town, d.GetId()); return x != nil && x.GetState() == rules.StateApproved }, "the decision reaches the township")
	require.True(t, sameFeeds(rest[0].Store, rest[1].Store) || waitFor(5*time.Second, func() bool { return sameFeeds(rest[0].Store, rest[1].Store) }))

}

func TestAMemberMustBootstrapOrJoinOnFirstStart(t *testing.T) {
	_, err := Start(Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: "127.0.0.1:0", DataDir: t.TempDir(), Calendar: seedCalendar(t),
		Logger: quietLogger(), Raft: &cluster.RaftConfig{Listen: "127.0.0.1:0"}})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	require.ErrorContains(t, err, "bootstrap")
	_, err = Start(Config{Insecure: true, Unit: tiers.MustParse("330324101"), Listen: "127.0.0.1:0", DataDir: t.TempDir(), Calendar: seedCalendar(t),
		Logger: quietLogger(), Raft: &cluster.RaftConfig{Listen: "127.0.0.1:0", Bootstrap: true}})
	require.ErrorContains(t, err, "县级")
}

// TestAnEarlierRaftLogIsMoved: a member whose raft log is still the
// raft-boltdb file of earlier releases starts with it moved into raft-wal,
// its place in the group, its term and its records kept; a move a crash
// interrupted is started again.
func TestAnEarlierRaftLogIsMoved(t *testing.T) {
	clock := &testClock{t: at("2026-11-23", 10)}
	dir := t.TempDir()
	start := func(listen, raftListen string, bootstrap bool) *testNode {
		n, err := Start(Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: listen, DataDir: dir, Calendar: seedCalendar(t), Clock: clock,
			Logger: quietLogger(), Raft: &cluster.RaftConfig{Listen: raftListen, Bootstrap: bootstrap,
				HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond}})
		require.NoError(t, err)
		return wrapTestNode(t, n, clock, dir)
	}
	m := start("127.0.0.1:0", "127.0.0.1:0", true)
	eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, "it leads")
	listen, raftListen := strings.TrimPrefix(m.URL(), "http://"), clusterStatus(t, m).GetMembers()[0].GetAddress()
	m.importSeed(t)
	for i := 0; i < 5; i++ {
		m.accept(t, acceptReq())
	}
	applied := m.Store.Applied()
	require.NoError(t, m.Shutdown(context.Background()))

	// Turn the log back into what an earlier release left: log.db only,
	// and a move cut short beside it.
	raftDir := filepath.Join(dir, "raft")
	w, err := wal.Open(filepath.Join(raftDir, cluster.WALDir))
	require.NoError(t, err)
	term, err := w.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.NotZero(t, term)
	last, err := w.LastIndex()
	require.NoError(t, err)
	b, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, cluster.BoltFile)})
	require.NoError(t, err)
	require.NoError(t, migrate.CopyLogs(context.Background(), b, w, 1<<20, nil))
	require.NoError(t, migrate.CopyStable(context.Background(), b, w, nil, nil, nil))
	require.NoError(t, b.Close())
	require.NoError(t, w.Close())
	require.NoError(t, os.RemoveAll(filepath.Join(raftDir, cluster.WALDir)))
	require.NoError(t, os.MkdirAll(filepath.Join(raftDir, cluster.MigratedDir), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(raftDir, cluster.MigratedDir, "00000000000000000001-0000000000000001.wal"), []byte("half"), 0o644))

	m = start(listen, raftListen, false)
	require.NoFileExists(t, filepath.Join(raftDir, cluster.BoltFile))
	require.NoDirExists(t, filepath.Join(raftDir, cluster.MigratedDir))
	eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, "it leads after the move")
	require.GreaterOrEqual(t, m.Store.Applied(), applied)
	require.Zero(t, clusterStatus(t, m).GetSnapshotsInstalled())
	m.accept(t, acceptReq())
	c, err := m.Rules.Counts()
	require.NoError(t, err)
	require.Equal(t, uint64(6), c.Applications)
	require.NoError(t, m.Shutdown(context.Background()))

	w, err = wal.Open(filepath.Join(raftDir, cluster.WALDir))
	require.NoError(t, err)
	defer w.Close()
	after, err := w.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, after, term, "the term is kept, not started again")
	first, err := w.FirstIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(1), first, "every entry is kept")
	now, err := w.LastIndex()
	require.NoError(t, err)
	require.Greater(t, now, last)
}

// TestARestartLoadsTheSnapshotOnlyWhenBehind: a member restarting with its
// store intact does not reload it from the last snapshot (raft would, on
// every start: for a county's years of records, minutes); one whose store
// lost writes the snapshot covers (badger does not fsync in a group) is
// loaded from the snapshot first, then raft replays the rest; and so is
// one whose machine stopped while it was open.
func TestARestartLoadsTheSnapshotOnlyWhenBehind(t *testing.T) {
	clock := &testClock{t: at("2026-11-23", 10)}
	dir := t.TempDir()
	var boot func() string // the machine's boot id, as the member reads it
	start := func(listen, raftListen string, bootstrap bool) *Node {
		n, err := Start(Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: listen, DataDir: dir, Calendar: seedCalendar(t), Clock: clock,
			Logger: quietLogger(), Raft: &cluster.RaftConfig{Listen: raftListen, Bootstrap: bootstrap, SnapshotThreshold: 16,
				HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond}, BootID: boot})
		require.NoError(t, err)
		return n
	}
	n := start("127.0.0.1:0", "127.0.0.1:0", true)
	m := wrapTestNode(t, n, clock, dir)
	eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, "it leads")
	listen, raftListen := strings.TrimPrefix(m.URL(), "http://"), clusterStatus(t, m).GetMembers()[0].GetAddress()
	m.importSeed(t)
	for i := 0; i < 5; i++ {
		m.accept(t, acceptReq())
	}
	restart := func() *testNode {
		require.NoError(t, m.Shutdown(context.Background()))
		return wrapTestNode(t, start(listen, raftListen, false), clock, dir)
	}

	// The store as it was before the snapshot, kept aside.
	m = restart()
	require.NoError(t, m.Shutdown(context.Background()))
	old := t.TempDir()
	copyStoreFiles(t, dir, old)
	m = wrapTestNode(t, start(listen, raftListen, false), clock, dir)
	eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, "it leads again")
	for i := 0; i < 30; i++ {
		m.accept(t, acceptReq())
	}
	eventually(t, func() bool { return clusterStatus(t, m).GetSnapshotIndex() > 20 }, "a snapshot past the store kept aside")
	applied := m.Store.Applied()

	// Intact: nothing reloaded.
	m = restart()
	require.Equal(t, applied, m.Store.Applied())
	eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, "it leads after a restart")
	require.Zero(t, clusterStatus(t, m).GetSnapshotsInstalled(), "an intact store is not reloaded")
	c, err := m.Rules.Counts()
	require.NoError(t, err)
	require.Equal(t, uint64(35), c.Applications)

	// Behind the snapshot: loaded from it, then the log replayed.
	require.NoError(t, m.Shutdown(context.Background()))
	removeStoreFiles(t, dir)
	copyStoreFiles(t, old, dir)
	rebuilt := func(why string, apps uint64) {
		t.Helper()
		m = wrapTestNode(t, start(listen, raftListen, false), clock, dir)
		require.Equal(t, uint64(1), clusterStatus(t, m).GetSnapshotsInstalled(), why)
		eventually(t, func() bool { return m.Store.Applied() >= applied }, "and the log replayed after it")
		c, err := m.Rules.Counts()
		require.NoError(t, err)
		require.Equal(t, apps, c.Applications)
		_, err = m.Store.Verify()
		require.NoError(t, err)
	}
	rebuilt("a store behind the snapshot is loaded from it", 35)
	m.accept(t, acceptReq())
	applied = m.Store.Applied()

	// The machine stopped while the store was open (its open mark is from
	// another boot): the store, perhaps torn, is cleared and rebuilt from
	// the snapshot and the log.
	require.NoError(t, m.Shutdown(context.Background()))
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.OpenMark), []byte("an-earlier-boot"), 0o644))
	boot = func() string { return "this-boot" }
	rebuilt("a cleared store is loaded from the snapshot", 36)
	mark, err := os.ReadFile(filepath.Join(dir, store.OpenMark))
	require.NoError(t, err)
	require.Equal(t, "this-boot", string(mark), "marked open in this boot")

	// The process stopped while a snapshot was being loaded (the mark a
	// load leaves until it is whole): cleared and loaded again.
	require.NoError(t, m.Shutdown(context.Background()))
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.RestoreMark), nil, 0o644))
	rebuilt("a store left half loaded is loaded again", 36)
	require.NoFileExists(t, filepath.Join(dir, store.RestoreMark))
}

// copyStoreFiles copies a data directory's badger files (not its raft
// directory) from one directory to another.
func copyStoreFiles(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), b, 0o644))
	}
}

func removeStoreFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.IsDir() {
			require.NoError(t, os.Remove(filepath.Join(dir, e.Name())))
		}
	}
}

// TestAMemberStillStartingAsksForARetry: a restarted member serves HTTP
// while it opens its raft log; a member that still takes it for the leader
// and hands it a write must be told to try again (Unavailable), not be
// given a refusal it would pass on as the command's own.
func TestAMemberStillStartingAsksForARetry(t *testing.T) {
	h := cluster.NewService(&cluster.Live{}, nil, "", "") // a member, its raft not yet open
	_, err := h.Propose(context.Background(), req(&pb.ProposeRequest{}))
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err), "error: %v", err)
	_, err = h.ReadIndex(context.Background(), req(&pb.ReadIndexRequest{}))
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err), "error: %v", err)

	lone := cluster.NewService(nil, nil, "", "")
	_, err = lone.GetClusterStatus(context.Background(), req(&pb.GetClusterStatusRequest{}))
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err), "a node that is no member at all")
}

// TestARestartDropsValueLogGarbage: a member whose store's value log holds
// more than its limit of what the store no longer reads (answers pruned
// after their retention) loads its store from its last snapshot when it
// starts, which leaves only what is live; below the limit, a restart
// keeps the store.
func TestARestartDropsValueLogGarbage(t *testing.T) {
	clock := &testClock{t: at("2026-11-23", 10)}
	dir := t.TempDir()
	start := func(listen, raftListen string, bootstrap bool) *testNode {
		n, err := Start(Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: listen, DataDir: dir, Calendar: seedCalendar(t), Clock: clock,
			Logger: quietLogger(), Raft: &cluster.RaftConfig{Listen: raftListen, Bootstrap: bootstrap, SnapshotThreshold: 16, ValueLogGarbage: 48 << 10,
				HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond}})
		require.NoError(t, err)
		m := wrapTestNode(t, n, clock, dir)
		eventually(t, func() bool { return clusterStatus(t, m).GetLeader() == m.URL() }, "it leads")
		return m
	}
	m := start("127.0.0.1:0", "127.0.0.1:0", true)
	listen, raftListen := strings.TrimPrefix(m.URL(), "http://"), clusterStatus(t, m).GetMembers()[0].GetAddress()
	m.importSeed(t)
	keyed := func(round, n int) {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for j := w; j < n; j += 8 {
					req := connect.NewRequest(acceptReq())
					req.Header().Set(rpc.IdempotencyHeader, fmt.Sprintf("round-%d-%d", round, j))
					_, err := m.apps.AcceptApplication(context.Background(), req)
					require.NoError(t, err)
				}
			})
		}
		wg.Wait()
	}
	restart := func() *testNode {
		require.NoError(t, m.Shutdown(context.Background()))
		return start(listen, raftListen, false)
	}
	unread := func() int64 {
		files, live, err := m.Store.ValueLogUse(0)
		require.NoError(t, err)
		return files - live
	}

	keyed(1, 200)
	m = restart()
	require.Less(t, unread(), int64(48<<10))
	require.Zero(t, clusterStatus(t, m).GetSnapshotsInstalled(), "under the limit: kept")

	// Two hours on, the next keyed writes prune the first ones' answers.
	clock.Set(at("2026-11-23", 12))
	keyed(2, 200)
	eventually(t, func() bool { return clusterStatus(t, m).GetSnapshotIndex() > 0 }, "a snapshot")
	applied := m.Store.Applied()
	over := unread()
	require.Greater(t, over, int64(48<<10))

	held := clusterStatus(t, m).GetValueLogBytes()
	require.GreaterOrEqual(t, held, over, "status shows the disk the value log takes")

	m = restart()
	require.Equal(t, uint64(1), clusterStatus(t, m).GetSnapshotsInstalled(), "over the limit: loaded from the snapshot")
	require.Less(t, clusterStatus(t, m).GetValueLogBytes(), held, "and what it takes after the reload")
	eventually(t, func() bool { return m.Store.Applied() >= applied }, "and the log replayed after it")
	require.Less(t, unread(), over/4, "what was no longer read is gone")
	c, err := m.Rules.Counts()
	require.NoError(t, err)
	require.Equal(t, uint64(400), c.Applications)
	_, err = m.Store.Verify()
	require.NoError(t, err)

	// A key still kept answers as the first time, from the reloaded store.
	req := connect.NewRequest(acceptReq())
	req.Header().Set(rpc.IdempotencyHeader, "round-2-7")
	res, err := m.apps.AcceptApplication(context.Background(), req)
	require.NoError(t, err)
	c, err = m.Rules.Counts()
	require.NoError(t, err)
	require.Equal(t, uint64(400), c.Applications, "a kept key is not applied twice (%s)", res.Msg.GetApplication().GetId())
}

// TestAFailedJoinStopsRaft: a member that cannot join gives up with an
// error, and leaves nothing running: its raft port can be bound again.
func TestAFailedJoinStopsRaft(t *testing.T) {
	raftAddr, err := freeport.Loopback()
	require.NoError(t, err)
	nobody, err := freeport.Loopback()
	require.NoError(t, err)
	_, err = Start(Config{Insecure: true, Unit: tiers.MustParse("330324"), Listen: "127.0.0.1:0", DataDir: t.TempDir(), Calendar: seedCalendar(t),
		Logger: quietLogger(), Raft: &cluster.RaftConfig{Listen: raftAddr, Join: []string{"http://" + nobody}}})
	require.ErrorContains(t, err, "join through")
	l, err := net.Listen("tcp", raftAddr)
	require.NoError(t, err, "the raft transport was closed")
	l.Close()
}
