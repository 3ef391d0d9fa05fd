package edgefit

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/profiler/agent/agenttest"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

func TestTighterLimit(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		cur, lim              search.Limits
		predicted, measured   float64
		wantLatency, wantKeep float64 // wantKeep: the memory limit, unchanged
	}{
		// 12 ms measured for 8 predicted: ask for 10·8/12 = 6.667, less 2%.
		{"first miss", search.Limits{MaxLatencyMS: 10, MaxMemory: 5e6}, search.Limits{MaxLatencyMS: 10, MaxMemory: 5e6}, 8, 12, 0.98 * 6.666666666666667, 5e6},
		// The device was only a little slower than this round's choice:
		// the limit still tightens, below this round's 5 ms.
		{"never looser than this round", search.Limits{MaxLatencyMS: 5}, search.Limits{MaxLatencyMS: 10}, 4.9, 5.2, 0.98 * 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tighterLimit(tc.cur, tc.lim, tc.predicted, tc.measured)
			if math.Abs(got.MaxLatencyMS-tc.wantLatency) > 1e-12 || float64(got.MaxMemory) != tc.wantKeep {
				t.Errorf("tighterLimit = %+v, want latency %.6f and memory %g", got, tc.wantLatency, tc.wantKeep)
			}
		})
	}
}

func TestSearchResolutions(t *testing.T) {
	s, _ := supernet.NewSpace(1.0) // every multiple of 4 from 128 to 224
	for _, tc := range []struct {
		name     string
		measured []int
		want     []int
	}{
		{"none measured: the predictor's", nil, nil},
		{"one", []int{160}, []int{160}},
		{"a window", []int{160, 176}, []int{160, 164, 168, 172, 176}},
		{"outside the space", []int{96, 128}, []int{96, 128}},
		{"measured between the space's", []int{130, 134}, []int{130, 132, 134}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := searchResolutions(s, tc.measured); !slices.Equal(got, tc.want) {
				t.Errorf("searchResolutions(%v) = %v, want %v", tc.measured, got, tc.want)
			}
		})
	}
}

// TestTableKey: a cached table is found again on the same device and
// settings whatever its temperatures and clocks do, and not found under
// other settings or on another device.
func TestTableKey(t *testing.T) {
	plan := func(threads int, mutate func(*devices.Fingerprint)) *profiler.Plan {
		fp := &devices.Fingerprint{Target: "ssh://pi@board", OS: "linux", Arch: "arm64", Cores: 4, CPUModel: "Cortex-A72",
			Clusters:      []devices.Cluster{{Policy: "policy0", CPUs: []int{0, 1, 2, 3}, MaxFreqKHz: 1800000, CurFreqKHz: 600000, Governor: "ondemand"}},
			Thermal:       []devices.ThermalZone{{Zone: "thermal_zone0", TempC: 41}},
			MemTotalBytes: 4 << 30, MemAvailableBytes: 3 << 30}
		if mutate != nil {
			mutate(fp)
		}
		return &profiler.Plan{Fingerprint: fp, Identity: profiler.Identity{Space: "ofa-mbv3-w1.0", Resolutions: []int{160}, Batch: 1, Threads: threads}}
	}
	base := tableKey(plan(1, nil))
	if !strings.HasPrefix(base, "ofa-mbv3-w1.0-") {
		t.Errorf("key %q does not start with the space", base)
	}
	for _, tc := range []struct {
		name string
		plan *profiler.Plan
		same bool
	}{
		{"hotter, other clock, less free memory", plan(1, func(fp *devices.Fingerprint) {
			fp.Thermal[0].TempC, fp.Clusters[0].CurFreqKHz, fp.MemAvailableBytes = 70, 1800000, 1<<30
		}), true},
		{"other threads", plan(2, nil), false},
		{"other governor", plan(1, func(fp *devices.Fingerprint) { fp.Clusters[0].Governor = "performance" }), false},
		{"other device", plan(1, func(fp *devices.Fingerprint) { fp.Target = "ssh://pi@other" }), false},
	} {
		if got := tableKey(tc.plan); (got == base) != tc.same {
			t.Errorf("%s: key %s against %s, same = %v, want %v", tc.name, got, base, got == base, tc.same)
		}
	}
}

