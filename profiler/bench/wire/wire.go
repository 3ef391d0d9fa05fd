package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"

	"github.com/edgefit/edgefit/profiler/timing"
)

// FormatVersion is the version of the manifest and result formats. The
// host refuses an agent reporting another ([Info].Format).
const FormatVersion = 1

// Manifest lists the models an agent measures, in order.
type Manifest struct {
	Format int         `json:"format"` // FormatVersion
	Models []ModelSpec `json:"models"`
}

// ModelSpec says how to measure one model. Zero fields take the defaults
// given with each.
type ModelSpec struct {
	// ID names the measurement in its Result; unique within a manifest.
	ID string `json:"id"`
	// Path is the .onnx file on the device; relative paths are relative to
	// the manifest's directory.
	Path string `json:"path"`

	Batch      int     `json:"batch,omitempty"`       // value of symbolic dimensions (0 = input_shape[0], else 1)
	InputShape []int64 `json:"input_shape,omitempty"` // shape of the first input, overriding the model's; [0] is the batch

	Threads        int    `json:"threads,omitempty"`          // intra-op threads (0 = ONNX Runtime's default)
	InterOpThreads int    `json:"inter_op_threads,omitempty"` // (0 = default)
	Provider       string `json:"provider,omitempty"`         // cpu (default), cuda, tensorrt, xnnpack, nnapi
	Optimization   string `json:"optimization,omitempty"`     // all (default), extended, basic, none

	Warmup int `json:"warmup,omitempty"` // untimed runs after the first (0 = none)
	// Timed runs: exactly Runs when set; otherwise at least MinRuns (0 =
	// 10) and, while the relative 95% CI half-width of the median exceeds
	// TargetCI, more, up to MaxRuns (0 = 200) and MaxSeconds (0 = no limit)
	// of timed running. TargetCI 0 means MinRuns runs.
	Runs       int     `json:"runs,omitempty"`
	MinRuns    int     `json:"min_runs,omitempty"`
	MaxRuns    int     `json:"max_runs,omitempty"`
	TargetCI   float64 `json:"target_ci,omitempty"` // fraction, e.g. 0.02
	MaxSeconds float64 `json:"max_seconds,omitempty"`
	// SampleMS, when positive, makes each timed sample the mean of as many
	// back-to-back runs as last about SampleMS (estimated from the warm-up;
	// at most 1000), so that models much shorter than the clock's and the
	// scheduler's jitter are still timed precisely. Runs counts, MinRuns,
	// MaxRuns and Result.Stats then count samples.
	SampleMS float64 `json:"sample_ms,omitempty"`

	// CPUs pins the measuring thread, and the threads ONNX Runtime starts
	// from it, to these CPU numbers (empty = no pinning).
	CPUs []int `json:"cpus,omitempty"`

	// Profile turns on ONNX Runtime's profiler; the Result names the JSON
	// file it wrote.
	Profile bool `json:"profile,omitempty"`
	// Outputs is how many values of each output the Result carries (-1 =
	// all, 0 = none; sums are always there). Seed picks the input values
	// (a fixed pseudo-random sequence, identical on every architecture).
	Outputs int    `json:"outputs,omitempty"`
	Seed    uint64 `json:"seed,omitempty"`
	// Samples keeps every timed run in Result.SamplesMS.
	Samples bool `json:"samples,omitempty"`
}

// Normalize fills defaults and checks the spec; Validate reports the first
// problem in words that say what to change.
func (s ModelSpec) Normalize() (ModelSpec, error) {
	if s.Runs > 0 {
		s.MinRuns, s.MaxRuns, s.TargetCI = s.Runs, s.Runs, 0
	}
	if s.MinRuns == 0 {
		s.MinRuns = 10
	}
	if s.MaxRuns == 0 {
		s.MaxRuns = 200
		if s.TargetCI == 0 {
			s.MaxRuns = s.MinRuns
		}
	}
	if s.Provider == "" {
		s.Provider = "cpu"
	}
	if s.Batch == 0 {
		s.Batch = 1
		if len(s.InputShape) > 0 {
			s.Batch = int(s.InputShape[0])
		}
	}
	return s, s.validate()
}

