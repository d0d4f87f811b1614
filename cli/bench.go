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
	cmd.AddCommand(newBenchAcceptCmd(f), newBenchSyncCmd(f), newBenchCountyCmd(f), newBenchTreeCmd(f))
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
	cmd.Flags().IntSliceVar(&o.Clients, "clients", []int{1, 16}, "并发客户端数，每个值测一轮")
	cmd.Flags().DurationVar(&o.Duration, "duration", 10*time.Second, "每轮时长")
	cmd.Flags().DurationVar(&o.Settle, "settle", 3*time.Second, "测量空闲内存前等待的时间")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "生成申请人所用的随机种子")
	cmd.Flags().BoolVar(&o.TLS, "tls", false, "节点按部署方式提供 TLS，证书由本次测试临时建立的 CA 签发")
	return cmd
}

func newBenchSyncCmd(f *Factory) *cobra.Command {
	o := &BenchSyncOptions{}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "同步：村→县单程与往返延迟、每跳转发吞吐、断线积压一万事件后的追平时间、每事件线上字节数、限速链路下的追平",
		Long: `bench sync 在本进程内、本机回环地址上运行一个村、其乡镇和县三个节点（落盘同步开启），
每条下级链路经过故障/限速层并统计 TCP 字节数，测量：
  延迟    村受理 -> 县收到（单程）；县办结 -> 村看到结果（往返）
  转发    村断线期间积压 N 个事件：村-乡镇一跳、乡镇-县一跳各自每秒转发的事件数
  追平    同样的积压在两跳同时恢复后：县收齐所需时间，每跳每事件的 TCP 字节数
  限速    在 1 Mbit/s、往返 150 ms 的村级链路上追平，与“字节数 / 带宽”对照`,
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
	cmd.Flags().IntVar(&o.Iterations, "iterations", 300, "延迟采样次数")
	cmd.Flags().IntVar(&o.CatchUp, "catch-up", 10000, "断线村积压的事件数")
	cmd.Flags().BoolVar(&o.Shaped, "shaped", true, "另在 1 Mbit/s、往返 150 ms 的限速链路上测追平")
	cmd.Flags().BoolVar(&o.TLS, "tls", false, "节点之间按部署方式使用双向 TLS，证书由本次测试临时建立的 CA 签发")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "把本次运行的 CPU 剖析写入此文件")
	return cmd
}

func newBenchCountyCmd(f *Factory) *cobra.Command {
	o := &BenchCountyOptions{}
	cmd := &cobra.Command{
		Use:   "county",
		Short: "县级三成员集群：并发写入与乡镇批量推送的提交吞吐和延迟，主节点被 kill -9 到下一次确认写入的时间",
		Long: `bench county 在本机回环地址上测量县级三成员集群（落盘同步开启）：
  写入    1、16、64 个并发客户端各用一条连接在主节点受理单件办件：每秒提交数，p50/p99
  推送    各乡镇把积压按每批 500 个事件推送给主节点（每批一次同步推送，提交后确认）：
          每秒事件数，每批 p50/p99
  切换    三个成员为本程序的独立进程；用 SIGKILL 杀掉主节点，在幸存成员上重试写入直到确认：
          从 kill 起算的时间，逐次及中位数；被杀成员重启并追平后再进行下一次
前两项在本进程内运行（--cpuprofile 对它们剖析）。

给出 --members URL,URL,URL 时改为测量一个正在运行的集群（为测量而新建、各成员在自己的机器上，
与部署一致）：写入客户端和乡镇在本机运行，集群测完后继续运行，不测切换。已有办件的集群不予测量。`,
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
	cmd.Flags().IntSliceVar(&o.Writers, "writers", []int{1, 16, 64}, "并发写入客户端数，每个值测一轮")
	cmd.Flags().DurationVar(&o.Duration, "duration", 5*time.Second, "每轮时长")
	cmd.Flags().IntVar(&o.PushTownships, "push-townships", 4, "同时推送的乡镇数（0：不测推送）")
	cmd.Flags().IntVar(&o.PushBatches, "push-batches", 5, "每个乡镇推送的批次数")
	cmd.Flags().IntVar(&o.BatchEvents, "batch-events", 500, "每批推送的事件数")
	cmd.Flags().IntVar(&o.Kills, "kills", 5, "计时的主节点 kill 次数（0：不测）")
	cmd.Flags().StringVar(&o.Binary, "binary", "", "成员进程所用的 jiujin 可执行文件（默认：本程序）")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "把进程内各轮的 CPU 剖析写入此文件")
	cmd.Flags().BoolVar(&o.H2C, "h2c", false, "写入客户端像节点之间那样用不加密的 HTTP/2（h2c），而不是命令行的 HTTP/1.1")
	cmd.Flags().StringVar(&o.MemberURLs, "members", "", "测量这个正在运行的集群（各成员地址，逗号分隔），而不是在本进程内启动一个")
	_ = cmd.Flags().MarkHidden("binary")
	return cmd
}
