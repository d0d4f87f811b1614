package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/internal/freeport"
)

// procMember is a county member running as a process of the binary.
type procMember struct {
	bin, addr, raft, dir string
	cmd                  *exec.Cmd
	log                  *os.File
	exited               chan struct{}
}

func (m *procMember) url() string { return "http://" + m.addr }

// start runs the member; extra are the first start's --bootstrap/--join.
func (m *procMember) start(extra ...string) error {
	args := append([]string{"node", "start", "--insecure", "--unit", seed.County, "--listen", m.addr, "--data", m.dir, "--raft-listen", m.raft,
		"--memory-limit", "0"}, extra...)
	if m.log == nil {
		var err error
		if m.log, err = os.Create(m.dir + ".log"); err != nil {
			return err
		}
	}
	m.cmd = exec.Command(m.bin, args...)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", m.bin, err)
	}
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(m.cmd, m.exited)
	return nil
}

// kill9 kills the member with SIGKILL and waits for it to be gone.
func (m *procMember) kill9() {
	m.cmd.Process.Kill()
	<-m.exited
}

// stop asks the member to stop, and kills it if it does not.
func (m *procMember) stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.kill9()
	}
	m.log.Close()
}

// status is the member's view of the group, or an error if it does not
// answer.
func (m *procMember) status(ctx context.Context, c jiujinv1connect.ClusterServiceClient) (*pb.GetClusterStatusResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	res, err := c.GetClusterStatus(cctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// runFailover starts three members as processes and, cfg.Kills times,
// kills the leader with SIGKILL and times how long until a write sent to
// a survivor is acknowledged. The killed member is restarted and has
// caught up with the group before the next kill.
func runFailover(ctx context.Context, cfg CountyConfig, dir string, catalog *pb.ImportCatalogRequest) ([]float64, error) {
	bin := cfg.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var ms []*procMember
	defer func() {
		for _, m := range ms {
			m.stop()
		}
	}()
	for i := 0; i < 3; i++ {
		addr, err := freeport.Loopback()
		if err != nil {
			return nil, err
		}
		raftAddr, err := freeport.Loopback()
		if err != nil {
			return nil, err
		}
		ms = append(ms, &procMember{bin: bin, addr: addr, raft: raftAddr, dir: filepath.Join(dir, fmt.Sprint(i))})
	}
	hc := client.NewHTTPClient(nil)
	defer hc.CloseIdleConnections()
	clusters := map[*procMember]jiujinv1connect.ClusterServiceClient{}
	var urls []string
	for _, m := range ms {
		clusters[m] = jiujinv1connect.NewClusterServiceClient(hc, m.url())
		urls = append(urls, m.url())
	}
	// up waits until m answers, naming a leader.
	up := func(m *procMember) error {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-m.exited:
				return fmt.Errorf("member %s exited; its log: %s.log", m.url(), m.dir)
			default:
			}
			if s, err := m.status(ctx, clusters[m]); err == nil && s.GetLeader() != "" {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("member %s did not come up; its log: %s.log", m.url(), m.dir)
	}
	if err := ms[0].start("--bootstrap"); err != nil {
		return nil, err
	}
	if err := up(ms[0]); err != nil {
		return nil, err
	}
	for _, m := range ms[1:] {
		if err := m.start("--join", ms[0].url()); err != nil {
			return nil, err
		}
		if err := up(m); err != nil {
			return nil, err
		}
	}
	leaderURL, err := GroupLeader(ctx, urls, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := jiujinv1connect.NewCatalogServiceClient(hc, leaderURL).ImportCatalog(ctx, connect.NewRequest(catalog)); err != nil {
		return nil, err
	}
	var out []float64
	for k := 0; k < cfg.Kills; k++ {
		leaderURL, err := GroupLeader(ctx, urls, 30*time.Second)
		if err != nil {
			return nil, err
		}
		var leader, survivor *procMember
		for _, m := range ms {
			if m.url() == leaderURL {
				leader = m
			} else if survivor == nil {
				survivor = m
			}
		}
		apps := jiujinv1connect.NewApplicationServiceClient(hc, survivor.url())
		leader.kill9()
		t0 := time.Now()
		for i := 0; ; i++ {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := apps.AcceptApplication(cctx, connect.NewRequest(acceptCmd(900000+k*1000+i).GetAccept()))
			cancel()
			if err == nil {
				break
			}
			if time.Since(t0) > 30*time.Second {
				return nil, fmt.Errorf("no write acknowledged 30 s after the leader was killed: %w", err)
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		out = append(out, float64(time.Since(t0).Milliseconds()))
		// Back, and caught up, before the next kill.
		if err := leader.start(); err != nil {
			return nil, err
		}
		if err := up(leader); err != nil {
			return nil, err
		}
		if err := caughtUp(ctx, leader, clusters); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// caughtUp waits until m has applied as far as the leader had when asked.
func caughtUp(ctx context.Context, m *procMember, clusters map[*procMember]jiujinv1connect.ClusterServiceClient) error {
	deadline := time.Now().Add(60 * time.Second)
	var target uint64
	for time.Now().Before(deadline) {
		s, err := m.status(ctx, clusters[m])
		if err == nil && target == 0 {
			for other, c := range clusters {
				if ls, err := other.status(ctx, c); err == nil && ls.GetLeader() == ls.GetId() {
					target = ls.GetApplied()
				}
			}
		}
		if err == nil && target > 0 && s.GetApplied() >= target {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the restarted member did not catch up within 60 s")
}
