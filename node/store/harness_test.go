package store_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// The few helpers of node's tests that the store's own tests need: a
// store opened with its rules, commands, raft entries and the county
// group's state machine.

const county = "330324"

var idWang = rules.MakeIDNumber("33032419580312122")

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

// at is a time in China on a date of the seed calendar.
func at(date string, hour int) time.Time {
	d, err := delegation.ParseDate(date)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour) * time.Hour)
}

func seedCalendar(t testing.TB) *delegation.Calendar {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	return cal
}

func seedCatalog(t testing.TB) *pb.ImportCatalogRequest {
	req, err := delegation.ParseCatalogYAML(bytes.NewReader(seed.Catalog))
	require.NoError(t, err)
	return req
}

func acceptReq() *pb.AcceptApplicationRequest {
	return &pb.AcceptApplicationRequest{
		MatterCode: "MZ-005",
		Applicant:  &pb.Applicant{Name: "王秀英", IdNumber: idWang, Phone: "13857700101"},
		Materials:  []string{"居民身份证", "近期一寸免冠证件照"},
	}
}

func acceptCmd(hour int) *pb.Command {
	return &pb.Command{NowMs: at("2026-11-23", hour).UnixMilli(), Actor: "窗口", Op: &pb.Command_Accept{Accept: acceptReq()}}
}

var groupIdentity = &pb.Command{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_Identity{Identity: &pb.Identity{NodeId: "c0c0c0c0c0c0c0c0", Epoch: 7}}}

var groupSetup = func(t testing.TB) []*raft.Log {
	return []*raft.Log{logOf(t, 1, groupIdentity),
		logOf(t, 2, &pb.Command{NowMs: at("2026-11-23", 9).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(t)}})}
}

func cmdBytes(t testing.TB, cmd *pb.Command) []byte {
	b, err := proto.Marshal(cmd)
	require.NoError(t, err)
	return b
}

func logOf(t testing.TB, index uint64, cmd *pb.Command) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: cmdBytes(t, cmd)}
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
