package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/dgraph-io/badger/v4"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/api/gen/jiujin/v1/jiujinv1connect"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/tiers"
)

// treeNet is a whole county: the county node a process of its own (so
// that its CPU and memory are its alone), its townships and their
// villages nodes in this process, every one with its badger directory,
// TLS listener, node certificate and link to its parent.
type treeNet struct {
	cfg     TreeConfig
	dir     string
	cal     *delegation.Calendar
	bundles map[string]*auth.Bundle
	quiet   *slog.Logger

	countyProc   *exec.Cmd
	countyAddr   string // 127.0.0.1:PORT, the same after a restart
	countyURL    string
	countyExited chan struct{}
	hc           *http.Client
	admin        connect.ClientOption
	approver     *session

	mu      gosync.Mutex
	towns   []*node.Node
	townCfg []node.Config
	vills   []*node.Node

	// Applications accepted, by id: where and when, and when their
	// decision was seen at the window.
	appsMu   gosync.Mutex
	apps     map[string]*outcome
	pending  []map[string]*outcome // per village: accepted, decision not yet seen there
	accepted int                   // acceptCmd's counter
	phase    int                   // of the applications accepted now
	rng      *rand.Rand
	profiles int // county processes profiled so far
}

type outcome struct {
	phase      int
	village    int
	acceptedAt time.Time
	decidedAt  time.Time
}

func townCode(i int) string              { return fmt.Sprintf("%s%03d", seed.County, 101+i) }
func villCode(town string, j int) string { return fmt.Sprintf("%s%03d", town, 201+j) }

// town is the i-th township's node as it runs now (nil while it is down).
func (t *treeNet) town(i int) *node.Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.towns[i]
}

// townOf is the township index of a village index.
func (t *treeNet) townOf(v int) int { return v / t.cfg.Villages }

func startTreeNet(ctx context.Context, cfg TreeConfig, dir string) (*treeNet, error) {
	cal, err := delegation.LoadCalendar(strings.NewReader(string(seed.Calendar)))
	if err != nil {
		return nil, err
	}
	t := &treeNet{cfg: cfg, dir: dir, cal: cal, quiet: slog.New(slog.NewTextHandler(io.Discard, nil)),
		apps: map[string]*outcome{}, rng: rand.New(rand.NewPCG(cfg.Seed, 2))}
	units := []string{seed.County}
	for i := 0; i < cfg.Townships; i++ {
		units = append(units, townCode(i))
		for j := 0; j < cfg.Villages; j++ {
			units = append(units, villCode(townCode(i), j))
		}
	}
	if t.bundles, err = benchCertificates(filepath.Join(dir, "ca"), units); err != nil {
		return nil, err
	}
	t.hc = client.NewHTTPClient(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: t.bundles[seed.County].Pool})
	if err := t.startCounty(ctx, "127.0.0.1:0"); err != nil {
		return nil, err
	}
	if err := t.seedCounty(ctx); err != nil {
		t.close()
		return nil, err
	}
	t.towns = make([]*node.Node, cfg.Townships)
	t.townCfg = make([]node.Config, cfg.Townships)
	t.pending = make([]map[string]*outcome, cfg.Townships*cfg.Villages)
	for i := range t.pending {
		t.pending[i] = map[string]*outcome{}
	}
	for i := 0; i < cfg.Townships; i++ {
		c := t.nodeConfig(townCode(i), t.countyURL)
		n, err := node.Start(c)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("township %s: %w", townCode(i), err)
		}
		c.Listen = n.Addr().String() // a restart comes back where its villages look
		t.towns[i], t.townCfg[i] = n, c
	}
	for i := 0; i < cfg.Townships; i++ {
		for j := 0; j < cfg.Villages; j++ {
			n, err := node.Start(t.nodeConfig(villCode(townCode(i), j), t.towns[i].URL()))
			if err != nil {
				t.close()
				return nil, fmt.Errorf("village %s: %w", villCode(townCode(i), j), err)
			}
			t.vills = append(t.vills, n)
		}
	}
	return t, nil
}

