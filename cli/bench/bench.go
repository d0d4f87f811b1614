// Package bench holds the benchmark harnesses behind `jiujin bench` and
// docs/benchmarks.md:
//
//   - RunAccept: durable acceptance at one county node, a process of its
//     own: throughput, latency, resident memory (AcceptConfig).
//   - RunSync: a village, its township and the county in this process:
//     latency over the tiers, relay throughput per hop, catch-up after a
//     cut, wire bytes per event, catch-up through a shaped link
//     (SyncConfig).
//   - RunCounty: the three-member county group: concurrent writers and
//     townships' batched pushes, and the time from a leader's kill -9 to
//     the next acknowledged write (CountyConfig).
//   - RunTree: a whole county, the county a process of its own and its
//     townships and villages in this one: fan-out, a working day checked
//     for lost and duplicated applications, the county's cost, the return
//     of the county and of a township after an outage (TreeConfig).
//
// Each takes a Config, validated before anything starts, and returns a
// report whose JSON form is the `-o json` answer of its command. The
// command line parses the flags into the Config and prints the report;
// nothing here reads a flag.
//
// The harnesses use the seed data of the demo county (seed.County).
package bench

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
)

// waitUntil waits for cond, re-checking at every commit of st.
func waitUntil(ctx context.Context, st *store.Store, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := st.Changed()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("timed out after %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func stateIs(st *rules.Rules, id, state string) func() bool {
	return func() bool { a, _, err := st.GetApplication(id); return err == nil && a.GetState() == state }
}

func has(st *rules.Rules, id string) bool { _, _, err := st.GetApplication(id); return err == nil }

// acceptCmd is the i-th application the harnesses accept: a matter of the
// seed catalog, an applicant of the demo county.
func acceptCmd(i int) *pb.Command {
	idn := rules.MakeIDNumber(fmt.Sprintf("3303241960%02d%02d%03d", 1+i%12, 1+i%28, i%1000))
	return &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "bench", Op: &pb.Command_Accept{Accept: &pb.AcceptApplicationRequest{
		MatterCode: "MZ-005", Applicant: &pb.Applicant{Name: "测试", IdNumber: idn}, Materials: []string{"居民身份证", "近期一寸免冠证件照"}}}}
}

// pctMs is the p-th quantile of d in milliseconds (p = 1: the largest).
func pctMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
}

// StartCPUProfile writes a CPU profile to path until the returned stop is
// called; an empty path profiles nothing. (`node start --cpuprofile` uses
// it too: one member of a group measured with `bench county --members`.)
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	var once sync.Once
	return func() { once.Do(func() { pprof.StopCPUProfile(); fh.Close() }) }, nil
}
