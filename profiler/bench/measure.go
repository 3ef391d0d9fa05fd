package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"time"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/timing"
)

// Measure runs one model as spec says. dir resolves relative model paths
// and receives profiles. Problems with the model itself are reported in
// Result.Error (so that the other models of a manifest still run); the
// error return is for a cancelled context only.
func Measure(ctx context.Context, spec wire.ModelSpec, dir string) (wire.Result, error) {
	type outcome struct {
		res wire.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		// Never unlocked: the goroutine's exit ends the thread, so its CPU
		// mask cannot leak to other goroutines.
		runtime.LockOSThread()
		res, err := measureLocked(ctx, spec, dir)
		done <- outcome{res, err}
	}()
	o := <-done
	return o.res, o.err
}

// measureLocked measures on the calling goroutine's locked OS thread.
func measureLocked(ctx context.Context, spec wire.ModelSpec, dir string) (wire.Result, error) {
	m := &measurement{res: wire.Result{ID: spec.ID, Source: wire.SourceAgent, Model: spec.Path}}
	if err := m.measure(ctx, spec, dir); err != nil {
		m.res.Error = err.Error()
		return m.res, nil
	}
	if m.res.Stop == wire.StopCancelled {
		m.res.Error = "cancelled"
		return m.res, ctx.Err()
	}
	return m.res, nil
}

// measurement is one model being measured; each step fills in res, and a
// step's error is what Result.Error reports.
type measurement struct {
	spec wire.ModelSpec
	res  wire.Result
	sess *ort.Session // open between open and finish
}

// measure goes through the method's steps (see the package doc).
func (m *measurement) measure(ctx context.Context, spec wire.ModelSpec, dir string) error {
	if err := m.prepare(spec, dir); err != nil {
		return err
	}
	if err := m.open(dir); err != nil {
		return err
	}
	defer func() {
		if m.sess != nil {
			m.sess.Close()
		}
	}()
	rng := newInputRNG(m.spec.Seed)
	for i := range m.sess.InputNames() {
		rng.fill(m.sess.Input(i))
	}
	perSample, err := m.warmUp(ctx)
	if err != nil {
		return err
	}
	samples, err := m.timeRuns(ctx, perSample)
	if err != nil {
		return err
	}
	m.res.Stats = timing.Summarize(samples)
	if m.spec.Samples {
		m.res.SamplesMS = samples
	}
	return m.finish()
}

// prepare checks the spec, pins the thread and resets the peak-RSS mark.
func (m *measurement) prepare(spec wire.ModelSpec, dir string) error {
	spec, err := spec.Normalize()
	if err != nil {
		return err
	}
	m.spec = spec
	m.res.Threads, m.res.Batch = spec.Threads, spec.Batch
	m.res.Model = spec.ResolvePath(dir)
	if len(spec.CPUs) > 0 {
		if err := pinThread(spec.CPUs); err != nil {
			return fmt.Errorf("pin to cpus %v: %v", spec.CPUs, err)
		}
	}
	if cpus, err := threadCPUs(); err == nil {
		m.res.CPUs = cpus
	}
	resetPeakRSS()
	return nil
}

// open creates the session (load time), with the spec's input shape where
// it overrides the model's.
func (m *measurement) open(dir string) error {
	spec, path := m.spec, m.res.Model
	opt, err := ort.ParseGraphOptimization(spec.Optimization)
	if spec.Optimization == "" {
		opt, err = ort.OptimizeAll, nil
	}
	if err != nil {
		return err
	}
	opts := ort.Options{IntraOpThreads: spec.Threads, InterOpThreads: spec.InterOpThreads, ExecutionProvider: spec.Provider,
		GraphOptimization: opt, Batch: spec.Batch}
	if spec.Profile {
		opts.ProfilePrefix = filepath.Join(dir, "profile-"+safeName(spec.ID))
	}
	start := time.Now()
	sess, err := ort.OpenFile(path, opts)
	if err == nil && len(spec.InputShape) > 0 && !slices.Equal(sess.InputShape(0), spec.InputShape) {
		// The input's name is known only now: reopen with its shape set.
		name := sess.InputNames()[0]
		sess.Close()
		opts.InputShapes = map[string][]int64{name: spec.InputShape}
		start = time.Now()
		sess, err = ort.OpenFile(path, opts)
	}
	if err != nil {
		return err
	}
	m.res.LoadMS = ms(time.Since(start))
	m.res.Provider, m.res.ProviderNodes = sess.Provider(), sess.NodesByProvider()
	m.sess = sess
	return nil
}

