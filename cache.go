package edgefit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/profiler/lut"
)

// DefaultCacheDir is where [Run] keeps the tables it measured unless
// RunOptions.CacheDir names another place: edgefit/luts in the user's
// cache directory (~/.cache/edgefit/luts on Linux).
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory (pass --lut-cache): %w", err)
	}
	return filepath.Join(base, "edgefit", "luts"), nil
}

// table is the lookup table a run works from and where it came from.
type table struct {
	lut         *lut.LUT
	path        string
	reused      bool // not measured by this run
	fingerprint *devices.Fingerprint
}

// tableForTarget returns the device's lookup table: RunOptions.LUT, a
// cached table whose device and settings match, or a new (resumable)
// profile, which is then cached.
func (x *execution) tableForTarget(ctx context.Context) (*table, error) {
	if x.opts.LUT != "" {
		return x.givenTable(ctx)
	}
	popts := x.opts.Profile
	plan, err := profiler.NewPlan(ctx, x.target, popts)
	if err != nil {
		return nil, err
	}
	path, err := x.cachePath(plan)
	if err != nil {
		return nil, err
	}
	if tbl, err := lut.Load(path); err == nil {
		statusf(x.progress, "reusing the lookup table measured earlier on this device with these settings: %s", path)
		return &table{lut: tbl, path: path, reused: true, fingerprint: plan.Fingerprint}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		statusf(x.progress, "cached table %s is unusable (%v): measuring again", path, err)
	}
	popts.Journal = profiler.JournalPath(path)
	if plan, err = profiler.NewPlan(ctx, x.target, popts); err != nil {
		return nil, err
	}
	tbl, err := x.profile(ctx, plan)
	if err != nil {
		return nil, err
	}
	if err := tbl.WriteFile(path); err != nil {
		return nil, err
	}
	return &table{lut: tbl, path: path, fingerprint: plan.Fingerprint}, nil
}

// givenTable loads RunOptions.LUT, which must be for the run's space, and
// probes the device for the report.
func (x *execution) givenTable(ctx context.Context) (*table, error) {
	tbl, err := lut.Load(x.opts.LUT)
	if err != nil {
		return nil, err
	}
	if tbl.Space != x.model.Space.Name {
		return nil, inputErrorf("--lut %s is for %s, not %s", x.opts.LUT, tbl.Space, x.model.Space.Name)
	}
	fp, err := devices.Probe(ctx, x.target)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", x.target.Name(), err)
	}
	statusf(x.progress, "using lookup table %s (%d entries)", x.opts.LUT, len(tbl.Entries))
	return &table{lut: tbl, path: x.opts.LUT, reused: true, fingerprint: fp}, nil
}

// cachePath is where the table of plan's device and settings is cached.
func (x *execution) cachePath(plan *profiler.Plan) (string, error) {
	dir := x.opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create table cache: %w", err)
	}
	return filepath.Join(dir, tableKey(plan)+".lut.json"), nil
}

// profile measures the table plan describes, resuming its journal.
func (x *execution) profile(ctx context.Context, plan *profiler.Plan) (*lut.LUT, error) {
	total := plan.Entries + plan.NetworksAll
	statusf(x.progress, "profiling %s (%s class): %d layer entries + %d whole subnets at %s; journal %s",
		plan.Target, plan.Class, plan.Entries, plan.NetworksAll, joinInts(plan.Options.Resolutions), plan.Options.Journal)
	if plan.Done > 0 {
		statusf(x.progress, "resuming: %d of %d already measured", plan.Done, total)
	}
	meter := x.progress.Begin(PhaseProfile, total)
	plan.Options.Progress = func(p profiler.Progress) { meter.Set(p.Done, p.Total) }
	tbl, err := plan.Execute(ctx)
	meter.Done()
	return tbl, err
}

// tableKey names a cached table by what its numbers depend on: the
// profiling settings and the device's stable traits (not its temperatures
// or current clocks).
func tableKey(p *profiler.Plan) string {
	type stable struct {
		Target, OS, Kernel, Arch, CPU string
		Cores                         int
		Clusters                      any
		Mem                           int64
		Android, Jetson, Runtime      any
	}
	fp := p.Fingerprint
	var st stable
	if fp != nil {
		var clusters []string
		for _, c := range fp.Clusters {
			clusters = append(clusters, fmt.Sprintf("%v@%d/%s", c.CPUs, c.MaxFreqKHz, c.Governor))
		}
		st = stable{fp.Target, fp.OS, fp.Kernel, fp.Arch, fp.CPUModel, fp.Cores, clusters, fp.MemTotalBytes, fp.Android, fp.Jetson, fp.Runtime}
	}
	b, _ := json.Marshal(struct {
		Identity profiler.Identity
		Device   stable
	}{p.Identity, st})
	sum := sha256.Sum256(b)
	return p.Identity.Space + "-" + hex.EncodeToString(sum[:8])
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