func (s ModelSpec) validate() error {
	switch {
	case s.ID == "":
		return errors.New("model without id")
	case s.Path == "":
		return fmt.Errorf("model %q: path is empty", s.ID)
	case s.Runs < 0 || s.MinRuns < 1:
		return fmt.Errorf("model %q: timed runs must be at least 1 (runs %d, min_runs %d)", s.ID, s.Runs, s.MinRuns)
	case s.MaxRuns < s.MinRuns:
		return fmt.Errorf("model %q: max_runs %d is below min_runs %d", s.ID, s.MaxRuns, s.MinRuns)
	case s.Warmup < 0:
		return fmt.Errorf("model %q: warmup %d is negative", s.ID, s.Warmup)
	case !(s.TargetCI >= 0 && s.TargetCI < 1):
		return fmt.Errorf("model %q: target_ci %v must be a fraction in [0, 1), e.g. 0.02 for ±2%%", s.ID, s.TargetCI)
	case !(s.SampleMS >= 0) || math.IsInf(s.SampleMS, 0):
		return fmt.Errorf("model %q: sample_ms %v must be a non-negative number", s.ID, s.SampleMS)
	case !(s.MaxSeconds >= 0) || math.IsInf(s.MaxSeconds, 0):
		return fmt.Errorf("model %q: max_seconds %v must be a non-negative number", s.ID, s.MaxSeconds)
	case s.Threads < 0 || s.InterOpThreads < 0:
		return fmt.Errorf("model %q: thread counts must not be negative", s.ID)
	case s.Batch < 1:
		return fmt.Errorf("model %q: batch %d must be positive", s.ID, s.Batch)
	case s.Outputs < -1:
		return fmt.Errorf("model %q: outputs %d must be -1 (all), 0 or a count", s.ID, s.Outputs)
	}
	if len(s.InputShape) > 0 && s.InputShape[0] != int64(s.Batch) {
		return fmt.Errorf("model %q: batch %d differs from input_shape[0] %d; give one of them", s.ID, s.Batch, s.InputShape[0])
	}
	for _, d := range s.InputShape {
		if d < 1 {
			return fmt.Errorf("model %q: input_shape %v has a dimension below 1", s.ID, s.InputShape)
		}
	}
	for _, c := range s.CPUs {
		if c < 0 || c > 4095 {
			return fmt.Errorf("model %q: cpu %d out of range", s.ID, c)
		}
	}
	return nil
}

// Validate checks a manifest: format, unique IDs, each spec.
func (m *Manifest) Validate() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("manifest format %d, this agent reads format %d: deploy the agent that matches your edgefit", m.Format, FormatVersion)
	}
	if len(m.Models) == 0 {
		return errors.New("manifest lists no models")
	}
	seen := map[string]bool{}
	for _, s := range m.Models {
		if _, err := s.Normalize(); err != nil {
			return err
		}
		if seen[s.ID] {
			return fmt.Errorf("model id %q appears twice", s.ID)
		}
		seen[s.ID] = true
	}
	return nil
}

// ParseManifest decodes and validates a manifest, refusing unknown fields
// (a misspelt option must not be silently ignored).
func ParseManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

// ResolvePath returns the model path of s, relative paths taken from dir.
func (s ModelSpec) ResolvePath(dir string) string {
	if path.IsAbs(s.Path) || dir == "" {
		return s.Path
	}
	return path.Join(dir, s.Path)
}

// Result is one measured model (or why it could not be measured: Error).
type Result struct {
	ID     string `json:"id"`
	Source string `json:"source"` // SourceAgent, SourceTrtexec, ...
	Model  string `json:"model,omitempty"`

	// Provider is the execution provider the model actually ran on, in
	// ONNX Runtime's naming: the requested one when ONNX Runtime assigned
	// it any node, else CPUExecutionProvider (every node fell back).
	// ProviderNodes counts the nodes each provider was assigned.
	Provider      string         `json:"provider,omitempty"`
	ProviderNodes map[string]int `json:"provider_nodes,omitempty"`
	Threads       int            `json:"threads,omitempty"`
	Batch         int            `json:"batch,omitempty"`
	CPUs          []int          `json:"cpus,omitempty"` // the affinity the measurement ran with

	Stats      timing.Stats `json:"stats"`                  // written in the wire form; see statsJSON
	LoadMS     float64      `json:"load_ms,omitempty"`      // creating the session
	FirstRunMS float64      `json:"first_run_ms,omitempty"` // the first, untimed inference
	// RunsPerSample is how many runs each timed sample averages (see
	// ModelSpec.SampleMS); omitted when 1.
	RunsPerSample int `json:"runs_per_sample,omitempty"`
	// PeakRSSBytes is the process's peak resident memory while this model
	// was loaded and run (VmHWM, reset before each model where the kernel
	// allows).
	PeakRSSBytes int64  `json:"peak_rss_bytes,omitempty"`
	Stop         string `json:"stop,omitempty"` // why timing stopped: StopRuns, StopCI, StopMaxRuns, StopMaxTime, StopCancelled

	Outputs     []Output  `json:"outputs,omitempty"`
	ProfileFile string    `json:"profile_file,omitempty"` // ONNX Runtime profile JSON on the device
	SamplesMS   []float64 `json:"samples_ms,omitempty"`

	// Extra holds tool-specific numbers (e.g. trtexec's "throughput_qps",
	// "gpu_compute_median_ms").
	Extra map[string]float64 `json:"extra,omitempty"`

	Error string `json:"error,omitempty"`
}

