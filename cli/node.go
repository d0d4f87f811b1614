package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
	"github.com/jiujin/jiujin/node"
	"github.com/jiujin/jiujin/tiers"
)

func newNodeCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "运行节点（start）或检查节点数据（verify）"}
	cmd.AddCommand(newNodeStartCmd(f, nil), newNodeVerifyCmd(f))
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
	// MemoryLimit is the Go runtime's soft memory limit in MiB (0: none).
	MemoryLimit int `yaml:"memory_limit_mib"`
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
			return runNode(cmd.Context(), f, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ConfigFile, "config", "", "YAML config file (keys: unit, listen, parent, data, calendar, log_format, memory_limit_mib)")
	fl.StringVar(&o.Unit, "unit", "", "unit code: 6 digits county, 9 township, 12 village")
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	fl.StringVar(&o.Parent, "parent", "", "URL of the parent node; for a county group, every member: URL1,URL2,URL3")
	fl.StringVar(&o.Data, "data", "", "data directory (badger)")
	fl.StringVar(&o.Calendar, "calendar", "", "working-day calendar YAML (default: the built-in one)")
	fl.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	fl.IntVar(&o.MemoryLimit, "memory-limit", 96, "soft memory limit in MiB for a small box; 0 for none (GOMEMLIMIT, if set, wins)")
	return cmd
}

// load merges the config file under the flags that were set.
func (o *NodeStartOptions) load(cmd *cobra.Command) error {
	if o.ConfigFile == "" {
		return nil
	}
	b, err := os.ReadFile(o.ConfigFile)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var fromFile NodeStartOptions
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fromFile); err != nil {
		return fmt.Errorf("--config %s: %w", o.ConfigFile, err)
	}
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
	if !cmd.Flags().Changed("memory-limit") && fromFile.MemoryLimit != 0 {
		o.MemoryLimit = fromFile.MemoryLimit
	}
	return nil
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
		h = slog.NewTextHandler(f.Err, nil)
	case "json":
		h = slog.NewJSONHandler(f.Err, nil)
	default:
		return node.Config{}, fmt.Errorf("--log-format: %q 应为 text 或 json", o.LogFormat)
	}
	var parents []string
	for _, p := range strings.Split(o.Parent, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parents = append(parents, p)
		}
	}
	return node.Config{Unit: unit, Listen: o.Listen, DataDir: o.Data, Parents: parents, Calendar: cal, Logger: slog.New(h)}, nil
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

// NodeVerifyOptions are the flags of `node verify`.
type NodeVerifyOptions struct {
	Unit string
	Data string
}

func newNodeVerifyCmd(f *Factory) *cobra.Command {
	o := &NodeVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "离线检查数据目录：事件流无缺口，每条记录与其事件一致（节点须已停止）",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			unit, err := tiers.Parse(o.Unit)
			if err != nil {
				return fmt.Errorf("--unit: %w", err)
			}
			cal, err := loadCalendar("")
			if err != nil {
				return err
			}
			st, err := node.OpenStore(node.StoreConfig{Dir: o.Data, Unit: unit, Calendar: cal})
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Verify()
			if err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "数据一致：%d 个事件，%d 条记录，事件流无缺口\n", rep.Events, rep.Records)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Unit, "unit", "", "unit code the data belongs to")
	cmd.Flags().StringVar(&o.Data, "data", "", "data directory")
	return cmd
}
