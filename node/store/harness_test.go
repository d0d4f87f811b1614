package store_test

import (
	"log/slog"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/internal/testseed"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// The few helpers of node's tests that the store's own tests need: a
// store opened with its rules, commands, raft entries and the county
// group's state machine.

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

type (
	FSM         = cluster.FSM
	FSMResult   = cluster.FSMResult
	BatchResult = cluster.BatchResult
)

// NewFSM is the county group's state machine over a store.
func NewFSM(s *store.Store) *FSM { return cluster.NewFSM(s) }

// StoreConfig is a store with its rules, opened alone.
type StoreConfig struct {
	Dir      string
	Unit     tiers.Unit
	Calendar *delegation.Calendar
	NoSync   bool
	Member   bool
	Logger   *slog.Logger
	BootID   func() string
	Key      []byte
	tune     func(badger.Options) badger.Options
}

// OpenStore opens a store with its rules.
func OpenStore(c StoreConfig) (*store.Store, error) {
	r, err := rules.Open(rules.Config{Calendar: c.Calendar, Store: store.Config{Dir: c.Dir, Unit: c.Unit, NoSync: c.NoSync,
		Member: c.Member, Logger: c.Logger, Tune: c.tune, BootID: c.BootID, EncryptionKey: c.Key}})
	if err != nil {
		return nil, err
	}
	return r.Store(), nil
}

// batchOf is a log entry holding the given commands as one CommandBatch.
func batchOf(t testing.TB, index uint64, parts ...[]byte) *raft.Log {
	return logOf(t, index, &pb.Command{Op: &pb.Command_Batch{Batch: &pb.CommandBatch{Commands: parts}}})
}

// freshStore is a county member's store with its rules.
func freshStore(t testing.TB, dir string) *store.Store {
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := OpenStore(StoreConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t), Member: true})
	require.NoError(t, err)
	return st
}