func TestPrepareRefusesBadOptions(t *testing.T) {
	lim := search.Limits{MaxLatencyMS: 10}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts RunOptions
		want string
	}{
		{"no output", RunOptions{Limits: lim}, "output directory"},
		{"no limit", RunOptions{OutDir: dir}, "no limit"},
		{"negative limit", RunOptions{OutDir: dir, Limits: search.Limits{MaxLatencyMS: -1}}, "latency"},
		{"negative retries", RunOptions{OutDir: dir, Limits: lim, Retries: -1}, "--retries"},
		{"unknown space", RunOptions{OutDir: dir, Limits: lim, Space: "w2"}, "unknown search space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Prepare(tc.opts)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an InputError mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPredictions(t *testing.T) {
	costs := supernet.Costs{MACs: 219000000, Params: 5530000, WeightBytes: 22000000, PeakMemory: 25400000}
	got := predictions(costs, nil, "", "")
	want := map[string]string{"macs": "219000000", "params": "5530000", "peak_memory_bytes": "25400000"}
	if !mapsEqual(got, want) {
		t.Errorf("costs only: %v, want %v", got, want)
	}
	c := search.Candidate{}
	c.Costs, c.LatencyMS, c.Accuracy = costs, 6.000049, 0.635812
	got = predictions(costs, &c, "proxy", "ssh://pi@board")
	want["latency_ms"], want["accuracy"], want["accuracy_source"], want["target"] = "6.0000", "0.63581", "proxy", "ssh://pi@board"
	if !mapsEqual(got, want) {
		t.Errorf("chosen: %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSampleFront(t *testing.T) {
	front := make([]search.Candidate, 40)
	for i := range front {
		front[i].LatencyMS = float64(i)
	}
	got := sampleFront(front, 15)
	if len(got) != 15 || got[0].LatencyMS != 0 || got[14].LatencyMS != 39 {
		t.Fatalf("sample of %d: %d points from %v to %v", len(front), len(got), got[0].LatencyMS, got[len(got)-1].LatencyMS)
	}
	for i := 1; i < len(got); i++ {
		if step := got[i].LatencyMS - got[i-1].LatencyMS; step < 2 || step > 3 {
			t.Errorf("points %d and %d are %v apart: not evenly spread", i-1, i, step)
		}
	}
	if got := sampleFront(front[:5], 15); len(got) != 5 {
		t.Errorf("a short front is sampled to %d points", len(got))
	}
}

// recorder is a Progress that keeps what it is told.
type recorder struct {
	status []string
	phases []string
	done   map[string]bool
}

func (r *recorder) Status(msg string) { r.status = append(r.status, msg) }
func (r *recorder) Begin(phase string, total int) Meter {
	r.phases = append(r.phases, phase)
	return meterFunc(func() {
		if r.done == nil {
			r.done = map[string]bool{}
		}
		r.done[phase] = true
	})
}

type meterFunc func()

func (m meterFunc) Set(int, int) {}
func (m meterFunc) Done()        { m() }

// quickRun profiles one small resolution briefly and searches briefly.
func quickRun(t *testing.T, agentBin, out string) RunOptions {
	po := profiler.DefaultOptions("")
	po.Resolutions, po.Networks = []int{128}, 3
	po.Measure = profiler.Measurement{Warmup: 1, MinRuns: 5, MaxRuns: 10, MaxTime: 200 * time.Millisecond, DriftThreshold: 0.3, MaxCooldown: -1}
	po.Agent = agent.Options{Agent: agentBin}
	return RunOptions{OutDir: out, CacheDir: filepath.Join(out, "cache"), Limits: search.Limits{MaxLatencyMS: 1000, MaxMemory: 60e6},
		Retries: 2, Profile: po, Search: search.Options{Seed: 1, TopK: 5, Pareto: true, Generations: 60}}
}

// TestRunWithoutCommandLine calls the pipeline as a Go program would, on
// this machine, then again to reuse the cached table.
func TestRunWithoutCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles with the real agent; skipped in -short mode")
	}
	testfix.Need(t, testfix.ORT, ort.Init(""))
	agentBin := agenttest.Build(t, runtime.GOOS, runtime.GOARCH)
	ctx := context.Background()
	target, err := devices.Open(ctx, "local", devices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	out := t.TempDir()
	opts := quickRun(t, agentBin, out)
	var rec recorder
	res, err := Run(ctx, target, opts, &rec)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(rec.status, "\n"))
	}

	// A generous limit takes the largest subnet at the one resolution
	// profiled, and its model is the one written.
	w10, _ := supernet.NewSpace(1.0)
	last := res.Last()
	if last.Chosen.Config != w10.MaxConfig(128) || !last.Met || len(res.Attempts) != 1 || res.LUTReused || !res.Untrained || !res.AccuracyProxy {
		t.Errorf("result: %d attempt(s), last %+v, reused %v, untrained %v, proxy %v", len(res.Attempts), last, res.LUTReused, res.Untrained, res.AccuracyProxy)
	}
	if !res.Verified || res.VerifyDiff > res.VerifyLimit || res.Bench == nil || res.Bench.Stats.Median != last.MeasuredMS {
		t.Errorf("verify diff %g, bench %+v", res.VerifyDiff, res.Bench)
	}
	data, err := os.ReadFile(filepath.Join(out, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := export.ReadMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if meta[export.KeyConfig] != last.Chosen.Config.String() || meta[export.KeyPredictionPrefix+"target"] != "local" {
		t.Errorf("model metadata %v does not describe the chosen subnet", meta)
	}
	cfg, err := supernet.LoadConfigFile(filepath.Join(out, "subnet.json"))
	if err != nil || cfg.Config != last.Chosen.Config {
		t.Errorf("subnet.json holds %v (%v), want %v", cfg.Config, err, last.Chosen.Config)
	}
	// report.json is the result.
	var back RunResult
	if b, err := os.ReadFile(filepath.Join(out, "report.json")); err != nil || json.Unmarshal(b, &back) != nil {
		t.Fatalf("report.json: %v", err)
	}
	if back.Last().Chosen != last.Chosen || back.Files["report"] != filepath.Join(out, "report.md") {
		t.Errorf("report.json differs from the result: %+v", back.Last())
	}
	if !slices.Equal(rec.phases, []string{PhaseProfile, PhaseSearch}) || !rec.done[PhaseProfile] || !rec.done[PhaseSearch] {
		t.Errorf("progress phases %v, done %v", rec.phases, rec.done)
	}

	// The same device and settings reuse the table.
	var again recorder
	res2, err := Run(ctx, target, opts, &again)
	if err != nil {
		t.Fatal(err)
	}
	if !res2.LUTReused || res2.LUT != res.LUT || slices.Contains(again.phases, PhaseProfile) {
		t.Errorf("second run: reused %v, table %s (first %s), phases %v", res2.LUTReused, res2.LUT, res.LUT, again.phases)
	}
}