// nodeConfig is an in-process node's: deployed defaults (fsync, long
// polls, backoff, probes) but smaller memtables, and values of more than
// an eighth of one kept in the value log (badger's largest batch is 15 %
// of a memtable).
func (t *treeNet) nodeConfig(unit, parent string) node.Config {
	mt := int64(t.cfg.MemTableMiB) << 20
	return node.Config{Unit: tiers.Unit(unit), Listen: "127.0.0.1:0", DataDir: filepath.Join(t.dir, unit), Calendar: t.cal,
		Logger: t.quiet, TLS: t.bundles[unit], Parents: []string{parent}, RenewEvery: -1,
		Tune: func(o badger.Options) badger.Options {
			return o.WithMemTableSize(mt).WithValueThreshold(min(o.ValueThreshold, mt/8))
		}}
}

// startCounty starts (or starts again) the county node process.
func (t *treeNet) startCounty(ctx context.Context, listen string) error {
	bin := t.cfg.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		bin = exe
	}
	args := []string{"node", "start", "--unit", seed.County, "--listen", listen,
		"--data", filepath.Join(t.dir, seed.County), "--tls-dir", filepath.Join(t.dir, "ca", "tls-"+seed.County)}
	if t.cfg.CPUProfile != "" {
		t.profiles++
		args = append(args, "--cpuprofile", fmt.Sprintf("%s.county%d", t.cfg.CPUProfile, t.profiles))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("county process: %w", err)
	}
	urlCh := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := urlLine.FindString(sc.Text()); m != "" {
				select {
				case urlCh <- m:
				default:
				}
			}
		}
		cmd.Wait()
		close(exited)
	}()
	select {
	case u := <-urlCh:
		if t.countyURL != "" && u != t.countyURL {
			cmd.Process.Kill()
			return fmt.Errorf("county process came back at %s, not %s", u, t.countyURL)
		}
		t.countyProc, t.countyExited = cmd, exited
		if t.countyURL == "" { // set once: the deciders read it meanwhile
			t.countyURL, t.countyAddr = u, strings.TrimPrefix(u, "https://")
		}
		return nil
	case <-exited:
		return fmt.Errorf("county process exited before it listened")
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		return fmt.Errorf("county process did not start")
	}
}

// killCounty stops the county process at once (SIGKILL).
func (t *treeNet) killCounty() {
	if t.countyProc != nil {
		t.countyProc.Process.Kill()
		<-t.countyExited
		t.countyProc = nil
	}
}

// seedCounty makes the county's operators and publishes the seed catalog,
// a worker account for every township and village, and delegations:
// MZ-005 (老年人优待证) devolved to every other township, so that half of
// the working day is decided at townships and half at the county.
func (t *treeNet) seedCounty(ctx context.Context) error {
	admin, _, err := operators(ctx, t.hc, t.countyURL)
	if err != nil {
		return err
	}
	t.admin = admin
	req, err := delegation.ParseCatalogYAML(strings.NewReader(string(seed.Catalog)))
	if err != nil {
		return err
	}
	if _, err := jiujinv1connect.NewCatalogServiceClient(t.hc, t.countyURL, admin).ImportCatalog(ctx, connect.NewRequest(req)); err != nil {
		return fmt.Errorf("import catalog: %w", err)
	}
	accts := jiujinv1connect.NewAccountServiceClient(t.hc, t.countyURL, admin)
	if _, err := accts.AddAccount(ctx, connect.NewRequest(&pb.AddAccountRequest{Login: "shenpi", Name: "民政审批", Unit: seed.County,
		Roles: []string{rules.RoleApprover}, Department: "MZ", Password: "Bench-approver-1"})); err != nil {
		return fmt.Errorf("add approver: %w", err)
	}
	t.approver = &session{hc: t.hc, url: t.countyURL, login: "shenpi", first: "Bench-approver-1", next: "Bench-approver-2"}
	dels := jiujinv1connect.NewDelegationServiceClient(t.hc, t.countyURL, admin)
	for i := 0; i < t.cfg.Townships; i += 2 {
		if _, err := dels.GrantDelegation(ctx, connect.NewRequest(&pb.GrantDelegationRequest{MatterCode: "MZ-005", Unit: townCode(i), Mode: delegation.ModeDevolve})); err != nil {
			return fmt.Errorf("grant MZ-005 to %s: %w", townCode(i), err)
		}
	}
	for i := 0; i < t.cfg.Townships; i++ {
		units := []string{townCode(i)}
		for j := 0; j < t.cfg.Villages; j++ {
			units = append(units, villCode(townCode(i), j))
		}
		for _, u := range units {
			if _, err := accts.AddAccount(ctx, connect.NewRequest(&pb.AddAccountRequest{Login: "w" + u, Name: "窗口" + u[6:], Unit: u,
				Roles: []string{rules.RoleWorker}, Password: "Bench-worker-1"})); err != nil {
				return fmt.Errorf("add worker of %s: %w", u, err)
			}
		}
	}
	return nil
}

