package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// BenchmarkConsole measures the console's 待办 list and 办件详情 at a node
// holding 10,000 applications: server time per page (and its p99) and the
// bytes a browser receives, gzipped. The aims (issue 19): p99 ≤ 20 ms on 2
// cores, ≤ 100 KB a page.
//
//	go test ./node -run XXX -bench Console -benchtime 200x
func BenchmarkConsole(b *testing.B) {
	const held = 10000
	n := startTestNode(b, county, "", nil)
	n.importSeed(b)
	seedApplications(b, n, held)
	as, _, err := n.Rules.ListApplications(rules.AppFilter{Limit: 1})
	mustOK(b, err)
	id := as[0].GetId()
	hc := &http.Client{}
	for _, page := range []struct{ name, path string }{
		{"list-mine", "/apps?mine=1"},
		{"list-all", "/apps"},
		{"detail", "/apps/" + id},
		{"home", "/"},
	} {
		b.Run(page.name, func(b *testing.B) {
			var times []time.Duration
			var zipped int
			b.ResetTimer()
			for range b.N {
				req, _ := http.NewRequest(http.MethodGet, n.URL()+page.path, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				start := time.Now()
				res, err := hc.Do(req)
				mustOK(b, err)
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				times = append(times, time.Since(start))
				mustOK(b, err)
				if res.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", page.path, res.StatusCode)
				}
				zipped = len(body)
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(zipped), "gzip-bytes")
		})
	}
}

// seedApplications accepts n applications at the node, sixteen at a time.
func seedApplications(b *testing.B, node *testNode, n int) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	per := n / 16
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				req := acceptReq()
				req.Applicant.Name = fmt.Sprintf("申请人%d", w*per+i)
				cmd := &pb.Command{NowMs: node.clock.Now().UnixMilli(), Actor: "bench", Op: &pb.Command_Accept{Accept: req}}
				if _, err := node.Store.Apply(ctx, cmd); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func mustOK(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