// Sources of a Result.
const (
	SourceAgent    = "edgefit-agent"
	SourceTrtexec  = "trtexec"
	SourcePerfTest = "onnxruntime_perf_test"
)

// Why the timed runs stopped.
const (
	StopRuns      = "runs"      // the fixed count was reached
	StopCI        = "ci"        // the confidence interval reached TargetCI
	StopMaxRuns   = "max_runs"  // MaxRuns reached first
	StopMaxTime   = "max_time"  // MaxSeconds reached first
	StopCancelled = "cancelled" // the agent was interrupted
)

// Output summarises one model output.
type Output struct {
	Name   string    `json:"name"`
	Shape  []int64   `json:"shape"`
	Sum    float64   `json:"sum"`
	AbsSum float64   `json:"abs_sum"`
	Values []float32 `json:"values,omitempty"`
}

// Info is what `edgefit-agent info` prints.
type Info struct {
	Agent      string   `json:"agent"`  // agent build version
	Format     int      `json:"format"` // FormatVersion it speaks
	ORTVersion string   `json:"ort_version"`
	Library    string   `json:"library"`
	Providers  []string `json:"providers"` // ONNX Runtime names, e.g. CPUExecutionProvider
	GOOS       string   `json:"goos"`
	GOARCH     string   `json:"goarch"`
	CPUs       int      `json:"cpus"`
	// ProviderChecks say which of Providers (those the library was built
	// with) can run on the device; only `info --check-providers` fills
	// them, since trying some providers takes seconds.
	ProviderChecks []ProviderCheck `json:"provider_checks,omitempty"`
}

// ProviderCheck is whether one execution provider ran a probe model.
type ProviderCheck struct {
	Name   string `json:"name"`
	Usable bool   `json:"usable"`
	Reason string `json:"reason,omitempty"` // why it cannot run, or a note
}

// ReadResults reads the JSON lines of an agent's output, calling fn for
// each Result. Lines that are not JSON objects (a library's chatter on
// stdout, a blank line) are skipped; a JSON object that is not a Result
// is an error. A truncated last line (the connection dropped mid-write)
// is ignored, so what did arrive can be kept.
func ReadResults(r io.Reader, fn func(Result) error) error {
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		complete := err == nil
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] == '{' {
			var res Result
			if uerr := json.Unmarshal(t, &res); uerr != nil {
				if !complete {
					return nil // cut off mid-line
				}
				return fmt.Errorf("agent output line %d: %w", lineNo, uerr)
			}
			if res.ID == "" {
				return fmt.Errorf("agent output line %d: a JSON object without an id: %.100s", lineNo, t)
			}
			if ferr := fn(res); ferr != nil {
				return ferr
			}
		}
		if !complete {
			return nil
		}
	}
}

// WriteResult writes r as one JSON line.
func WriteResult(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// statsJSON is how the protocol writes a [timing.Stats]: units in the
// keys, and min, max and the median's confidence interval, which lookup
// tables do not keep. N is 0 when a tool does not report the count.
type statsJSON struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	Mean   float64 `json:"mean_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms,omitempty"`
	P10    float64 `json:"p10_ms,omitempty"`
	P90    float64 `json:"p90_ms,omitempty"`
	Std    float64 `json:"std_ms,omitempty"`
	CoV    float64 `json:"cov,omitempty"`
	CI95   float64 `json:"ci95_rel,omitempty"`
}

// MarshalJSON writes r with its statistics in the protocol's form.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	s := r.Stats
	return json.Marshal(struct {
		plain
		Stats statsJSON `json:"stats"`
	}{plain(r), statsJSON{N: s.N, Median: s.Median, Mean: s.Mean, Min: s.Min, Max: s.Max, P10: s.P10, P90: s.P90, Std: s.Std, CoV: s.CoV, CI95: s.CI95}})
}

// UnmarshalJSON reads what [Result.MarshalJSON] writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	type plain Result
	var w struct {
		*plain
		Stats statsJSON `json:"stats"`
	}
	w.plain = (*plain)(r)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	s := w.Stats
	r.Stats = timing.Stats{N: s.N, Median: s.Median, Mean: s.Mean, Min: s.Min, Max: s.Max, P10: s.P10, P90: s.P90, Std: s.Std, CoV: s.CoV, CI95: s.CI95}
	return nil
}