// session is an operator's session at the county, logged in again when
// the county forgets it (after a restart).
type session struct {
	hc          *http.Client
	url         string
	login       string
	first, next string // the password set by the administrator, and the one the operator chose
	token       atomic.Pointer[string]
}

func (s *session) logIn(ctx context.Context) error {
	accts := jiujinv1connect.NewAccountServiceClient(s.hc, s.url)
	res, err := accts.Login(ctx, connect.NewRequest(&pb.LoginRequest{Login: s.login, Password: s.next}))
	if err != nil {
		res, err = accts.Login(ctx, connect.NewRequest(&pb.LoginRequest{Login: s.login, Password: s.first, NewPassword: s.next}))
	}
	if err != nil {
		return fmt.Errorf("log in %s: %w", s.login, err)
	}
	tok := res.Msg.GetToken()
	s.token.Store(&tok)
	return nil
}

func (s *session) option() connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if tok := s.token.Load(); tok != nil {
				req.Header().Set("Authorization", "Bearer "+*tok)
			}
			return next(ctx, req)
		}
	}))
}

// decideAtCounty is the county's 民政 approvers (countyApprovers of them
// at once): whatever waits on the county, received, is approved; a county
// that is down is asked again.
func (t *treeNet) decideAtCounty(ctx context.Context) {
	apps := jiujinv1connect.NewApplicationServiceClient(t.hc, t.countyURL, t.approver.option())
	for ctx.Err() == nil {
		if t.approver.token.Load() == nil {
			if err := t.approver.logIn(ctx); err != nil {
				sleep(ctx, 200*time.Millisecond)
				continue
			}
		}
		res, err := apps.ListApplications(ctx, connect.NewRequest(&pb.ListApplicationsRequest{Mine: true, State: rules.StateReceived, Limit: 1000}))
		if connect.CodeOf(err) == connect.CodeUnauthenticated {
			t.approver.token.Store(nil)
			continue
		}
		if err != nil || len(res.Msg.GetApplications()) == 0 {
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		ids := make(chan string)
		var wg gosync.WaitGroup
		for range countyApprovers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range ids {
					apps.DecideApplication(ctx, connect.NewRequest(&pb.DecideApplicationRequest{Id: id, Approve: true, Reason: "符合条件"}))
				}
			}()
		}
		for _, a := range res.Msg.GetApplications() {
			ids <- a.GetId()
		}
		close(ids)
		wg.Wait()
	}
}

// countyApprovers decide at the county at once.
const countyApprovers = 4

