package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/jiujin/jiujin/cli/bench"
	"github.com/jiujin/jiujin/cli/client"
)

func newBenchCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "README 中的基准测试"}
	cmd.AddCommand(newBenchAcceptCmd(f), newBenchSyncCmd(f), newBenchCountyCmd(f))
	return cmd
}

// printReport writes a benchmark's report as its -o json answer: the
// report's own JSON form, indented.
func (f *Factory) printReport(rep any) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = fmt.Fprintln(f.Out, string(b))
	return err
}

// BenchAcceptOptions are the flags of `bench accept`.
type BenchAcceptOptions struct {
	bench.AcceptConfig
}

// BenchSyncOptions are the flags of `bench sync`.
type BenchSyncOptions struct {
	bench.SyncConfig
}

// BenchCountyOptions are the flags of `bench county`.
type BenchCountyOptions struct {
	bench.CountyConfig
	// MemberURLs is --members as given: the running group's members'
	// URLs, comma-separated, read into CountyConfig.Members.
	MemberURLs string
}

func newBenchAcceptCmd(f *Factory) *cobra.Command {
	o := &BenchAcceptOptions{}
	cmd := &cobra.Command{
		Use:   "accept",
		Short: "持久化受理吞吐：启动一个县节点子进程（fsync 开启），以 1 和 16 个并发客户端受理，测吞吐、延迟和常驻内存",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := bench.RunAccept(cmd.Context(), o.AcceptConfig)
			if err != nil {
				return err
			}
			if f.json() {
				return f.printReport(rep)
			}
			fmt.Fprintf(f.Out, "空闲常驻内存（导入清单后）：%.1f MiB\n", rep.IdleRSSMiB)
			t := &table{}
			t.add("并发", "受理数", "秒", "每秒受理", "p50 ms", "p99 ms", "峰值 RSS MiB")
			for _, r := range rep.Runs {
				t.add(strconv.Itoa(r.Clients), strconv.FormatInt(r.Accepted, 10), fmt.Sprintf("%.1f", r.Seconds),
					fmt.Sprintf("%.0f", r.PerSecond), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms), fmt.Sprintf("%.1f", r.PeakRSSMiB))
			}
			t.print(f.Out)
			return nil
		},
	}
	cmd.Flags().IntSliceVar(&o.Clients, "clients", []int{1, 16}, "concurrent clients, one run each")
	cmd.Flags().DurationVar(&o.Duration, "duration", 10*time.Second, "length of each run")
	cmd.Flags().DurationVar(&o.Settle, "settle", 3*time.Second, "wait before measuring idle memory")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "seed for the generated applicants")
	cmd.Flags().BoolVar(&o.TLS, "tls", false, "the node serves TLS with a certificate of a CA made for the run, as deployed")
	return cmd
}

func newBenchSyncCmd(f *Factory) *cobra.Command {
	o := &BenchSyncOptions{}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "同步：村→县单程与往返延迟、每跳转发吞吐、断线积压一万事件后的追平时间、每事件线上字节数、限速链路下的追平",
		Long: `bench sync runs a village, its township and the county in this process, on
loopback, fsync on, each child's link through the fault/shaping layer with its
TCP bytes counted, and measures:
  latency    village accepts -> the county has received it (one way), and
             -> the county decides -> the village sees the decision (round trip)
  relay      a village cut off while N events accumulate: events/s over the
             village-township hop, then over the township-county hop
  catch-up   the same backlog with both hops healed at once: time until the
             county holds it all, and TCP bytes per event per hop
  shaped     the catch-up through a 1 Mbit/s, 150 ms RTT village link, against
             bytes / bandwidth`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := bench.RunSync(cmd.Context(), o.SyncConfig)
			if err != nil {
				return err
			}
			if f.json() {
				return f.printReport(rep)
			}
			w := f.Out
			fmt.Fprintf(w, "延迟（%d 次）：村受理→县已接收 p50 %.2f ms，p99 %.2f ms；往返（→县办结→村可见）p50 %.2f ms，p99 %.2f ms\n",
				rep.Iterations, rep.OneWayP50Ms, rep.OneWayP99Ms, rep.RoundTripP50Ms, rep.RoundTripP99Ms)
			fmt.Fprintf(w, "实时同步每事件每跳线上字节：%.0f B\n", rep.LiveBytesPerEvent)
			fmt.Fprintf(w, "转发吞吐（积压 %d 个事件）：村→乡镇 %.0f 事件/秒，乡镇→县 %.0f 事件/秒\n", rep.CatchUpEvents, rep.HopVillageTownship, rep.HopTownshipCounty)
			fmt.Fprintf(w, "断线追平：重连后 %.2f 秒县里收齐；批量同步每事件每跳线上字节：%.0f B\n", rep.CatchUpSeconds, rep.CatchUpBytesPerEvent)
			if rep.ShapedSeconds > 0 {
				fmt.Fprintf(w, "限速链路（1 Mbit/s，RTT 150 ms）追平：%.2f 秒；村链路 %d 字节、%d 次请求；字节÷带宽 = %.2f 秒，实际多出 %.1f 个 RTT\n",
					rep.ShapedSeconds, rep.ShapedBytes, rep.ShapedPushes, rep.ShapedPredicted, (rep.ShapedSeconds-rep.ShapedPredicted)/0.150)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Iterations, "iterations", 300, "latency samples")
	cmd.Flags().IntVar(&o.CatchUp, "catch-up", 10000, "events accumulated at the cut-off village")
	cmd.Flags().BoolVar(&o.Shaped, "shaped", true, "also run the catch-up through a 1 Mbit/s, 150 ms RTT link")
	cmd.Flags().BoolVar(&o.TLS, "tls", false, "nodes speak mutual TLS with certificates of a CA made for the run, as deployed")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	return cmd
}

