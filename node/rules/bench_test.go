package rules

import (
	"fmt"
	"sync/atomic"
	"testing"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
)

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
