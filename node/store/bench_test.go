package store_test

import (
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/stretchr/testify/require"
)

// BenchmarkValueLogUse: what a member's start costs to count its value
// log's garbage (a walk of every key, no value read), per key, in a store
// of 50,000 keyed acceptances.
func BenchmarkValueLogUse(b *testing.B) {
	st := valueLogStore(b, b.TempDir(), true)
	defer st.Close()
	applyAll(b, st, []*pb.Command{{NowMs: at("2026-11-23", 8).UnixMilli(), Op: &pb.Command_ImportCatalog{ImportCatalog: seedCatalog(b)}}})
	for i := range 10 {
		applyAll(b, st, keyedAccepts(9, 5_000, fmt.Sprintf("accept-%d-", i)))
	}
	keys := 0
	require.NoError(b, st.ViewTxn(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys++
		}
		return nil
	}))
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := st.ValueLogUse(0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/key")
	b.ReportMetric(float64(keys), "keys")
}
