package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/node/rules"
)

// The linearizability check: clients read and change applications at any
// member of a three-member county group (processes of the built binary)
// while its leader is killed with SIGKILL and restarted, again and again.
// Every operation is recorded with its call and return times; porcupine
// then looks for one order of the operations, consistent with real time,
// in which each answer is what the lifecycle allows.
//
// The operations cycle an application between two states forever:
//   request  supplement requested (from accepted or supplemented), else refused
//   supply   supplemented (from supplement requested), else refused
//   read     the state
// A write whose answer is lost (the member died, a timeout) may or may
// not have happened: it is kept, as either, open until the end. A read
// that fails has no effect and is left out.

type linInput struct {
	app string
	op  string // "request", "supply", "read"
}

type linOutput struct {
	ok      bool   // the write was done
	unknown bool   // the answer was lost
	state   string // for a read
}

var linModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{rules.StateAccepted} },
	Step: func(state, input, output any) []any {
		st, in, out := state.(string), input.(linInput), output.(linOutput)
		var next string
		switch in.op {
		case "read":
			if out.state == st {
				return []any{st}
			}
			return nil
		case "request":
			if st == rules.StateAccepted || st == rules.StateSupplemented {
				next = rules.StateSupplementRequested
			}
		case "supply":
			if st == rules.StateSupplementRequested {
				next = rules.StateSupplemented
			}
		}
		switch {
		case out.unknown && next != "":
			return []any{st, next}
		case out.unknown:
			return []any{st}
		case out.ok && next != "":
			return []any{next}
		case !out.ok && next == "":
			return []any{st}
		}
		return nil
	},
	Equal: func(a, b any) bool { return a == b },
}

func linPartition(history []porcupine.Operation) [][]porcupine.Operation {
	by := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(linInput).app
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], op)
	}
	var out [][]porcupine.Operation
	for _, k := range keys {
		out = append(out, by[k])
	}
	return out
}