// warmUp does the first run (first-run time) and the untimed warm-up
// runs, and returns how many runs each timed sample averages.
func (m *measurement) warmUp(ctx context.Context) (int, error) {
	t0 := time.Now()
	if err := m.sess.RunInPlace(); err != nil {
		return 0, fmt.Errorf("first run: %v", err)
	}
	m.res.FirstRunMS = ms(time.Since(t0))
	tw := time.Now()
	for i := 0; i < m.spec.Warmup; i++ {
		if err := ctx.Err(); err != nil {
			m.res.Stop = wire.StopCancelled
			return 0, errors.New("cancelled during warm-up")
		}
		if err := m.sess.RunInPlace(); err != nil {
			return 0, fmt.Errorf("warm-up run %d: %v", i+1, err)
		}
	}
	perSample := runsPerSample(m.spec.SampleMS, ms(time.Since(tw)), m.spec.Warmup, m.res.FirstRunMS)
	if perSample > 1 {
		m.res.RunsPerSample = perSample
	}
	return perSample, nil
}

// timeRuns takes timed samples until the stop rule says why to stop (in
// res.Stop) or ctx is cancelled.
func (m *measurement) timeRuns(ctx context.Context, perSample int) ([]float64, error) {
	stop := stopRule{minRuns: m.spec.MinRuns, maxRuns: m.spec.MaxRuns, targetCI: m.spec.TargetCI}
	if m.spec.MaxSeconds > 0 {
		stop.maxTime = time.Duration(m.spec.MaxSeconds * float64(time.Second))
	}
	samples := make([]float64, 0, m.spec.MinRuns)
	var timed time.Duration
	for {
		if reason := stop.check(samples, timed); reason != "" {
			m.res.Stop = reason
			return samples, nil
		}
		if ctx.Err() != nil {
			m.res.Stop = wire.StopCancelled
			return samples, nil
		}
		t := time.Now()
		var err error
		for j := 0; j < perSample && err == nil; j++ {
			err = m.sess.RunInPlace()
		}
		d := time.Since(t)
		if err != nil {
			return nil, fmt.Errorf("timed run %d: %v", len(samples)+1, err)
		}
		timed += d
		samples = append(samples, ms(d)/float64(perSample))
	}
}

// finish records the outputs, closes the session (which writes the
// profile) and reads the peak memory.
func (m *measurement) finish() error {
	for i, name := range m.sess.OutputNames() {
		m.res.Outputs = append(m.res.Outputs, summarizeOutput(name, m.sess.OutputShape(i), m.sess.Output(i), m.spec.Outputs))
	}
	sess := m.sess
	m.sess = nil
	if err := sess.Close(); err != nil {
		return err
	}
	m.res.ProfileFile = sess.ProfileFile()
	m.res.PeakRSSBytes = peakRSS()
	return nil
}

// stopRule decides when timing ends; see wire.ModelSpec.
type stopRule struct {
	minRuns, maxRuns int
	targetCI         float64
	maxTime          time.Duration
}

// check returns why to stop after these samples, or "" to run again.
func (r stopRule) check(samples []float64, timed time.Duration) string {
	n := len(samples)
	switch {
	case n < r.minRuns:
		return ""
	case r.targetCI == 0 && r.minRuns == r.maxRuns:
		return wire.StopRuns
	case n >= r.maxRuns:
		return wire.StopMaxRuns
	case r.maxTime > 0 && timed >= r.maxTime:
		return wire.StopMaxTime
	case r.targetCI > 0 && n >= 6:
		// Sorting every run is O(n log n) on at most a few hundred numbers:
		// negligible next to an inference.
		sorted := slices.Clone(samples)
		slices.Sort(sorted)
		if ci := timing.MedianCI95(sorted); ci > 0 && ci <= r.targetCI {
			return wire.StopCI
		}
	case r.targetCI == 0:
		return wire.StopRuns
	}
	return ""
}

// runsPerSample is how many runs one timed sample averages so that it lasts
// about sampleMS, from the warm-up's mean run time (or the first run's,
// which overestimates, when there was no warm-up).
func runsPerSample(sampleMS, warmupMS float64, warmup int, firstMS float64) int {
	if sampleMS <= 0 {
		return 1
	}
	est := firstMS
	if warmup > 0 {
		est = warmupMS / float64(warmup)
	}
	if !(est > 0) {
		return 1
	}
	return int(min(max(math.Ceil(sampleMS/est), 1), 1000))
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns an id into a file-name fragment.
func safeName(id string) string {
	s := unsafeChars.ReplaceAllString(id, "_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// inputRNG is SplitMix64: integer-only, so every architecture produces the
// same inputs from the same seed.
type inputRNG struct{ state uint64 }

func newInputRNG(seed uint64) *inputRNG { return &inputRNG{state: seed ^ 0x9e3779b97f4a7c15} }

func (r *inputRNG) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fill writes values uniform in [-1, 1), exactly representable in float32.
func (r *inputRNG) fill(x []float32) {
	for i := range x {
		x[i] = float32(int32(r.next()>>40)-(1<<23)) / (1 << 23)
	}
}

func summarizeOutput(name string, shape []int64, data []float32, keep int) wire.Output {
	o := wire.Output{Name: name, Shape: shape}
	for _, v := range data {
		o.Sum += float64(v)
		o.AbsSum += math.Abs(float64(v))
	}
	switch {
	case keep < 0:
		o.Values = slices.Clone(data)
	case keep > 0:
		o.Values = slices.Clone(data[:min(keep, len(data))])
	}
	return o
}
