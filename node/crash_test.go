package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
)

// buildBinary builds the jiujin command once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "jiujin-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "jiujin")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/jiujin/jiujin").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

var nodeURL = regexp.MustCompile(`https?://127\.0\.0\.1:[0-9]+`)

// startProcess starts a node as a separate process and returns its URL.
func startProcess(t *testing.T, bin, unit, dir string) (*exec.Cmd, string) {
	t.Helper()
	return startProcessArgs(t, bin, "node", "start", "--insecure", "--unit", unit, "--listen", "127.0.0.1:0", "--data", dir)
}

// TestKillNineMidWrite kills a node process with SIGKILL while clients
// write to it, three times over. Each time the store must reopen with a
// gap-free feed, every record equal to the fold of its events, and every
// acceptance that was acknowledged still there.
func TestKillNineMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin, err := buildBinary()
	require.NoError(t, err)
	dir := t.TempDir()
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	acked := map[string]bool{}
	var mu sync.Mutex
	for round := 0; round < 3; round++ {
		proc, url := startProcess(t, bin, county, dir)
		hc := &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 10 * time.Second}
		apps := jiujinv1connect.NewApplicationServiceClient(hc, url)
		if round == 0 {
			_, err := jiujinv1connect.NewCatalogServiceClient(hc, url).ImportCatalog(context.Background(), connect.NewRequest(seedCatalog(t)))
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		enough := make(chan struct{})
		var once sync.Once
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					res, err := apps.AcceptApplication(context.Background(), connect.NewRequest(acceptReq()))
					if err != nil {
						return // the process is gone
					}
					mu.Lock()
					acked[res.Msg.GetApplication().GetId()] = true
					if len(acked) >= 200*(round+1) {
						once.Do(func() { close(enough) })
					}
					mu.Unlock()
				}
			}()
		}
		select {
		case <-enough:
		case <-time.After(60 * time.Second):
			t.Fatal("writes did not get going")
		}
		require.NoError(t, proc.Process.Signal(syscall.SIGKILL)) // mid-write: clients are still sending
		close(stop)
		wg.Wait()
		proc.Wait()
		hc.CloseIdleConnections()

		st, err := openSolo(soloConfig{Dir: dir, Unit: county, Calendar: seedCalendar(t)})
		require.NoError(t, err)
		rep, err := st.Verify()
		require.NoError(t, err, "round %d", round)
		mu.Lock()
		for id := range acked {
			_, _, err := st.GetApplication(id)
			require.NoError(t, err, "acknowledged %s lost in round %d", id, round)
		}
		mu.Unlock()
		t.Logf("round %d: %d events, %d acknowledged acceptances survive", round, rep.Events, len(acked))
		require.NoError(t, st.Close())
	}
}
