package node

import (
	"context"
	"testing"

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
