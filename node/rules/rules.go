// Package rules is what each command does and what each event means: the
// application lifecycle, tasks of a composite application, requests between
// units, follow-ups and the 容缺 sweep, the catalog, delegated powers,
// township menus, and the queries and figures read from the records. It
// runs inside the store's transactions through store.Rules and reads the
// store's snapshots; it never touches badger itself.
package rules

import (
	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Config configures the rules and the store they run on.
type Config struct {
	// Store configures the store; its Rules is set by Open.
	Store store.Config
	// Calendar counts working days; required.
	Calendar *delegation.Calendar
}

// Rules are a unit's application rules over its store.
type Rules struct {
	unit tiers.Unit
	cal  *delegation.Calendar
	st   *store.Store
	hot  hotCache // decoded delegations and matters, for acceptance
	book unitBook // units' names, for answers
	apps appTable // the applications, decoded, for lists
}

// Open opens the store with these rules.
func Open(cfg Config) (*Rules, error) {
	if cfg.Calendar == nil {
		return nil, invalid("calendar", "未加载工作日历")
	}
	r := &Rules{unit: cfg.Store.Unit, cal: cfg.Calendar}
	sc := cfg.Store
	sc.Rules = r
	// Sessions, the revoked certificates and the units' names are kept
	// in memory until these change.
	sc.Watch = []string{recAccount, recPassword, recRevoked, recUnit}
	st, err := store.Open(sc)
	if err != nil {
		return nil, err
	}
	r.st = st
	return r, nil
}

// Store is the store the rules run on.
func (s *Rules) Store() *store.Store { return s.st }

// Unit is the unit the rules serve.
func (s *Rules) Unit() tiers.Unit { return s.unit }

// Calendar is the working-day calendar in use.
func (s *Rules) Calendar() *delegation.Calendar { return s.cal }

// Close closes the store.
func (s *Rules) Close() error { return s.st.Close() }

// Admit checks an event that arrived from a peer against what this node
// knows: a decision of a matter this unit routes elsewhere is refused, and
// so is a login or password written for an account of another unit.
func (s *Rules) Admit(w *store.Tx, prev *pb.StoredRecord, ev *pb.Event) error {
	if err := checkAccountWriter(w, ev); err != nil {
		return err
	}
	return s.checkRoute(w, prev, ev)
}

// Arrived takes the moves that fall to this node when an event from a peer
// has been applied.
func (s *Rules) Arrived(w *store.Tx, cmd *pb.Command, ev *pb.Event, rec *pb.StoredRecord) error {
	if err := s.bumpAppCounter(w, ev); err != nil {
		return err
	}
	if err := s.bumpRefusalCounter(w, ev); err != nil {
		return err
	}
	return s.afterIngest(w, cmd, ev, rec)
}

// Forget drops what the hot cache holds of a record being written ("":
// everything).
func (s *Rules) Forget(key string) {
	if key == "" {
		s.hot.reset()
		s.apps.stale.Store(true) // a restore: read them all again
		return
	}
	s.hot.staged(key)
}

var _ store.Rules = (*Rules)(nil)

// Errors the rules return are the store's kinds, so that one mapping turns
// them into connect codes.
var (
	invalid      = store.Invalid
	notFound     = store.NotFound
	precondition = store.Precondition
)
