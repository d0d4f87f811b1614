package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/internal/freeport"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/tiers"
)

// Group is a three-member county group in this process (the demo
// county's), as `bench county` measures it when given no --members.
type Group struct {
	// Members are the group's nodes, the bootstrapping one first.
	Members []*node.Node
}

// StartGroup starts a three-member county group in this process, its
// members' data under dir, logging nothing; the first bootstraps the group
// and the others join through it. GroupLeader tells when it has elected a
// leader.
func StartGroup(dir string, cal *delegation.Calendar) (*Group, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := &Group{}
	for i := 0; i < 3; i++ {
		raftAddr, err := freeport.Loopback()
		if err != nil {
			g.Close()
			return nil, err
		}
		rc := &cluster.RaftConfig{Listen: raftAddr, Bootstrap: i == 0}
		if i > 0 {
			rc.Join = []string{g.Members[0].URL()}
		}
		n, err := node.Start(node.Config{Insecure: true, Unit: tiers.MustParse(seed.County), Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, fmt.Sprint(i)),
			Calendar: cal, Logger: quiet, Raft: rc})
		if err != nil {
			g.Close()
			return nil, err
		}
		g.Members = append(g.Members, n)
	}
	return g, nil
}

// URLs are the members' URLs.
func (g *Group) URLs() []string {
	var out []string
	for _, n := range g.Members {
		out = append(out, n.URL())
	}
	return out
}

// Close shuts the members down, all at once.
func (g *Group) Close() {
	var wg sync.WaitGroup
	for _, n := range g.Members {
		wg.Add(1)
		go func() { defer wg.Done(); n.Shutdown(context.Background()) }()
	}
	wg.Wait()
}

// GroupLeader waits up to timeout for one of urls to lead a group of
// exactly those members and returns its URL.
func GroupLeader(ctx context.Context, urls []string, timeout time.Duration) (string, error) {
	hc := client.NewHTTPClient(nil)
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, u := range urls {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			s, err := jiujinv1connect.NewClusterServiceClient(hc, u).GetClusterStatus(cctx, connect.NewRequest(&pb.GetClusterStatusRequest{}))
			cancel()
			if err == nil && s.Msg.GetLeader() == u && len(s.Msg.GetMembers()) == len(urls) {
				return u, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("no member leads a group of the %d members %v after %s", len(urls), urls, timeout)
}
