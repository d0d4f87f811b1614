package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/jiujin/jiujin/cli/bench"
	"github.com/jiujin/jiujin/cli/client"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/cluster"
	"github.com/jiujin/jiujin/node/rules"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

func newNodeCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "运行节点（start），检查（verify）、备份（backup）、恢复（restore）节点数据，新节点入网（enroll）"}
	cmd.AddCommand(newNodeStartCmd(f, nil), newNodeVerifyCmd(f), newNodeBackupCmd(f), newNodeRestoreCmd(f), newNodeEnrollCmd(f))
	return cmd
}

// NodeStartOptions are the flags of `node start`. A config file gives the
// same keys; flags set on the command line win.
type NodeStartOptions struct {
	ConfigFile string `yaml:"-"`
	Unit       string `yaml:"unit"`
	Listen     string `yaml:"listen"`
	Parent     string `yaml:"parent"`
	Data       string `yaml:"data"`
	Calendar   string `yaml:"calendar"`
	LogFormat  string `yaml:"log_format"`
	// TLSDir holds ca.crt, node.crt and node.key (ca issue, node enroll).
	TLSDir string `yaml:"tls_dir"`
	// Insecure runs without certificates, on loopback only.
	Insecure bool `yaml:"insecure"`
	// EncryptionKeyFile holds the 32-byte key that keeps the store encrypted.
	EncryptionKeyFile string `yaml:"encryption_key_file"`
	// MemoryLimit is the Go runtime's soft memory limit in MiB (0: none).
	MemoryLimit int `yaml:"memory_limit_mib"`
	// A county group member: its raft address, and either bootstrap (the
	// first member, first start) or the members to join through.
	RaftListen string `yaml:"raft_listen"`
	Bootstrap  bool   `yaml:"bootstrap"`
	Join       string `yaml:"join"`
	// SnapshotThreshold: raft log entries between snapshots (0: raft's default).
	SnapshotThreshold uint64 `yaml:"raft_snapshot_threshold"`
	// ValueLogGarbage: MiB of its store's value log a member no longer
	// reads above which its start reloads the store from the last
	// snapshot (-1: never).
	ValueLogGarbage int `yaml:"value_log_garbage_mib"`
	// CPUProfile, if set, profiles the node until it stops (hidden: for
	// measuring one member of a group under `bench county --members`).
	CPUProfile string `yaml:"-"`
}

