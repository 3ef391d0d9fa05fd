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
	"time"

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

// CacheDir returns the table cache dir, or [DefaultCacheDir] for "".
func CacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return DefaultCacheDir()
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
	if err := plan.UseJournal(profiler.JournalPath(path)); err != nil {
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
	dir, err := CacheDir(x.opts.CacheDir)
	if err != nil {
		return "", err
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

// CachedTable is a lookup table that [Run] measured and cached, or a
// profile it started there and did not finish.
type CachedTable struct {
	Path string `json:"path"`
	// Key is the table's name in the cache: its space and a hash of the
	// device's stable traits and the profiling settings.
	Key         string       `json:"key"`
	SizeBytes   int64        `json:"size_bytes"`
	Modified    time.Time    `json:"modified_at"`
	Space       string       `json:"space,omitempty"`
	Target      string       `json:"target,omitempty"`
	Device      string       `json:"device,omitempty"` // the fingerprint in one line
	Runtime     *lut.Runtime `json:"runtime,omitempty"`
	Entries     int          `json:"entries,omitempty"`
	Networks    int          `json:"networks,omitempty"`
	Resolutions []int        `json:"resolutions,omitempty"`
	// Journal is the profile's journal; Unfinished is set when there is
	// no table beside it yet (the next run on that device resumes it).
	Journal    string `json:"journal,omitempty"`
	Unfinished bool   `json:"unfinished,omitempty"`
	// Error says why the file cannot be read; the other fields are then
	// those of the file alone.
	Error string `json:"error,omitempty"`
}

// CachedTables lists the tables and unfinished profiles in the table cache
// dir ("" = [DefaultCacheDir]), by key. A missing cache holds none.
func CachedTables(dir string) ([]CachedTable, error) {
	dir, err := CacheDir(dir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the table cache: %w", err)
	}
	var out []CachedTable
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, lut.Suffix):
			out = append(out, cachedTable(filepath.Join(dir, name)))
		case strings.HasSuffix(name, lut.Suffix+profiler.JournalSuffix):
			table := filepath.Join(dir, strings.TrimSuffix(name, profiler.JournalSuffix))
			if _, err := os.Stat(table); errors.Is(err, os.ErrNotExist) {
				out = append(out, unfinishedTable(table))
			}
		}
	}
	return out, nil
}

func cachedTable(path string) CachedTable {
	c := CachedTable{Path: path, Key: strings.TrimSuffix(filepath.Base(path), lut.Suffix)}
	if st, err := os.Stat(path); err == nil {
		c.SizeBytes, c.Modified = st.Size(), st.ModTime().UTC()
	}
	if _, err := os.Stat(profiler.JournalPath(path)); err == nil {
		c.Journal = profiler.JournalPath(path)
	}
	t, err := lut.Load(path)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.Space, c.Target, c.Runtime, c.Entries, c.Networks, c.Resolutions = t.Space, t.Target, &t.Runtime, len(t.Entries), len(t.Networks), t.Resolutions()
	var fp devices.Fingerprint
	if len(t.FingerprintBefore) > 0 && json.Unmarshal(t.FingerprintBefore, &fp) == nil {
		c.Device = fp.Summary()
	}
	return c
}

func unfinishedTable(path string) CachedTable {
	c := CachedTable{Path: path, Key: strings.TrimSuffix(filepath.Base(path), lut.Suffix), Journal: profiler.JournalPath(path), Unfinished: true}
	if st, err := os.Stat(c.Journal); err == nil {
		c.SizeBytes, c.Modified = st.Size(), st.ModTime().UTC()
	}
	j, err := profiler.LoadJournal(c.Journal)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.Space, c.Target, c.Device = j.Header.Identity.Space, j.Header.Target, j.Header.Device
	c.Entries, c.Networks = j.Measured()
	return c
}
