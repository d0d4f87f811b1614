package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/jiujin/jiujin/cli/bench"
)

// BenchTreeOptions are the flags of `bench tree`.
type BenchTreeOptions struct {
	bench.TreeConfig
}

func newBenchTreeCmd(f *Factory) *cobra.Command {
	o := &BenchTreeOptions{}
	cmd := &cobra.Command{
		Use:   "tree",
		Short: "整县规模：1 个县、20 个乡镇、300 个村同时运行，测下发、一天的办件、县级为下级付出的代价、县级和乡镇停机后的追平",
		Long: `bench tree 在本机回环地址上运行整个县：县级节点是单独的进程（其 CPU 和内存只属于它），
乡镇和村节点在本进程内；每个节点有自己的 badger 目录（落盘同步开启）、TLS 监听、由本次测试临时建立的
CA 签发的节点证书、到上级的链路和签名的事件。为了在一台机器上放下几百个节点，本进程内节点的
memtable 缩小为 --memtable MiB（县级节点用部署的默认值）。测量：
  空闲    启动并稳定后，县级进程在 --idle 内的 CPU（占一个核的比例）、常驻内存、goroutine 和连接数
  下发    县级发布新版事项清单、授予一项委托、撤销它：到每个村都看到的时间，p50/p99/最长
  一天    --apps 件申请在 --duration 内匀速地在各村受理（一天压缩），在县级或有下放权限的乡镇办结，
          办结结果回到受理窗口：端到端 p50/p99/最长；县级进程在此期间的代价；
          最后逐件核对：每件在受理窗口办结一次、县级有且只有一份（丢失、重复）
  羊群    县级进程被 kill -9，停机 --outage，各村照常受理；重启后到县级收齐每个村积压的时间
          （最慢的村、中位数）、各窗口显示“已送达县级”的时间、全部办结回到窗口的时间、县级峰值 CPU 和内存
  乡镇    最后一个乡镇停机 --outage（其村照常受理一个上午的量），重启后其各村追平的时间`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := bench.RunTree(cmd.Context(), o.TreeConfig)
			if err != nil {
				return err
			}
			if f.json() {
				return f.printReport(rep)
			}
			printTree(f.Out, rep)
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Townships, "townships", 20, "乡镇数")
	cmd.Flags().IntVar(&o.Villages, "villages", 15, "每个乡镇的村（社区）数")
	cmd.Flags().IntVar(&o.Apps, "apps", 20000, "一天受理的申请数")
	cmd.Flags().DurationVar(&o.Duration, "duration", 5*time.Minute, "一天压缩到多长（默认约为 8 小时的 1/100）")
	cmd.Flags().DurationVar(&o.Outage, "outage", time.Minute, "县级、乡镇各停机多久（0：不测）")
	cmd.Flags().DurationVar(&o.Settle, "settle", 10*time.Second, "启动后等待多久再测空闲代价")
	cmd.Flags().DurationVar(&o.Idle, "idle", 30*time.Second, "测空闲代价的时长")
	cmd.Flags().IntVar(&o.MemTableMiB, "memtable", 2, "本进程内各节点的 badger memtable（MiB）")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "决定每件申请在哪个村受理的随机种子")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "把本进程的 CPU 剖析写入此文件，县级进程的写入其旁（加后缀 .county1、.county2…）")
	cmd.Flags().StringVar(&o.Binary, "binary", "", "县级进程所用的 jiujin 可执行文件（默认：本程序）")
	_ = cmd.Flags().MarkHidden("binary")
	return cmd
}

func printTree(w io.Writer, rep *bench.TreeReport) {
	fmt.Fprintf(w, "整县：1 个县级进程，%d 个乡镇、%d 个村在本进程内（memtable %d MiB），启动并下发种子数据 %.1f 秒\n",
		rep.Townships, rep.Villages, rep.MemTableMiB, rep.SetupSeconds)
	cost := func(name string, c bench.TreeCost) {
		fmt.Fprintf(w, "%s（%.0f 秒）：县级 CPU %.1f%% 核（峰值 %.2f 核），常驻内存 %.1f MiB（峰值 %.1f），goroutine %d，连接 %d\n",
			name, c.Seconds, 100*c.CountyCPUShare, c.PeakCores, c.CountyRSSMiB, c.PeakRSSMiB, c.Goroutines, c.Connections)
	}
	cost("空闲", rep.Idle)
	spread := func(s bench.Spread) string {
		return fmt.Sprintf("p50 %.0f ms，p99 %.0f ms，最长 %.0f ms", s.P50Ms, s.P99Ms, s.MaxMs)
	}
	fmt.Fprintf(w, "下发到全部 %d 个村：新版事项清单 %s；授予委托 %s；撤销 %s\n", rep.FanOut.N, spread(rep.FanOut.Spread), spread(rep.FanOut.Grant), spread(rep.FanOut.Revoke))
	d := rep.WorkingDay
	fmt.Fprintf(w, "一天：%d 件（每秒 %.0f 件；乡镇办结 %d，县级办结 %d），村受理→办结回到窗口 %s；丢失 %d，重复 %d\n",
		d.Accepted, d.PerSecond, d.AtTownship, d.AtCounty, spread(d.Spread), d.Lost, d.Duplicated)
	cost("一天中", rep.Load)
	catchUp := func(name string, c bench.TreeCatchUp) {
		if c.Unit == "" {
			return
		}
		fmt.Fprintf(w, "%s %s 停机 %.0f 秒，期间受理 %d 件；重启 %.0f ms；县级收齐各村积压 %.1f 秒（最慢 %s，中位 %.1f 秒），各窗口显示已送达县级 %.1f 秒，全部办结回到窗口 %.1f 秒\n",
			name, c.Unit, c.OutageSeconds, c.Backlog, c.StartMs, c.CaughtUpMs/1000, c.SlowestChild, c.MedianChildMs/1000, c.WindowKnowsMs/1000, c.DecidedMs/1000)
		cost("  其间", c.Cost)
	}
	catchUp("羊群：县级", rep.Herd)
	catchUp("乡镇", rep.TownshipDown)
}