// newNodeStartCmd builds `node start`; runF replaces running the node
// (tests see the merged options through it).
func newNodeStartCmd(f *Factory, runF func(context.Context, *NodeStartOptions) error) *cobra.Command {
	o := &NodeStartOptions{}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "启动本单位的节点",
		Example: `  jiujin node start --unit 330324 --listen 127.0.0.1:8080 --data /var/lib/jiujin
  jiujin node start --config /etc/jiujin/node.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.load(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			cfg, err := o.config(f)
			if err != nil {
				return err
			}
			if o.MemoryLimit < 0 {
				return fmt.Errorf("--memory-limit: 不能为负")
			}
			if o.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
				// The process is this one node: bound its heap so badger's
				// memtables and caches cannot crowd a small box.
				debug.SetMemoryLimit(int64(o.MemoryLimit) << 20)
			}
			if w := o.memoryWarning(); w != "" {
				cfg.Logger.Warn(w, "memory_limit_mib", o.MemoryLimit, "at_least_mib", memberMemoryFloor)
			}
			stop, err := bench.StartCPUProfile(o.CPUProfile)
			if err != nil {
				return err
			}
			defer stop()
			privateFiles()
			return runNode(cmd.Context(), f, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ConfigFile, "config", "", "YAML 配置文件（键：unit, listen, parent, data, tls_dir, insecure, encryption_key_file, calendar, log_format, memory_limit_mib, raft_listen, bootstrap, join, raft_snapshot_threshold, value_log_garbage_mib）；命令行参数优先")
	fl.StringVar(&o.Unit, "unit", "", "单位代码：县 6 位，乡镇 9 位，村（社区）12 位")
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "监听地址")
	fl.StringVar(&o.Parent, "parent", "", "上级节点地址；上级是县级集群时写出各成员：URL1,URL2,URL3")
	fl.StringVar(&o.Data, "data", "", "数据目录（badger）")
	fl.StringVar(&o.Calendar, "calendar", "", "工作日历 YAML 文件（默认：内置日历）")
	fl.StringVar(&o.LogFormat, "log-format", "text", "日志格式：text 或 json")
	fl.IntVar(&o.MemoryLimit, "memory-limit", 96, "小机器的软内存上限（MiB）；0 为不限，县级集群成员默认不限（设置了 GOMEMLIMIT 时以它为准）")
	fl.StringVar(&o.RaftListen, "raft-listen", "", "县级集群：本成员的 raft 地址，其他成员可达的 IP:端口")
	fl.BoolVar(&o.Bootstrap, "bootstrap", false, "县级集群：以本成员新建集群（仅第一个成员首次启动时）")
	fl.StringVar(&o.Join, "join", "", "县级集群：经由这些成员加入（地址，逗号分隔）")
	fl.Uint64Var(&o.SnapshotThreshold, "raft-snapshot-threshold", 0, "县级集群：两次快照之间、以及快照后保留的日志条数（0：raft 默认 8192）")
	fl.IntVar(&o.ValueLogGarbage, "value-log-garbage", cluster.DefaultValueLogGarbage>>20, "县级集群：值日志中不再读取的部分超过此 MiB 时，启动时从最近快照重建存储以丢弃它们（-1：从不）")
	fl.StringVar(&o.TLSDir, "tls-dir", "", "本节点证书目录：ca.crt、node.crt、node.key（见 jiujin ca issue）")
	fl.StringVar(&o.EncryptionKeyFile, "encryption-key-file", "", "32 字节随机密钥文件（权限 0600），数据目录以它加密；每次启动、备份、恢复都用同一个")
	fl.BoolVar(&o.Insecure, "insecure", false, "不用证书、不用登录运行，只能监听本机回环地址（测试、开发用）")
	fl.StringVar(&o.CPUProfile, "cpuprofile", "", "把 CPU 剖析写入此文件，直到节点停止")
	_ = fl.MarkHidden("cpuprofile")
	return cmd
}

// load merges the config file under the flags that were set, then
// settles the defaults that depend on both.
func (o *NodeStartOptions) load(cmd *cobra.Command) error {
	limitSet := cmd.Flags().Changed("memory-limit")
	if o.ConfigFile != "" {
		fileLimit, err := o.loadFile(cmd)
		if err != nil {
			return err
		}
		limitSet = limitSet || fileLimit
	}
	// The memory limit is for a small box. A county group member runs on
	// a server, where the limit keeps its collector busy under load (a
	// quarter more CPU per write, docs/benchmarks.md "A member's memory
	// limit"). So a member has none unless asked.
	if o.RaftListen != "" && !limitSet {
		o.MemoryLimit = 0
	}
	return nil
}

// memberMemoryFloor is the least memory limit (MiB) a county group
// member should be given: its store's two 64 MiB memtables, its caches,
// raft's log cache and the requests in flight, with room for the collector.
const memberMemoryFloor = 512

// memoryWarning says why a county group member's memory limit is too low,
// or "" if it is not.
func (o *NodeStartOptions) memoryWarning() string {
	if o.RaftListen == "" || o.MemoryLimit <= 0 || o.MemoryLimit >= memberMemoryFloor || os.Getenv("GOMEMLIMIT") != "" {
		return ""
	}
	return "memory limit low for a county group member: its store alone keeps two 64 MiB memtables, and under load the collector will run all the time and slow every write; give it none (the default) or at least 512 MiB"
}

// loadFile merges the config file under the flags that were set; it says
// whether the file sets a memory limit.
func (o *NodeStartOptions) loadFile(cmd *cobra.Command) (bool, error) {
	b, err := os.ReadFile(o.ConfigFile)
	if err != nil {
		return false, fmt.Errorf("--config: %w", err)
	}
	var fromFile NodeStartOptions
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fromFile); err != nil {
		return false, fmt.Errorf("--config %s: %w", o.ConfigFile, err)
	}
	// A number key written in the file counts even when it is 0
	// (memory_limit_mib: 0 is "no limit" on a small box; a
	// value_log_garbage_mib of 0 is refused, as on the command line).
	var written map[string]any
	if err := yaml.Unmarshal(b, &written); err != nil {
		return false, fmt.Errorf("--config %s: %w", o.ConfigFile, err)
	}
	inFile := func(key string) bool { _, ok := written[key]; return ok }
	set := func(flag string, dst *string, v string) {
		if !cmd.Flags().Changed(flag) && v != "" {
			*dst = v
		}
	}
	set("unit", &o.Unit, fromFile.Unit)
	set("listen", &o.Listen, fromFile.Listen)
	set("parent", &o.Parent, fromFile.Parent)
	set("data", &o.Data, fromFile.Data)
	set("calendar", &o.Calendar, fromFile.Calendar)
	set("log-format", &o.LogFormat, fromFile.LogFormat)
	set("raft-listen", &o.RaftListen, fromFile.RaftListen)
	set("join", &o.Join, fromFile.Join)
	if !cmd.Flags().Changed("raft-snapshot-threshold") && fromFile.SnapshotThreshold > 0 {
		o.SnapshotThreshold = fromFile.SnapshotThreshold
	}
	if !cmd.Flags().Changed("value-log-garbage") && inFile("value_log_garbage_mib") {
		o.ValueLogGarbage = fromFile.ValueLogGarbage
	}
	if !cmd.Flags().Changed("bootstrap") && fromFile.Bootstrap {
		o.Bootstrap = true
	}
	if !cmd.Flags().Changed("memory-limit") && inFile("memory_limit_mib") {
		o.MemoryLimit = fromFile.MemoryLimit
	}
	return inFile("memory_limit_mib"), nil
}

func (o *NodeStartOptions) config(f *Factory) (node.Config, error) {
	unit, err := tiers.Parse(o.Unit)
	if err != nil {
		return node.Config{}, fmt.Errorf("--unit: %w", err)
	}
	if o.Data == "" {
		return node.Config{}, fmt.Errorf("--data: 请指定数据目录")
	}
	cal, err := loadCalendar(o.Calendar)
	if err != nil {
		return node.Config{}, err
	}
	var h slog.Handler
	switch o.LogFormat {
	case "text":
		h = slog.NewTextHandler(f.Err, logOptions)
	case "json":
		h = slog.NewJSONHandler(f.Err, logOptions)
	default:
		return node.Config{}, fmt.Errorf("--log-format: %q 应为 text 或 json", o.LogFormat)
	}
	key, err := readEncryptionKey(o.EncryptionKeyFile)
	if err != nil {
		return node.Config{}, err
	}
	cfg := node.Config{Unit: unit, Listen: o.Listen, DataDir: o.Data, Parents: splitList(o.Parent), Calendar: cal, Logger: slog.New(h),
		Insecure: o.Insecure, EncryptionKey: key}
	switch {
	case o.RaftListen != "":
		if o.Bootstrap && o.Join != "" {
			return node.Config{}, fmt.Errorf("--bootstrap / --join: 二者只能选一（首个成员 --bootstrap，其余 --join）")
		}
		garbage := int64(o.ValueLogGarbage) << 20
		switch {
		case o.ValueLogGarbage == -1:
			garbage = -1
		case o.ValueLogGarbage < 1:
			return node.Config{}, fmt.Errorf("--value-log-garbage（配置文件中 value_log_garbage_mib）: %d 无效：应为正的 MiB 数，或 -1（从不因此重新载入）", o.ValueLogGarbage)
		}
		cfg.Raft = &cluster.RaftConfig{Listen: o.RaftListen, Bootstrap: o.Bootstrap, Join: splitList(o.Join), SnapshotThreshold: o.SnapshotThreshold,
			ValueLogGarbage: garbage}
	case o.Bootstrap || o.Join != "":
		return node.Config{}, fmt.Errorf("--raft-listen: --bootstrap 和 --join 须与 --raft-listen 一起使用")
	}
	switch {
	case o.TLSDir != "" && o.Insecure:
		return node.Config{}, fmt.Errorf("--insecure: 已指定 --tls-dir，二者只能选一")
	case o.TLSDir != "":
		if cfg.TLS, err = auth.LoadBundle(o.TLSDir, time.Now()); err != nil {
			return node.Config{}, fmt.Errorf("--%w", err)
		}
		cfg.TLSDir = o.TLSDir
	case !o.Insecure:
		return node.Config{}, fmt.Errorf("--tls-dir: 请指定本节点的证书目录（jiujin ca issue 生成）；仅在本机测试时可用 --insecure")
	}
	return cfg, nil
}

func loadCalendar(path string) (*delegation.Calendar, error) {
	if path == "" {
		return delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--calendar: %w", err)
	}
	defer fh.Close()
	return delegation.LoadCalendar(fh)
}

// runNode serves until ctx ends (Ctrl-C, SIGTERM), then shuts down cleanly.
func runNode(ctx context.Context, f *Factory, cfg node.Config) error {
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.Out, "节点已启动：%s %s %s\n", cfg.Unit.Tier().Label(), cfg.Unit, n.URL())
	select {
	case <-ctx.Done():
	case err := <-n.Done():
		n.Store.Close()
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Shutdown(sctx)
}

func newNodeVerifyCmd(f *Factory) *cobra.Command {
	o := &NodeDataOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "离线检查数据目录：事件流无缺口，每条记录与其事件一致（节点须已停止）",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := o.open("")
			if err != nil {
				return err
			}
			defer r.Close()
			rep, err := r.Store().Verify()
			if err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "数据一致：%d 个事件，%d 条记录，事件流无缺口\n", rep.Events, rep.Records)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Unit, "unit", "", "数据所属单位代码")
	cmd.Flags().StringVar(&o.Data, "data", "", "数据目录")
	cmd.Flags().StringVar(&o.EncryptionKeyFile, "encryption-key-file", "", "加密数据目录的密钥文件")
	return cmd
}

// NodeDataOptions are the flags of `node verify`, `node backup` and
// `node restore`: a stopped node's data directory and, for the last two,
// the backup file (its flag is fileFlag).
type NodeDataOptions struct {
	Unit string
	Data string
	File string
	// EncryptionKeyFile: the key of an encrypted data directory.
	EncryptionKeyFile string
}

func (o *NodeDataOptions) config(fileFlag string) (rules.Config, error) {
	unit, err := tiers.Parse(o.Unit)
	if err != nil {
		return rules.Config{}, fmt.Errorf("--unit: %w", err)
	}
	if o.Data == "" {
		return rules.Config{}, fmt.Errorf("--data: 请指定数据目录")
	}
	if fileFlag != "" && o.File == "" {
		return rules.Config{}, fmt.Errorf("%s: 请指定备份文件", fileFlag)
	}
	cal, err := loadCalendar("")
	if err != nil {
		return rules.Config{}, err
	}
	key, err := readEncryptionKey(o.EncryptionKeyFile)
	if err != nil {
		return rules.Config{}, err
	}
	return rules.Config{Store: store.Config{Dir: o.Data, Unit: unit, EncryptionKey: key}, Calendar: cal}, nil
}

// readEncryptionKey reads the key file a flag names (nil: none named).
func readEncryptionKey(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	key, err := auth.ReadKeyFile(path, 32)
	if err != nil {
		return nil, fmt.Errorf("--encryption-key-file: %w", err)
	}
	return key, nil
}

func (o *NodeDataOptions) open(fileFlag string) (*rules.Rules, error) {
	cfg, err := o.config(fileFlag)
	if err != nil {
		return nil, err
	}
	return rules.Open(cfg)
}

func newNodeBackupCmd(f *Factory) *cobra.Command {
	o := &NodeDataOptions{}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "备份节点数据到一个文件：运行中的节点用 --node（管理员登录），已停止的节点用 --data",
		Example: `  jiujin node backup --node https://10.1.0.2:8080 --to /mnt/usb/jiujin-330324101-20261122.bak      # 在线，节点照常运行
  jiujin node backup --unit 330324101201 --data /var/lib/jiujin --to /mnt/usb/jiujin-330324101201-20261122.bak   # 离线，节点已停止`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Data == "" && o.Unit == "" {
				return onlineBackup(cmd, f, o.File)
			}
			r, err := o.open("--to")
			if err != nil {
				return err
			}
			defer r.Close()
			st := r.Store()
			fh, err := os.OpenFile(o.File, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if err := st.Backup(fh); err != nil {
				fh.Close()
				return err
			}
			if err := fh.Sync(); err != nil {
				fh.Close()
				return err
			}
			if err := fh.Close(); err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "已备份：%s（事件流 %d）\n", o.File, st.FeedHead())
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Unit, "unit", "", "数据所属单位代码")
	cmd.Flags().StringVar(&o.Data, "data", "", "数据目录")
	cmd.Flags().StringVar(&o.File, "to", "", "要生成的备份文件")
	cmd.Flags().StringVar(&o.EncryptionKeyFile, "encryption-key-file", "", "加密数据目录的密钥文件（备份同样加密）")
	return cmd
}