// decideAtTownship is a township's clerk: what waits on it, received, is
// approved, as it arrives.
func (t *treeNet) decideAtTownship(ctx context.Context, i int) {
	for ctx.Err() == nil {
		n := t.town(i)
		if n == nil {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		changed := n.Store.Changed()
		list, _, err := n.Rules.ListApplications(rules.AppFilter{Mine: true, State: rules.StateReceived, Limit: 1000})
		if err == nil {
			for _, a := range list {
				if _, err := n.Apply(ctx, &pb.Command{NowMs: time.Now().UnixMilli(), Actor: "乡镇经办",
					Op: &pb.Command_Decide{Decide: &pb.DecideApplicationRequest{Id: a.GetId(), Approve: true, Reason: "符合条件"}}}); err != nil {
					break
				}
			}
		}
		select {
		case <-changed:
		case <-time.After(200 * time.Millisecond): // the node may have been stopped and started again
		case <-ctx.Done():
		}
	}
}

// watchWindow notes when each application accepted at village v is seen
// decided there.
func (t *treeNet) watchWindow(ctx context.Context, v int) {
	n := t.vills[v]
	for ctx.Err() == nil {
		changed := n.Store.Changed()
		t.appsMu.Lock()
		ids := make([]string, 0, len(t.pending[v]))
		for id := range t.pending[v] {
			ids = append(ids, id)
		}
		t.appsMu.Unlock()
		for _, id := range ids {
			if a, _, err := n.Rules.GetApplication(id); err == nil && a.GetState() == rules.StateApproved {
				now := time.Now()
				t.appsMu.Lock()
				if o := t.pending[v][id]; o != nil {
					o.decidedAt = now
					delete(t.pending[v], id)
				}
				t.appsMu.Unlock()
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// acceptAt has n applications accepted evenly over d at villages drawn
// (seeded) from among, by as many windows at once as it takes; it returns
// the last id accepted at each village (by index).
func (t *treeNet) acceptAt(ctx context.Context, n int, d time.Duration, among []int) (map[int]string, error) {
	type job struct {
		v, i int
		at   time.Time
	}
	jobs := make(chan job)
	var mu gosync.Mutex
	last := map[int]string{}
	var firstErr error
	var wg gosync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				t0 := time.Now()
				out, err := t.vills[j.v].Apply(ctx, acceptCmd(j.i))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("accept at %s: %w", t.vills[j.v].Store.Unit(), err)
				}
				mu.Unlock()
				if err != nil {
					continue
				}
				id := out.(*pb.Application).GetId()
				t.appsMu.Lock()
				o := &outcome{phase: t.phase, village: j.v, acceptedAt: t0}
				t.apps[id], t.pending[j.v][id] = o, o
				t.appsMu.Unlock()
				mu.Lock()
				if id > last[j.v] {
					last[j.v] = id
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for k := 0; k < n && ctx.Err() == nil; k++ {
		at := start.Add(time.Duration(int64(d) * int64(k) / int64(n)))
		sleep(ctx, time.Until(at))
		t.appsMu.Lock()
		v, i := among[t.rng.IntN(len(among))], t.accepted
		t.accepted++
		t.appsMu.Unlock()
		jobs <- job{v: v, i: i, at: at}
	}
	close(jobs)
	wg.Wait()
	return last, errors.Join(firstErr, ctx.Err())
}

// waitDecided waits until every application accepted so far is seen
// decided at its window; it returns how many are not.
func (t *treeNet) waitDecided(ctx context.Context, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		t.appsMu.Lock()
		for _, p := range t.pending {
			left += len(p)
		}
		t.appsMu.Unlock()
		if left == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return left
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// countyHolds is when the county has acknowledged, as the township of
// village v sees it, everything the village did up to application id.
func (t *treeNet) countyHolds(v int, id string) bool {
	n := t.town(t.townOf(v))
	if n == nil {
		return false
	}
	u := n.Rules.Upstream(id)
	return u != nil && u.GetState() == rules.UpstreamAtCounty
}

// windowKnows is when village v itself shows application id as held by
// the county (已送达县级).
func (t *treeNet) windowKnows(v int, id string) bool {
	u := t.vills[v].Rules.Upstream(id)
	return u != nil && u.GetState() == rules.UpstreamAtCounty
}

func (t *treeNet) close() {
	var wg gosync.WaitGroup
	t.mu.Lock()
	nodes := append(append([]*node.Node(nil), t.vills...), t.towns...)
	t.mu.Unlock()
	for _, n := range nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func(n *node.Node) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n.Shutdown(ctx)
		}(n)
	}
	wg.Wait()
	t.stopCounty()
}

// stopCounty stops the county process as an operator would (SIGTERM),
// so that it writes its profile.
func (t *treeNet) stopCounty() {
	if t.countyProc == nil {
		return
	}
	t.countyProc.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.countyExited:
		t.countyProc = nil
	case <-time.After(15 * time.Second):
		t.killCounty()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