func newBenchCountyCmd(f *Factory) *cobra.Command {
	o := &BenchCountyOptions{}
	cmd := &cobra.Command{
		Use:   "county",
		Short: "县级三成员集群：并发写入与乡镇批量推送的提交吞吐和延迟，主节点被 kill -9 到下一次确认写入的时间",
		Long: `bench county measures the three-member county group on loopback, fsync on:
  writers    1, 16, 64 concurrent clients accepting single applications at the
             leader, each on its own connection: committed/s, p50/p99
  push       townships pushing their backlog to the leader in batches of 500
             events (one sync Push each, acknowledged after commit): events/s,
             p50/p99 per batch
  failover   three members as processes of this binary; the leader is killed
             with SIGKILL and a write is retried at a survivor until it is
             acknowledged: the time from the kill, per kill and the median;
             the killed member is restarted and catches up before the next kill
The first two run in this process (--cpuprofile profiles them).

With --members URL,URL,URL they measure a running group instead, one started
for the measurement (fresh members on machines of their own, as deployed): the
writers and the townships run here, the group is left running, and failover is
not measured. A group that already holds applications is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.MemberURLs != "" {
				urls, err := client.ParseURLList("--members", o.MemberURLs)
				if err != nil {
					return err
				}
				for _, u := range urls {
					o.Members = append(o.Members, u.String())
				}
				if !cmd.Flags().Changed("kills") {
					o.Kills = 0 // the default is for a group in this process
				}
			}
			rep, err := bench.RunCounty(cmd.Context(), o.CountyConfig)
			if err != nil {
				return err
			}
			if f.json() {
				return f.printReport(rep)
			}
			t := &table{}
			t.add("并发写入", "已提交", "每秒提交", "p50 ms", "p99 ms", "最长 ms", "重试", "每笔 CPU µs", "占用核")
			for _, r := range rep.Runs {
				cpu, cores := "-", "-"
				if r.CPUMicrosPerWrite > 0 {
					cpu, cores = fmt.Sprintf("%.0f", r.CPUMicrosPerWrite), fmt.Sprintf("%.2f", r.Cores)
				}
				t.add(fmt.Sprint(r.Writers), fmt.Sprint(r.Committed), fmt.Sprintf("%.0f", r.PerSecond), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms), fmt.Sprintf("%.0f", r.MaxMs), fmt.Sprint(r.Unavailable), cpu, cores)
			}
			t.print(f.Out)
			if p := rep.Push; p != nil {
				fmt.Fprintf(f.Out, "乡镇批量推送（%d 个乡镇，共 %d 批，每批 ≤%d 个事件）：%d 个事件，每秒 %.0f 个；每批 p50 %.2f ms，p99 %.2f ms\n",
					p.Townships, p.Batches, o.BatchEvents, p.Events, p.PerSecond, p.P50Ms, p.P99Ms)
			}
			if len(rep.FailoverMs) > 0 {
				fmt.Fprintf(f.Out, "主节点 kill -9 → 下一次确认写入（%d 次）：%v ms，中位数 %.2f 秒\n", len(rep.FailoverMs), rep.FailoverMs, rep.FailoverMedianS)
			}
			return nil
		},
	}
	cmd.Flags().IntSliceVar(&o.Writers, "writers", []int{1, 16, 64}, "concurrent writers, one run each")
	cmd.Flags().DurationVar(&o.Duration, "duration", 5*time.Second, "length of each run")
	cmd.Flags().IntVar(&o.PushTownships, "push-townships", 4, "townships pushing at once (0: no push run)")
	cmd.Flags().IntVar(&o.PushBatches, "push-batches", 5, "batches each township pushes")
	cmd.Flags().IntVar(&o.BatchEvents, "batch-events", 500, "events per pushed batch")
	cmd.Flags().IntVar(&o.Kills, "kills", 5, "leader kills to time (0: none)")
	cmd.Flags().StringVar(&o.Binary, "binary", "", "jiujin executable for the member processes (default: this one)")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the in-process runs to this file")
	cmd.Flags().BoolVar(&o.H2C, "h2c", false, "writers speak HTTP/2 without TLS (h2c), as nodes do to one another, instead of the command line's HTTP/1.1")
	cmd.Flags().StringVar(&o.MemberURLs, "members", "", "measure this running group (its members' URLs, comma-separated) instead of one in this process")
	_ = cmd.Flags().MarkHidden("binary")
	return cmd
}