func newNodeRestoreCmd(f *Factory) *cobra.Command {
	o := &NodeDataOptions{}
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "从备份恢复到一个新的数据目录；节点获得新的身份和纪元，上级会为它从头重新同步",
		Long: `restore 把备份载入一个新的空数据目录，并给节点一个新身份（节点标识和纪元）：
上级为它从头重新同步，备份之后它写下的事件由上级送回，追平之前不受理新办件。
切勿手工把数据目录拷回去：节点会重复使用事件编号，上级会把它们隔离。`,
		Example: "  jiujin node restore --unit 330324101201 --data /var/lib/jiujin-new --from /mnt/usb/jiujin-330324101201-20261122.bak",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := o.config("--from")
			if err != nil {
				return err
			}
			privateFiles()
			fh, err := os.Open(o.File)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer fh.Close()
			if err := store.RestoreBackup(cfg.Store, fh); err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "已恢复到 %s：节点获得新身份，启动后将与上级重新同步，同步完成前暂不受理\n", o.Data)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Unit, "unit", "", "备份所属单位代码")
	cmd.Flags().StringVar(&o.Data, "data", "", "新的空数据目录")
	cmd.Flags().StringVar(&o.File, "from", "", "备份文件")
	cmd.Flags().StringVar(&o.EncryptionKeyFile, "encryption-key-file", "", "备份所属节点的密钥文件（加密的备份需要）")
	return cmd
}

// onlineBackup fetches a backup of the running node --node names, as its
// administrator, into file (created, mode 0600; removed if the transfer
// breaks).
func onlineBackup(cmd *cobra.Command, f *Factory, file string) error {
	if file == "" {
		return fmt.Errorf("--to: 请指定备份文件")
	}
	token, err := f.token()
	if err != nil {
		return err
	}
	urls, err := client.ParseNodeURLs(f.NodeURL)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, urls[0].String()+"/backup", nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		return fmt.Errorf("连不上节点 %s：%w", urls[0], err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
		return fmt.Errorf("节点拒绝备份（%s）：%s", res.Status, strings.TrimSpace(string(msg)))
	}
	fh, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	n, err := io.Copy(fh, res.Body)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return fmt.Errorf("备份传输中断，已删除不完整的 %s：%w", file, err)
	}
	fmt.Fprintf(f.Out, "已备份 %s 到 %s（%d 字节）\n", urls[0], file, n)
	return nil
}
