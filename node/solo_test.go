package node

import (
	"context"
	"io"
	"log/slog"

	badger "github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// soloConfig is a store with its rules, opened alone (no node around it).
type soloConfig struct {
	Dir      string
	Unit     tiers.Unit
	Calendar *delegation.Calendar
	Clock    store.Clock
	NoSync   bool
	MaxBatch int
	Member   bool
	Logger   *slog.Logger
	tune     func(badger.Options) badger.Options
	bootID   func() string
}

func (c soloConfig) store() store.Config {
	return store.Config{Dir: c.Dir, Unit: c.Unit, Clock: c.Clock, NoSync: c.NoSync, MaxBatch: c.MaxBatch,
		Member: c.Member, Logger: c.Logger, Tune: c.tune, BootID: c.bootID}
}

// solo is a unit's store and its rules, as the tests use them alone.
type solo struct {
	*rules.Rules
	*store.Store
}

func (s *solo) Unit() tiers.Unit { return s.Rules.Unit() }
func (s *solo) Close() error     { return s.Store.Close() }

// openSolo opens a store with its rules.
func openSolo(c soloConfig) (*solo, error) {
	r, err := rules.Open(rules.Config{Store: c.store(), Calendar: c.Calendar})
	if err != nil {
		return nil, err
	}
	return &solo{Rules: r, Store: r.Store()}, nil
}

// restoreSolo restores a backup into an empty directory.
func restoreSolo(c soloConfig, r io.Reader) error { return store.RestoreBackup(c.store(), r) }

// newFSM is the county group's state machine over a test store.
func newFSM(s *solo) *cluster.FSM { return cluster.NewFSM(s.Store) }

// materialize folds an event through the rules, as every receiver does.
func materialize(prev *pb.StoredRecord, ev *pb.Event) (*pb.StoredRecord, error) {
	return store.Fold(&rules.Rules{}, prev, ev)
}

// Ingest applies a batch from a sync peer, as the node's sync link does.
func (s *solo) Ingest(ctx context.Context, from *pb.Peer, pushed bool, events []*pb.Event, last, head uint64) (*pb.PushResponse, error) {
	out, err := s.Store.Apply(ctx, store.IngestCommand(s.Store.Now(), from, pushed, events, nil, last, head))
	if err != nil {
		return nil, err
	}
	return out.(*pb.PushResponse), nil
}

// Record keys as the rules spell them (node/rules/keys_test.go checks
// that they still do).
const (
	recCatalog = "catalog"
	recApp     = "app/"
	recRequest = "request/"
)

func appKey(id string) string            { return recApp + id }
func requestKey(appID, id string) string { return recRequest + appID + "/" + id }

func decodeRecord[T proto.Message](rec *pb.StoredRecord, m T) (T, error) {
	return m, proto.Unmarshal(rec.GetData(), m)
}

// appFromRecord decodes an application record with its chain position.
func appFromRecord(rec *pb.StoredRecord) (*pb.Application, error) {
	a, err := decodeRecord(rec, &pb.Application{})
	if err != nil {
		return nil, err
	}
	a.Version, a.Head = rec.GetVersion(), rec.GetHead()
	return a, nil
}

// hlc is the store's hybrid logical clock, for events a test writes as a
// unit would: unix milliseconds in the upper 48 bits, a counter below.
type hlc struct{ last uint64 }

func (h *hlc) next(wallMs int64) uint64 {
	p := uint64(wallMs) << 16
	if p > h.last {
		h.last = p
	} else {
		h.last++
	}
	return h.last
}
