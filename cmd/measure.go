package cmd

import (
	"math"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit/profiler"
)

// runtimeFlags say how the device runs the models, for bench, profile
// and run alike.
type runtimeFlags struct {
	Batch     int
	Threads   int
	EP        string
	Affinity  string
	DeviceDir string
}

func (r *runtimeFlags) AddFlags(f *pflag.FlagSet) {
	f.IntVar(&r.Batch, "batch", 1, "batch size of every measurement")
	f.IntVar(&r.Threads, "threads", 0, "intra-op threads (default 1 for every class; with --ep xnnpack, XNNPACK threads, default one per big core)")
	f.StringVar(&r.EP, "ep", "", "execution provider: "+strings.Join(profiler.Providers(), ", ")+" (default: cpu; cuda on GPU targets)")
	f.StringVar(&r.Affinity, "affinity", "", `taskset mask to pin to, e.g. f0 (default: one core per thread, the last of the fastest cluster; "none" to not pin)`)
	f.StringVar(&r.DeviceDir, "device-dir", "", "directory on the device for the models being measured (default: its temporary directory)")
}

func (r *runtimeFlags) verify() error {
	switch {
	case r.Batch < 1:
		return usageErrorf("--batch must be at least 1 (got %d)", r.Batch)
	case r.Threads < 0:
		return usageErrorf("--threads must not be negative (got %d)", r.Threads)
	}
	return nil
}

// measureFlags are the measurement flags of bench, profile and run: one
// set, whose defaults are the profiler's own (profiler.DefaultMeasurement).
type measureFlags struct {
	Warmup      int
	MinRuns     int
	MaxRuns     int
	TargetCI    float64 // percent
	MaxTime     time.Duration
	SampleMS    float64
	Rounds      int
	Drift       float64 // percent
	MaxCooldown time.Duration
}

// AddFlags registers how each model is timed, for every command that
// measures.
func (m *measureFlags) AddFlags(f *pflag.FlagSet) {
	d := profiler.DefaultMeasurement()
	f.IntVar(&m.Warmup, "warmup", d.Warmup, "untimed runs before timing each model")
	f.IntVar(&m.MinRuns, "min-runs", d.MinRuns, "timed runs per model at least (in --rounds above 1, only the undisturbed ones, within 10% of the fastest, make the statistics: n counts those, timed_runs all)")
	f.IntVar(&m.MaxRuns, "max-runs", d.MaxRuns, "timed runs per model at most")
	f.Float64Var(&m.TargetCI, "target-ci", percent(d.TargetCI), "stop timing a model once the 95% confidence interval of its median is within this many percent")
	f.DurationVar(&m.MaxTime, "max-time", d.MaxTime, "timed running per model at most")
	f.Float64Var(&m.SampleMS, "sample-ms", d.SampleMS, "each timed sample averages back-to-back runs lasting about this many ms (0 = one run per sample)")
	f.IntVar(&m.Rounds, "rounds", 0, "spread each model's timed runs over its batch in this many rounds and keep its undisturbed samples, for shared machines whose vCPU is taken away now and then (default 4, or 1 where --max-runs is below 12; 1 = time each model at once)")
}

// AddDriftFlags registers the drift check and the cooling wait, which only
// whole profiles (profile, run) make.
func (m *measureFlags) AddDriftFlags(f *pflag.FlagSet) {
	d := profiler.DefaultMeasurement()
	f.Float64Var(&m.Drift, "drift", percent(d.DriftThreshold), "re-measure a batch when the reference moved more than this many percent")
	f.DurationVar(&m.MaxCooldown, "max-cooldown", d.MaxCooldown, "longest wait for the device to cool back to its starting temperature (0 = never wait)")
}

// percent writes a fraction as a percentage without float noise
// (0.03 as 3, not 3.0000000000000004).
func percent(f float64) float64 { return math.Round(f*1e4) / 100 }

// verify checks the timing flags before anything is contacted.
func (m *measureFlags) verify() error {
	switch {
	case m.TargetCI <= 0 || m.TargetCI >= 100:
		return usageErrorf("--target-ci is a percentage in (0, 100), e.g. 2 (got %v)", m.TargetCI)
	case m.MinRuns < 5:
		return usageErrorf("--min-runs must be at least 5, the fewest that bound a median (got %d)", m.MinRuns)
	case m.MaxRuns < m.MinRuns:
		return usageErrorf("--max-runs %d is below --min-runs %d", m.MaxRuns, m.MinRuns)
	case m.MaxTime <= 0:
		return usageErrorf("--max-time must be positive (got %v)", m.MaxTime)
	case m.SampleMS < 0 || m.SampleMS > 1000:
		return usageErrorf("--sample-ms must be 0..1000 (got %v)", m.SampleMS)
	}
	return nil
}

// verifyDrift checks the flags AddDriftFlags registers.
func (m *measureFlags) verifyDrift() error {
	if m.Drift <= 0 || m.Drift >= 100 {
		return usageErrorf("--drift is a percentage in (0, 100), e.g. 3 (got %v)", m.Drift)
	}
	return nil
}

// measurement turns the flags into the profiler's discipline: the one
// place a profiler.Measurement is built from flags.
func (m *measureFlags) measurement() profiler.Measurement {
	pm := profiler.Measurement{Warmup: m.Warmup, MinRuns: m.MinRuns, MaxRuns: m.MaxRuns, TargetCI: m.TargetCI / 100,
		MaxTime: m.MaxTime, DriftThreshold: m.Drift / 100, MaxCooldown: m.MaxCooldown, Rounds: m.Rounds, SampleMS: m.SampleMS}
	if m.SampleMS == 0 {
		pm.SampleMS = -1 // one run per sample (0 would take the default)
	}
	if m.Warmup == 0 {
		pm.Warmup = -1 // none (0 would take the default)
	}
	if m.MaxCooldown == 0 {
		pm.MaxCooldown = -1 // never wait
	}
	return pm
}
