package bench

import (
	"context"
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

func measureLocked(ctx context.Context, spec wire.ModelSpec, dir string) (res wire.Result, err error) {
	res = wire.Result{ID: spec.ID, Source: wire.SourceAgent, Model: spec.Path}
	fail := func(format string, args ...any) (wire.Result, error) {
		res.Error = fmt.Sprintf(format, args...)
		return res, nil
	}
	spec, err = spec.Normalize()
	if err != nil {
		return fail("%v", err)
	}
	res.Threads, res.Batch = spec.Threads, spec.Batch
	path := spec.ResolvePath(dir)
	res.Model = path

	if len(spec.CPUs) > 0 {
		if err := pinThread(spec.CPUs); err != nil {
			return fail("pin to cpus %v: %v", spec.CPUs, err)
		}
	}
	if cpus, err := threadCPUs(); err == nil {
		res.CPUs = cpus
	}
	resetPeakRSS()

	opt, err := ort.ParseGraphOptimization(spec.Optimization)
	if spec.Optimization == "" {
		opt, err = ort.OptimizeAll, nil
	}
	if err != nil {
		return fail("%v", err)
	}
	opts := ort.Options{
		IntraOpThreads:    spec.Threads,
		InterOpThreads:    spec.InterOpThreads,
		ExecutionProvider: spec.Provider,
		GraphOptimization: opt,
		Batch:             spec.Batch,
	}
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
		return fail("%v", err)
	}
	res.LoadMS = ms(time.Since(start))
	res.Provider = sess.Provider()
	closed := false
	defer func() {
		if !closed {
			sess.Close()
		}
	}()

	rng := newInputRNG(spec.Seed)
	for i := range sess.InputNames() {
		rng.fill(sess.Input(i))
	}

	t0 := time.Now()
	if err := sess.RunInPlace(); err != nil {
		return fail("first run: %v", err)
	}
	res.FirstRunMS = ms(time.Since(t0))
	tw := time.Now()
	for i := 0; i < spec.Warmup; i++ {
		if err := ctx.Err(); err != nil {
			res.Stop = wire.StopCancelled
			return fail("cancelled during warm-up")
		}
		if err := sess.RunInPlace(); err != nil {
			return fail("warm-up run %d: %v", i+1, err)
		}
	}
	perSample := runsPerSample(spec.SampleMS, ms(time.Since(tw)), spec.Warmup, res.FirstRunMS)
	if perSample > 1 {
		res.RunsPerSample = perSample
	}

	stop := stopRule{minRuns: spec.MinRuns, maxRuns: spec.MaxRuns, targetCI: spec.TargetCI}
	if spec.MaxSeconds > 0 {
		stop.maxTime = time.Duration(spec.MaxSeconds * float64(time.Second))
	}
	samples := make([]float64, 0, spec.MinRuns)
	var timed time.Duration
	for {
		if reason := stop.check(samples, timed); reason != "" {
			res.Stop = reason
			break
		}
		if ctx.Err() != nil {
			res.Stop = wire.StopCancelled
			break
		}
		t := time.Now()
		var err error
		for j := 0; j < perSample && err == nil; j++ {
			err = sess.RunInPlace()
		}
		d := time.Since(t)
		if err != nil {
			return fail("timed run %d: %v", len(samples)+1, err)
		}
		timed += d
		samples = append(samples, ms(d)/float64(perSample))
	}
	res.Stats = timing.Summarize(samples)
	if spec.Samples {
		res.SamplesMS = samples
	}
	for i, name := range sess.OutputNames() {
		res.Outputs = append(res.Outputs, summarizeOutput(name, sess.OutputShape(i), sess.Output(i), spec.Outputs))
	}
	closed = true
	if err := sess.Close(); err != nil {
		return fail("%v", err)
	}
	res.ProfileFile = sess.ProfileFile()
	res.PeakRSSBytes = peakRSS()
	if res.Stop == wire.StopCancelled {
		res.Error = "cancelled"
		return res, ctx.Err()
	}
	return res, nil
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
