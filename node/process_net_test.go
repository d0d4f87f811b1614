package node

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/internal/freeport"
	"github.com/jiujin/jiujin/node/rules"
)

// procNode is a node running as its own process on a fixed port, so it can
// be killed and started again where its children expect it.
type procNode struct {
	t       *testing.T
	bin     string
	unit    string
	addr    string
	dir     string
	parents []string
	cmd     *exec.Cmd
	apps    jiujinv1connect.ApplicationServiceClient
	catalog jiujinv1connect.CatalogServiceClient
}

func freeAddr(t *testing.T) string {
	addr, err := freeport.Loopback()
	require.NoError(t, err)
	return addr
}

func (p *procNode) url() string { return "http://" + p.addr }

func (p *procNode) start() {
	args := []string{"node", "start", "--insecure", "--unit", p.unit, "--listen", p.addr, "--data", p.dir}
	if len(p.parents) > 0 {
		args = append(args, "--parent", strings.Join(p.parents, ","))
	}
	cmd, _ := startProcessArgs(p.t, p.bin, args...)
	p.cmd = cmd
}

func (p *procNode) kill9() {
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	p.cmd.Wait()
}

// startProcessArgs starts the binary and waits for its URL line.
func startProcessArgs(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var acc string
		for {
			n, err := out.Read(buf)
			acc += string(buf[:n])
			if u := nodeURL.FindString(acc); u != "" {
				urls <- u
				for err == nil { // keep draining
					_, err = out.Read(buf)
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(30 * time.Second):
		t.Fatalf("node process did not start: %v\n%s", args, logs.String())
	}
	return nil, ""
}

func TestProcessesConvergeAfterKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin, err := buildBinary()
	require.NoError(t, err)
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 5 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	mk := func(unit string, parents ...string) *procNode {
		p := &procNode{t: t, bin: bin, unit: unit, addr: freeAddr(t), dir: t.TempDir(), parents: parents}
		p.start()
		p.apps = jiujinv1connect.NewApplicationServiceClient(hc, p.url())
		p.catalog = jiujinv1connect.NewCatalogServiceClient(hc, p.url())
		return p
	}
	ctx := context.Background()
	county := mk("330324")
	_, err = county.catalog.ImportCatalog(ctx, connect.NewRequest(seedCatalog(t)))
	require.NoError(t, err)
	town := mk("330324101", county.url())
	v1 := mk("330324101201", town.url())
	v2 := mk("330324101202", town.url())
	for _, v := range []*procNode{v1, v2} {
		eventually(t, func() bool {
			_, err := v.catalog.GetMatter(ctx, connect.NewRequest(&pb.GetMatterRequest{Code: "MZ-005"}))
			return err == nil
		}, "catalog reaches %s", v.unit)
	}

	// Villages accept all along; every acknowledged acceptance must arrive.
	var mu gosync.Mutex
	acked := map[string]string{} // id -> village
	stop := make(chan struct{})
	var wg gosync.WaitGroup
	for _, v := range []*procNode{v1, v2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := v.apps.AcceptApplication(ctx, connect.NewRequest(acceptReq()))
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the village itself is down
					continue
				}
				mu.Lock()
				acked[res.Msg.GetApplication().GetId()] = v.unit
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	eventually(t, func() bool { return count() > 100 }, "villages accept")
	town.kill9() // mid-relay
	n := count()
	eventually(t, func() bool { return count() > n+100 }, "villages keep accepting with the township down")
	town.start()
	eventually(t, func() bool { return count() > n+200 }, "and after it is back")
	v1.kill9() // mid-sync: it has a backlog to push
	time.Sleep(200 * time.Millisecond)
	v1.start()
	eventually(t, func() bool { return count() > n+300 }, "and after the village is back")
	close(stop)
	wg.Wait()

	// Everything acknowledged reaches the county and is received there.
	// (The county may hold more: a kill -9 can fall between a village's
	// commit and its answer. What was acknowledged must all be there.)
	want := count()
	ok := waitFor(20*time.Second, func() bool {
		res, err := county.apps.ListApplications(ctx, connect.NewRequest(&pb.ListApplicationsRequest{State: rules.StateReceived, Limit: 1000}))
		if err != nil || int(res.Msg.GetTotal()) < want {
			return false
		}
		have := map[string]bool{}
		for _, a := range res.Msg.GetApplications() {
			have[a.GetId()] = true
		}
		mu.Lock()
		defer mu.Unlock()
		for id := range acked {
			if !have[id] {
				return false
			}
		}
		return true
	})
	if !ok {
		// Say where the missing ones are stuck.
		mu.Lock()
		for id, u := range acked {
			where := []string{}
			for _, p := range []*procNode{county, town, v1, v2} {
				res, err := p.apps.GetApplication(ctx, connect.NewRequest(&pb.GetApplicationRequest{Id: id}))
				if err == nil {
					where = append(where, p.unit+":"+res.Msg.GetApplication().GetState())
				}
			}
			if len(where) < 3 || !strings.Contains(strings.Join(where, " "), "330324:received") {
				t.Errorf("%s (from %s) is at %v", id, u, where)
			}
		}
		mu.Unlock()
		for _, p := range []*procNode{town, v1, v2} {
			st, err := jiujinv1connect.NewNodeServiceClient(hc, p.url()).GetStatus(ctx, connect.NewRequest(&pb.GetStatusRequest{}))
			if err == nil {
				t.Logf("%s: head %d links %v quarantined %d held %d", p.unit, st.Msg.GetFeedHead(), st.Msg.GetLinks(), st.Msg.GetQuarantined(), st.Msg.GetHeldBack())
			}
		}
		t.FailNow()
	}
	// The county decides one from each village; the decision comes back.
	mu.Lock()
	var pickV1, pickV2 string
	for id, u := range acked {
		if u == v1.unit && pickV1 == "" {
			pickV1 = id
		}
		if u == v2.unit && pickV2 == "" {
			pickV2 = id
		}
	}
	mu.Unlock()
	for _, p := range []struct {
		id string
		v  *procNode
	}{{pickV1, v1}, {pickV2, v2}} {
		_, err := county.apps.DecideApplication(ctx, connect.NewRequest(&pb.DecideApplicationRequest{Id: p.id, Approve: true, Reason: "同意"}))
		require.NoError(t, err)
		eventually(t, func() bool {
			res, err := p.v.apps.GetApplication(ctx, connect.NewRequest(&pb.GetApplicationRequest{Id: p.id}))
			return err == nil && res.Msg.GetApplication().GetState() == rules.StateApproved
		}, "decision reaches %s", p.v.unit)
	}
	// Each store, opened after a last kill -9, is gap-free and consistent.
	for _, p := range []*procNode{county, town, v1, v2} {
		p.kill9()
		st, err := openSolo(soloConfig{Dir: p.dir, Unit: tiersUnit(p.unit), Calendar: seedCalendar(t)})
		require.NoError(t, err)
		_, err = st.Verify()
		require.NoError(t, err, p.unit)
		q, held := st.SyncCounts()
		require.Zero(t, q, fmt.Sprintf("%s quarantined", p.unit))
		require.Zero(t, held)
		require.NoError(t, st.Close())
	}
	t.Logf("%d acknowledged acceptances, all at the county", want)
}

// lockedBuffer collects a process's log for the failure message.
type lockedBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
