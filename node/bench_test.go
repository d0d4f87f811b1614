package node

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

// BenchmarkAccept measures durable acceptances (fsync on) through the
// store's dispatcher and through the connect API over HTTP; run with
// -cpu 1,16 to see group commit at work:
//
//	go test ./node -run XXX -bench Accept -cpu 1,16
func BenchmarkAccept(b *testing.B) {
	b.Run("store", func(b *testing.B) {
		n := startTestNode(b, county, "", nil)
		n.importSeed(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb_ *testing.PB) {
			for pb_.Next() {
				cmd := &pb.Command{NowMs: n.clock.Now().UnixMilli(), Actor: "bench", Op: &pb.Command_Accept{Accept: acceptReq()}}
				if _, err := n.Store.Apply(ctx, cmd); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("http", func(b *testing.B) {
		n := startTestNode(b, county, "", nil)
		n.importSeed(b)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb_ *testing.PB) {
			for pb_.Next() {
				n.accept(b, acceptReq())
			}
		})
	})
}

// BenchmarkDeadline measures the working-day arithmetic every list row does.
func BenchmarkDeadline(b *testing.B) {
	cal := seedCalendar(b)
	a := acceptedAt(county, county).GetApplication()
	a.AcceptedAt = ts(&pb.Event{Hlc: uint64(at("2026-11-23", 10).UnixMilli()) << 16})
	a.StatutoryDays, a.PromisedDays = 60, 20
	now := at("2026-12-20", 10)
	var sink atomic.Int32
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sink.Add(computeDeadline(a, cal, now).GetStatutoryDaysLeft())
	}
	_ = fmt.Sprint(sink.Load())
}

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
	require.NoError(b, st.view(func(txn *badger.Txn) error {
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
		if _, _, err := st.valueLogUse(0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/key")
	b.ReportMetric(float64(keys), "keys")
}
