package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/supernet/zoo"
)

func init() { register(newCacheCommand) }

func newCacheCommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "cache",
		Short: "Remove what edgefit keeps: measured tables, OFA downloads, agent copies here and on devices",
		Example: `  edgefit cache clean --all --dry-run
  edgefit cache clean --target adb://R58M12ABC`,
	}
	c.AddCommand(newCacheCleanCommand(g))
	return c
}

// cacheItem is one thing 'cache clean' removes (or would).
type cacheItem struct {
	Cache     string `json:"cache"`  // luts, fetch, agents
	Target    string `json:"target"` // where it is: local, or the device
	Path      string `json:"path"`
	SizeBytes int64  `json:"size_bytes"`
}

// cacheClean is what 'cache clean' reports.
type cacheClean struct {
	DryRun     bool        `json:"dry_run"`
	Items      []cacheItem `json:"items"`
	TotalBytes int64       `json:"total_bytes"`
}

type cacheCleanOptions struct {
	target              targetOptions
	LUTs, Fetch, Agents bool
	All, DryRun         bool
	Targets             []string
}

func newCacheCleanCommand(g *globalOptions) *cobra.Command {
	var o cacheCleanOptions
	c := &cobra.Command{
		Use:   "clean [--luts] [--fetch] [--agents] [--all] [--target TARGET]... [--dry-run]",
		Short: "Remove edgefit's caches, here and on devices; --dry-run lists them with their sizes",
		Long: `clean removes what the flags name, and asks nothing:

  --luts     the lookup tables 'edgefit run' measured and cached by device
             (~/.cache/edgefit/luts), and unfinished profiles' journals there;
             the next run on a device profiles it again
  --fetch    OFA's files 'edgefit fetch' downloaded (~/.cache/edgefit/ofa)
  --agents   the agent and ONNX Runtime copies cached for the local target
             (~/.cache/edgefit/<sha256>/)
  --all      all three
  --target   the agent cache on a device: /data/local/tmp/edgefit/<sha256>/ on
             adb:// phones, ~/.cache/edgefit/<sha256>/ over ssh:// (repeatable)

Only those directories go: ~/.cache/edgefit/onnxruntime ('make ort') and other
files stay. With --dry-run nothing is removed and the list says what would be.`,
		Example: `  edgefit cache clean --all --dry-run
  edgefit cache clean --luts
  edgefit cache clean --target ssh://pi@raspberrypi.local --target adb:// --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCacheClean(cmd.Context(), g, &o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.LUTs, "luts", false, "remove the tables 'edgefit run' cached by device")
	f.BoolVar(&o.Fetch, "fetch", false, "remove the files 'edgefit fetch' downloaded")
	f.BoolVar(&o.Agents, "agents", false, "remove the agent copies cached for the local target")
	f.BoolVar(&o.All, "all", false, "--luts, --fetch and --agents")
	f.StringArrayVar(&o.Targets, "target", nil, "remove the agent cache on this device (repeatable)")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be removed, with sizes, and remove nothing")
	o.target.AddFlags(f)
	return c
}

func runCacheClean(ctx context.Context, g *globalOptions, o *cacheCleanOptions) error {
	if o.All {
		o.LUTs, o.Fetch, o.Agents = true, true, true
	}
	if !o.LUTs && !o.Fetch && !o.Agents && len(o.Targets) == 0 {
		return withHint(usageErrorf("say what to remove: --luts, --fetch, --agents, --all or --target TARGET"),
			"see what there is first with 'edgefit cache clean --all --dry-run'")
	}
	res := cacheClean{DryRun: o.DryRun}
	local := func(cache, dir string, err error) error {
		if err != nil {
			return err
		}
		items, err := localCacheItems(cache, dir)
		if err != nil {
			return err
		}
		if !o.DryRun {
			for _, it := range items {
				if err := os.RemoveAll(it.Path); err != nil {
					return fmt.Errorf("remove %s: %w", it.Path, err)
				}
			}
		}
		res.Items = append(res.Items, items...)
		return nil
	}
	if o.LUTs {
		dir, err := edgefit.DefaultCacheDir()
		if err := local("luts", dir, err); err != nil {
			return err
		}
	}
	if o.Fetch {
		dir, err := zoo.DefaultCacheDir()
		if err := local("fetch", dir, err); err != nil {
			return err
		}
	}
	if o.Agents {
		if err := cleanAgentCache(ctx, g, o, devices.NewLocal(), &res); err != nil {
			return err
		}
	}
	for _, target := range o.Targets {
		t, err := o.target.open(ctx, g, target)
		if err != nil {
			return err
		}
		err = cleanAgentCache(ctx, g, o, t, &res)
		t.Close()
		if err != nil {
			return err
		}
	}
	for _, it := range res.Items {
		res.TotalBytes += it.SizeBytes
	}
	if g.JSON {
		return writeJSON(g.io.Out, res)
	}
	rows := make([][]string, len(res.Items))
	for i, it := range res.Items {
		rows[i] = []string{it.Cache, it.Target, fetchSizeText(it.SizeBytes), it.Path}
	}
	if len(rows) > 0 {
		if err := writeTable(g.io.Out, []string{"cache", "on", "size", "path"}, rows); err != nil {
			return err
		}
	}
	verb := "removed"
	if o.DryRun {
		verb = "would remove (dry run; nothing was removed)"
	}
	fmt.Fprintf(g.io.Out, "%s %d item(s), %s\n", verb, len(res.Items), fetchSizeText(res.TotalBytes))
	return nil
}

// cleanAgentCache lists (and, unless dry, removes) the agent cache on t.
func cleanAgentCache(ctx context.Context, g *globalOptions, o *cacheCleanOptions, t devices.Target, res *cacheClean) error {
	_, entries, err := agent.CacheEntries(ctx, t, o.target.agentOptions(g.logger()))
	if err != nil {
		return err
	}
	if !o.DryRun {
		if err := agent.RemoveCache(ctx, t, entries); err != nil {
			return err
		}
	}
	for _, e := range entries {
		res.Items = append(res.Items, cacheItem{Cache: "agents", Target: t.Name(), Path: e.Path, SizeBytes: e.SizeBytes})
	}
	return nil
}

// localCacheItems lists the entries of a cache directory on this machine
// with the bytes of the files under each; a missing directory has none.
func localCacheItems(cache, dir string) ([]cacheItem, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var items []cacheItem
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		var size int64
		err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					size += fi.Size()
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("size of %s: %w", p, err)
		}
		items = append(items, cacheItem{Cache: cache, Target: "local", Path: p, SizeBytes: size})
	}
	return items, nil
}