// TestLinearizableUnderLeaderKills: the short slice runs by default; the
// long one with JIUJIN_LONG=1; JIUJIN_SEED=n replays a run's choices.
func TestLinearizableUnderLeaderKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	kills, clients, apps := 2, 6, 3
	if os.Getenv("JIUJIN_LONG") != "" {
		kills, clients, apps = 10, 10, 4
	}
	seed := uint64(1)
	if s := os.Getenv("JIUJIN_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (replay with JIUJIN_SEED=%d), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 1))

	g := startProcGroup(t)
	ms := g.ms
	ctx := context.Background()
	var ids []string
	for i := 0; i < apps; i++ {
		res, err := ms[i%3].apps.AcceptApplication(ctx, connect.NewRequest(acceptReq()))
		require.NoError(t, err)
		ids = append(ids, res.Msg.GetApplication().GetId())
	}

	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var mu gosync.Mutex
	var history []porcupine.Operation
	record := func(client int, in linInput, call int64, out linOutput) {
		ret := now()
		if out.unknown {
			ret = math.MaxInt64 // it may take effect at any time from now on
		}
		mu.Lock()
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg gosync.WaitGroup
	for c := 0; c < clients; c++ {
		crng := rand.New(rand.NewPCG(seed, uint64(100+c)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := ms[crng.IntN(len(ms))]
				in := linInput{app: ids[crng.IntN(len(ids))], op: []string{"read", "request", "supply"}[crng.IntN(3)]}
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				call := now()
				var err error
				var out linOutput
				switch in.op {
				case "read":
					var res *connect.Response[pb.GetApplicationResponse]
					res, err = m.apps.GetApplication(cctx, connect.NewRequest(&pb.GetApplicationRequest{Id: in.app}))
					if err == nil {
						out.state = res.Msg.GetApplication().GetState()
					}
				case "request":
					_, err = m.apps.RequestSupplement(cctx, connect.NewRequest(&pb.RequestSupplementRequest{Id: in.app, Materials: []string{"近期一寸免冠证件照"}, Reason: "照片不清晰"}))
				case "supply":
					_, err = m.apps.SupplyMaterials(cctx, connect.NewRequest(&pb.SupplyMaterialsRequest{Id: in.app, Materials: []string{"近期一寸免冠证件照"}}))
				}
				cancel()
				var ce *connect.Error
				switch {
				case err == nil:
					out.ok = true
				case errors.As(err, &ce) && ce.Code() == connect.CodeFailedPrecondition:
					// refused by the lifecycle: a definite answer. Any other
					// refusal (a member still starting said "not in the
					// group", once) would be taken for one wrongly.
					if !strings.HasPrefix(ce.Message(), "state:") && !strings.HasPrefix(ce.Message(), "materials:") {
						t.Errorf("%s %s at %s: a refusal that is not the lifecycle's: %v", in.op, in.app, m.url(), err)
						return
					}
				case errors.As(err, &ce) && (ce.Code() == connect.CodeInvalidArgument || ce.Code() == connect.CodeNotFound):
					t.Errorf("%s %s at %s: %v", in.op, in.app, m.url(), err)
					return
				default:
					if in.op == "read" {
						continue // no answer, no effect
					}
					out.unknown = true
				}
				record(c, in, call, out)
			}
		}()
	}
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
		var l *procMember
		eventually(t, func() bool { l = g.leader(); return l != nil }, "a leader of three before kill %d", k+1)
		l.kill9()
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		g.start(l)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var done, unknown, refused int
	for _, op := range history {
		switch out := op.Output.(linOutput); {
		case out.unknown:
			unknown++
		case op.Input.(linInput).op != "read" && !out.ok:
			refused++
		case op.Input.(linInput).op != "read":
			done++
		}
	}
	t.Logf("%d operations: %d writes done, %d refused, %d with the answer lost", len(history), done, refused, unknown)
	require.Greater(t, done, 10*kills, "the clients got writes through")
	model := linModel.ToModel()
	model.Partition = linPartition
	model.DescribeOperation = func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch {
		case out.unknown:
			return fmt.Sprintf("%s %s → ?", in.op, in.app)
		case in.op == "read":
			return fmt.Sprintf("read %s → %s", in.app, out.state)
		}
		return fmt.Sprintf("%s %s → %v", in.op, in.app, out.ok)
	}
	res, info := porcupine.CheckOperationsVerbose(model, history, 2*time.Minute)
	if res == porcupine.Illegal {
		file := filepath.Join(os.TempDir(), fmt.Sprintf("jiujin-linearizability-%d.html", seed))
		if f, err := os.Create(file); err == nil {
			porcupine.Visualize(model, info, f)
			f.Close()
		}
		t.Fatalf("not linearizable (seed %d); the history is drawn in %s\n%s", seed, file, linDump(model, history))
	}
	require.NotEqual(t, porcupine.Unknown, res, "the check did not finish in time")
}

// linDump describes the first partition (application) whose history is not
// linearizable: the longest prefix that is, and the operations after it,
// in call order, times in ms from the start.
func linDump(model porcupine.Model, history []porcupine.Operation) string {
	var b strings.Builder
	for _, part := range linPartition(history) {
		m := model
		m.Partition = nil
		res, info := porcupine.CheckOperationsVerbose(m, part, time.Minute)
		if res != porcupine.Illegal {
			continue
		}
		longest := 0
		for _, l := range info.PartialLinearizations() {
			for _, seq := range l {
				longest = max(longest, len(seq))
			}
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		fmt.Fprintf(&b, "application %s: %d operations, the longest linearizable prefix has %d\n", part[0].Input.(linInput).app, len(part), longest)
		ms := func(t int64) string {
			if t == math.MaxInt64 {
				return "never"
			}
			return fmt.Sprintf("%.1f", float64(t)/1e6)
		}
		for _, op := range part {
			fmt.Fprintf(&b, "  client %d  %s .. %s  %s\n", op.ClientId, ms(op.Call), ms(op.Return), model.DescribeOperation(op.Input, op.Output))
		}
		break
	}
	return b.String()
}
