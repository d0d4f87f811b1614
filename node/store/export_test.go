package store

import badger "github.com/dgraph-io/badger/v4"

// What the store's external tests (package store_test, which may import
// the rules and the group) look at inside it: its key space, its counters
// and its badger database.

const (
	MetaFeedHead    = metaFeedHead
	MetaApplied     = metaApplied
	MetaAppliedPart = metaAppliedPart
	PrefixRecord    = prefixRecord
	PrefixDone      = prefixDone
	PrefixDoneAt    = prefixDoneAt
	DonePrunePer    = donePrunePer
	DoneRetention   = doneRetention
)

var (
	BeUint64  = beUint64
	DoneAtKey = doneAtKey
	DoneKey   = doneKey
)

// DB is the store's badger database.
func (s *Store) DB() *badger.DB { return s.db }

// ViewTxn runs fn in a read-only badger snapshot, as the store's reads do.
func (s *Store) ViewTxn(fn func(txn *badger.Txn) error) error { return s.view(fn) }

// PartOf is the entry past Applied left partly applied (0: none).
func (s *Store) PartOf() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.partOf
}
