package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/internal/testseed"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

// The few helpers of node's tests that the group's own tests need: a
// county store with its rules, commands, and an in-memory raft group.

const county = "330324"

var (
	idWang        = testseed.IDWang
	at            = testseed.At
	seedCalendar  = testseed.Calendar
	seedCatalog   = testseed.Catalog
	acceptReq     = testseed.AcceptReq
	acceptCmd     = testseed.AcceptCmd
	groupIdentity = testseed.GroupIdentity
	groupSetup    = testseed.GroupSetup
	cmdBytes      = testseed.CmdBytes
	logOf         = testseed.LogOf
)

func unknownMatterCmd(hour int) *pb.Command {
	cmd := acceptCmd(hour)
	cmd.GetAccept().MatterCode = "GA-999"
	return cmd
}

// freshStore is a county member's store with its rules.
func freshStore(t testing.TB, dir string) *store.Store {
	if dir == "" {
		dir = t.TempDir()
	}
	r, err := rules.Open(rules.Config{Store: store.Config{Dir: dir, Unit: county, Member: true}, Calendar: seedCalendar(t)})
	require.NoError(t, err)
	return r.Store()
}

type member struct {
	st    *store.Store
	fsm   *FSM
	r     *raft.Raft
	trans *raft.InmemTransport
	addr  raft.ServerAddress
}

// makeClusterWrapped is an in-memory group of n members with each
// member's state machine wrapped by wrap (nil: none).
func makeClusterWrapped(t *testing.T, n int, wrap func(*FSM) raft.FSM) []*member {
	var ms []*member
	var servers []raft.Server
	for i := 0; i < n; i++ {
		addr, trans := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("m%d", i)))
		ms = append(ms, &member{st: freshStore(t, ""), trans: trans, addr: addr})
		servers = append(servers, raft.Server{ID: raft.ServerID(addr), Address: addr, Suffrage: raft.Voter})
	}
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
	for _, m := range ms {
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(m.addr)
		conf.HeartbeatTimeout, conf.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
		conf.LeaderLeaseTimeout, conf.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
		conf.SnapshotThreshold, conf.TrailingLogs, conf.SnapshotInterval = 40, 10, 50*time.Millisecond
		conf.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}, Name: string(m.addr)})
		logs := raft.NewInmemStore()
		snaps, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 2, conf.Logger)
		require.NoError(t, err)
		m.fsm = NewFSM(m.st)
		var fsm raft.FSM = m.fsm
		if wrap != nil {
			fsm = wrap(m.fsm)
		}
		r, err := raft.NewRaft(conf, fsm, logs, logs, snaps, m.trans)
		require.NoError(t, err)
		m.r = r
	}
	require.NoError(t, ms[0].r.BootstrapCluster(raft.Configuration{Servers: servers}).Error())
	t.Cleanup(func() {
		for _, m := range ms {
			m.r.Shutdown().Error()
			m.st.Close()
		}
	})
	return ms
}

func leaderOf(t *testing.T, ms []*member, except *member) *member {
	var l *member
	require.Eventually(t, func() bool {
		for _, m := range ms {
			if m != except && m.r.State() == raft.Leader {
				l = m
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "a leader is elected")
	return l
}

// propose follows the leader as a client would.
func propose(t *testing.T, ms []*member, except *member, cmd *pb.Command) FSMResult {
	b := cmdBytes(t, cmd)
	for try := 0; try < 20; try++ {
		l := leaderOf(t, ms, except)
		f := l.r.Apply(b, 5*time.Second)
		err := f.Error()
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		require.NoError(t, err)
		return f.Response().(FSMResult)
	}
	t.Fatal("no leader took the entry")
	return FSMResult{}
}

// testWriter sends raft's error log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// feeds is what sameFeeds reads: a store, alone or with its rules.
type feeds interface {
	FeedHead() uint64
	Events(from uint64, limit int) ([]*pb.Event, error)
}

func sameFeeds(a, b feeds) bool {
	if a.FeedHead() != b.FeedHead() {
		return false
	}
	ea, err1 := a.Events(0, 1<<20)
	eb, err2 := b.Events(0, 1<<20)
	if err1 != nil || err2 != nil || len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		if string(ea[i].GetHash()) != string(eb[i].GetHash()) {
			return false
		}
	}
	return true
}
