package lut

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// Version is the format version [LUT.WriteFile] writes. [Load] reads it
// and version 1, whose keys had no units (see [MeasurementSettings] and
// timing.Stats); a file of any other version is refused rather than
// misread.
const Version = 2

// Suffix is the file name ending of a lookup table: DEVICE.lut.json.
const Suffix = ".lut.json"

// Statistics a LUT can name as its latency value.
const (
	StatMedian = "median" // what edgefit's profiler records: robust to outliers
	StatMean   = "mean"   // what OFA's published tables hold
)

// LUT is a latency lookup table for one search space on one device: the
// measured latency of every distinct layer shape at one or more input
// resolutions, and optionally of whole subnets.
//
// Its JSON form is the DEVICE.lut.json file. Build one with the profiler
// or [ImportOFA], check it with [LUT.Validate] (which [Load] runs), and
// save it with [LUT.WriteFile].
type LUT struct {
	Version int    `json:"version"` // Version
	Space   string `json:"space"`   // search space name, such as "ofa-mbv3-w1.0"
	Target  string `json:"target"`  // the device, as given to the profiler (e.g. "ssh://pi@10.0.0.5")
	// Source says where the numbers come from when the profiler did not
	// measure them, for example "OFA note10 lookup tables".
	Source string `json:"source,omitempty"`
	// Fingerprints of the device before and after profiling (clocks,
	// temperatures, governors), written by the profiler; kept as raw JSON so
	// that this package need not know their schema.
	FingerprintBefore json.RawMessage `json:"fingerprint_before,omitempty"`
	FingerprintAfter  json.RawMessage `json:"fingerprint_after,omitempty"`

	Runtime  Runtime             `json:"runtime"`
	Settings MeasurementSettings `json:"settings"`
	Unit     string              `json:"unit"`      // always "ms"
	Stat     string              `json:"statistic"` // StatMedian or StatMean: which statistic is the latency

	Entries  []Entry              `json:"entries"`
	Networks []NetworkMeasurement `json:"networks,omitempty"`

	index map[lutKey]int // built by Validate
}

// Runtime describes the inference engine the table was measured with;
// latencies from another runtime, provider or thread count do not carry
// over.
type Runtime struct {
	Name     string `json:"name"`               // e.g. "onnxruntime"
	Version  string `json:"version,omitempty"`  // e.g. "1.24.1"
	Provider string `json:"provider,omitempty"` // execution provider, e.g. "cpu"
	Threads  int    `json:"threads,omitempty"`  // intra-op threads; 0 if unknown
	Batch    int    `json:"batch"`              // batch size of every measurement
}

// String describes the runtime for people, leaving out what is not known:
// "onnxruntime 1.24.1, cpu, 1 thread(s), batch 1", or "onnxruntime, batch
// 1" for a table imported from OFA's YAML.
func (r Runtime) String() string {
	name := strings.TrimSpace(r.Name + " " + r.Version)
	if name == "" {
		name = "unknown runtime"
	}
	parts := []string{name}
	if r.Provider != "" {
		parts = append(parts, r.Provider)
	}
	if r.Threads > 0 {
		parts = append(parts, fmt.Sprintf("%d thread(s)", r.Threads))
	}
	if r.Batch > 0 {
		parts = append(parts, fmt.Sprintf("batch %d", r.Batch))
	}
	return strings.Join(parts, ", ")
}

// MeasurementSettings records how every entry was measured, so that two
// tables can be compared and a measurement can be repeated.
//
// Its JSON form follows edgefit's one schema: TargetCIPercent is written
// as the fraction target_ci_fraction; Extra values that are numbers are
// written as JSON numbers, and the Extra keys that hold fractions get the
// suffix _fraction in the file (drift_noise as drift_noise_fraction,
// drift_threshold as drift_threshold_fraction). The form of version 1
// files (target_ci_percent, numbers as strings, no suffixes) still reads.
type MeasurementSettings struct {
	Warmup          int     // untimed runs before timing
	MinRuns         int     // timed runs at least
	MaxRuns         int     // timed runs at most
	TargetCIPercent float64 // stop once the 95% CI of the median is within this % of it
	MaxSeconds      float64 // time limit per measured model
	CooldownSeconds float64 // pause between models
	CPUAffinity     string  // e.g. taskset mask "70"
	Shuffled        bool    // models measured in random order
	// Extra holds settings specific to one runtime or device.
	Extra map[string]string
}

type settingsJSON struct {
	Warmup          int                        `json:"warmup"`
	MinRuns         int                        `json:"min_runs"`
	MaxRuns         int                        `json:"max_runs"`
	TargetCI        float64                    `json:"target_ci_fraction,omitempty"`
	MaxSeconds      float64                    `json:"max_seconds,omitempty"`
	CooldownSeconds float64                    `json:"cooldown_seconds,omitempty"`
	CPUAffinity     string                     `json:"cpu_affinity,omitempty"`
	Shuffled        bool                       `json:"shuffled,omitempty"`
	Extra           map[string]json.RawMessage `json:"extra,omitempty"`
}

// fractionKeys are the Extra keys that hold fractions, and their names
// in the file.
var fractionKeys = map[string]string{"drift_noise": "drift_noise_fraction", "drift_threshold": "drift_threshold_fraction"}

// MarshalJSON writes the form described at [MeasurementSettings].
func (m MeasurementSettings) MarshalJSON() ([]byte, error) {
	j := settingsJSON{Warmup: m.Warmup, MinRuns: m.MinRuns, MaxRuns: m.MaxRuns, TargetCI: math.Round(m.TargetCIPercent*1e9) / 1e11,
		MaxSeconds: m.MaxSeconds, CooldownSeconds: m.CooldownSeconds, CPUAffinity: m.CPUAffinity, Shuffled: m.Shuffled}
	if len(m.Extra) > 0 {
		j.Extra = make(map[string]json.RawMessage, len(m.Extra))
	}
	for k, v := range m.Extra {
		if fk, ok := fractionKeys[k]; ok {
			k = fk
		}
		b, _ := json.Marshal(v)
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			b, _ = json.Marshal(f)
		}
		j.Extra[k] = b
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes, or that of version 1
// files. Unknown keys are refused.
func (m *MeasurementSettings) UnmarshalJSON(b []byte) error {
	var j struct {
		settingsJSON
		TargetCIPercent *float64 `json:"target_ci_percent"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	out := MeasurementSettings{Warmup: j.Warmup, MinRuns: j.MinRuns, MaxRuns: j.MaxRuns, TargetCIPercent: math.Round(j.TargetCI*1e11) / 1e9,
		MaxSeconds: j.MaxSeconds, CooldownSeconds: j.CooldownSeconds, CPUAffinity: j.CPUAffinity, Shuffled: j.Shuffled}
	if j.TargetCIPercent != nil {
		if j.TargetCI != 0 {
			return errors.New("settings: target_ci_fraction and target_ci_percent given both: keep one")
		}
		out.TargetCIPercent = *j.TargetCIPercent
	}
	if len(j.Extra) > 0 {
		out.Extra = make(map[string]string, len(j.Extra))
	}
	for k, raw := range j.Extra {
		for short, long := range fractionKeys {
			if k == long {
				k = short
			}
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("settings: extra %s: %w", k, err)
		}
		switch v := v.(type) {
		case string:
			out.Extra[k] = v
		case float64:
			out.Extra[k] = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			return fmt.Errorf("settings: extra %s is %s: want a string or a number", k, raw)
		}
	}
	*m = out
	return nil
}

// Entry is the latency of one layer shape, measured inside a network of
// input resolution Resolution.
type Entry struct {
	Key        string       `json:"key"`        // OFA key, as supernet.Layer.Key writes it
	Resolution int          `json:"resolution"` // input size r of the network
	Layer      LayerShape   `json:"layer"`      // the key's fields, spelled out
	Stats      timing.Stats `json:"stats"`
}

// LayerShape mirrors [supernet.Layer] with self-describing JSON names.
// Block is left out: a shape does not belong to one elastic block.
type LayerShape struct {
	Kind     string `json:"kind"` // OFA name: Conv, expanded_conv, Conv_1, AvgPool2D, Conv_2, Logits
	InSize   int    `json:"in_size"`
	OutSize  int    `json:"out_size"`
	In       int    `json:"in_channels"`
	Out      int    `json:"out_channels"`
	Mid      int    `json:"mid_channels,omitempty"`
	Kernel   int    `json:"kernel,omitempty"`
	Stride   int    `json:"stride,omitempty"`
	SE       int    `json:"se_channels,omitempty"`
	Act      string `json:"act,omitempty"` // "relu", "h_swish" or empty
	Residual bool   `json:"residual,omitempty"`
	Expand   bool   `json:"expand,omitempty"` // has the 1x1 expand conv
}

// ShapeOf returns the JSON form of a layer's shape.
func ShapeOf(l supernet.Layer) LayerShape {
	s := LayerShape{Kind: l.Kind.LUTName(), InSize: l.InSize, OutSize: l.OutSize, In: l.In, Out: l.Out,
		Mid: l.Mid, Kernel: l.Kernel, Stride: l.Stride, SE: l.SE, Residual: l.Residual, Expand: l.Expand}
	if l.Act != supernet.ActNone {
		s.Act = l.Act.String()
	}
	return s
}

// NewEntry returns the entry of layer l measured at resolution r.
func NewEntry(l supernet.Layer, r int, st timing.Stats) Entry {
	return Entry{Key: l.Key(), Resolution: r, Layer: ShapeOf(l), Stats: st}
}

// NetworkMeasurement is a whole subnet measured end to end, used to
// calibrate and validate predictions that sum layer latencies.
type NetworkMeasurement struct {
	Config supernet.Config `json:"config"`
	Stats  timing.Stats    `json:"stats"`
}

// value returns the statistic the table names in Stat.
func (t *LUT) value(s timing.Stats) float64 {
	if t.Stat == StatMean {
		return s.Mean
	}
	return s.Median
}

// Latency returns the latency of e under the table's statistic, in ms.
func (t *LUT) Latency(e *Entry) float64 { return t.value(e.Stats) }

// NetworkLatency returns the measured latency of n under the table's
// statistic, in ms.
func (t *LUT) NetworkLatency(n *NetworkMeasurement) float64 { return t.value(n.Stats) }

type lutKey struct {
	r   int
	key string
}

// Lookup returns the entry for key measured at input resolution r. It
// uses an index that Validate (and so Load) builds, or that Lookup
// builds on first use: after changing Entries, call Validate again, and
// validate a table before looking it up from several goroutines.
func (t *LUT) Lookup(r int, key string) (*Entry, bool) {
	if t.index == nil {
		t.buildIndex()
	}
	i, ok := t.index[lutKey{r, key}]
	if !ok {
		return nil, false
	}
	return &t.Entries[i], true
}

func (t *LUT) buildIndex() {
	t.index = make(map[lutKey]int, len(t.Entries))
	for i := range t.Entries {
		k := lutKey{t.Entries[i].Resolution, t.Entries[i].Key}
		if _, dup := t.index[k]; !dup {
			t.index[k] = i
		}
	}
}

// Resolutions returns the input resolutions the table has entries for,
// ascending.
func (t *LUT) Resolutions() []int {
	var rs []int
	for i := range t.Entries {
		rs = append(rs, t.Entries[i].Resolution)
	}
	slices.Sort(rs)
	return slices.Compact(rs)
}

// SpaceOf returns the search space the table was measured for.
func (t *LUT) SpaceOf() (*supernet.Space, error) {
	s, err := supernet.SpaceByName(t.Space)
	if err != nil {
		return nil, fmt.Errorf("lookup table: %w", err)
	}
	if s.Name != t.Space {
		return nil, fmt.Errorf("lookup table: space %q must be spelled %q", t.Space, s.Name)
	}
	return s, nil
}

// Missing returns the distinct layers of the table's space at resolution r
// that the table has no entry for. An empty result means that every
// subnet at r can be summed from the table alone.
func (t *LUT) Missing(r int) ([]supernet.Layer, error) {
	s, err := t.SpaceOf()
	if err != nil {
		return nil, err
	}
	var out []supernet.Layer
	for _, l := range s.DistinctLayers(r) {
		if _, ok := t.Lookup(r, l.Key()); !ok {
			out = append(out, l)
		}
	}
	return out, nil
}

// Validate checks the table strictly: a known space, format version and
// unit; every entry's key parses, agrees with its structured fields and
// fits its resolution and is a layer of the table's space there (see
// [CheckKeySpace]); no key appears twice at one resolution; every
// statistic is finite and not negative and the table's latency statistic
// is positive; every network's config is valid for the space. The error
// names the entry or network and says what to do.
func (t *LUT) Validate() error {
	if t.Version != Version && t.Version != 1 {
		return fmt.Errorf("lookup table format version %d is not supported: this edgefit reads versions 1 and %d; re-run the profiler or convert the table", t.Version, Version)
	}
	space, err := t.SpaceOf()
	if err != nil {
		return err
	}
	if t.Unit != "ms" {
		return fmt.Errorf(`lookup table unit %q is not supported: latencies must be in milliseconds ("unit": "ms")`, t.Unit)
	}
	if t.Stat != StatMedian && t.Stat != StatMean {
		return fmt.Errorf(`lookup table statistic %q is unknown: use "median" or "mean"`, t.Stat)
	}
	if t.Runtime.Batch < 0 || t.Runtime.Threads < 0 {
		return fmt.Errorf("lookup table runtime: batch %d and threads %d must not be negative", t.Runtime.Batch, t.Runtime.Threads)
	}
	if len(t.Entries) == 0 {
		return errors.New("lookup table has no entries: profile the device first")
	}
	seen := make(map[lutKey]int, len(t.Entries))
	for i := range t.Entries {
		e := &t.Entries[i]
		where := fmt.Sprintf("entry %d (%s at r=%d)", i, e.Key, e.Resolution)
		if e.Resolution < 32 || e.Resolution > 1024 {
			return fmt.Errorf("lookup table %s: resolution %d is outside 32..1024", where, e.Resolution)
		}
		l, err := ParseKey(e.Key)
		if err != nil {
			return fmt.Errorf("lookup table entry %d: %w", i, err)
		}
		if got := ShapeOf(l); got != e.Layer {
			return fmt.Errorf("lookup table %s: structured fields %+v do not match the key, which says %+v; fix or regenerate the entry", where, e.Layer, got)
		}
		if !slices.Contains(spatialSizes(e.Resolution), l.InSize) {
			return fmt.Errorf("lookup table %s: input size %d cannot occur in a network of resolution %d (sizes there: %v)", where, l.InSize, e.Resolution, spatialSizes(e.Resolution))
		}
		if err := t.checkStats(e.Stats); err != nil {
			return fmt.Errorf("lookup table %s: %w", where, err)
		}
		k := lutKey{e.Resolution, e.Key}
		if j, dup := seen[k]; dup {
			return fmt.Errorf("lookup table %s: duplicate of entry %d; keep one measurement per key and resolution", where, j)
		}
		seen[k] = i
	}
	if err := CheckKeySpace(t.Space, len(t.Entries), func(i int) (int, string) { return t.Entries[i].Resolution, t.Entries[i].Key }); err != nil {
		return fmt.Errorf("lookup table: %w", err)
	}
	for i := range t.Networks {
		n := &t.Networks[i]
		if err := space.ValidateAnyResolution(n.Config); err != nil {
			return fmt.Errorf("lookup table network %d: config is not a subnet of %s: %w", i, t.Space, err)
		}
		if err := t.checkStats(n.Stats); err != nil {
			return fmt.Errorf("lookup table network %d (r=%d): %w", i, n.Config.R, err)
		}
	}
	t.index = seen
	return nil
}

func (t *LUT) checkStats(s timing.Stats) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"median", s.Median}, {"mean", s.Mean}, {"p10", s.P10}, {"p90", s.P90}, {"std", s.Std}, {"cov", s.CoV}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%s latency is %v: every statistic must be a finite number >= 0; re-measure it", f.name, f.v)
		}
	}
	if v := t.value(s); !(v > 0) {
		return fmt.Errorf("%s latency is %v, but the table's latency statistic must be positive; re-measure it", t.Stat, v)
	}
	if s.N < 1 {
		return fmt.Errorf("n = %d timed runs; a measurement needs at least one", s.N)
	}
	return nil
}

// spatialSizes lists the feature-map sizes a network of input resolution r
// has: r itself, then each stride-2 halving down to 1 (plus 1 for the
// pooled head).
func spatialSizes(r int) []int {
	out := []int{r}
	for h := r; h > 1; {
		h = supernet.SpatialOut(h, 2)
		out = append(out, h)
	}
	if out[len(out)-1] != 1 {
		out = append(out, 1)
	}
	return out
}

// Read decodes a table from r and validates it. Unknown JSON fields are
// refused, so that a misspelt field is not silently dropped.
func Read(r io.Reader) (*LUT, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var t LUT
	if err := dec.Decode(&t); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("lookup table is not valid JSON at byte %d: %w", se.Offset, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("lookup table is not valid JSON: it ends early (%w); the file may be truncated", err)
		}
		return nil, fmt.Errorf("lookup table: %w", err)
	}
	if dec.More() {
		return nil, errors.New("lookup table: extra data after the JSON object")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Load reads and validates the table at path (DEVICE.lut.json).
func Load(path string) (*LUT, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load lookup table: %w", err)
	}
	defer f.Close()
	t, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return t, nil
}

// Sort orders the entries by resolution, then key, and the networks by
// resolution, so that files are stable and diffs readable.
func (t *LUT) Sort() {
	sort.SliceStable(t.Entries, func(i, j int) bool {
		a, b := &t.Entries[i], &t.Entries[j]
		if a.Resolution != b.Resolution {
			return a.Resolution < b.Resolution
		}
		return a.Key < b.Key
	})
	sort.SliceStable(t.Networks, func(i, j int) bool { return t.Networks[i].Config.R < t.Networks[j].Config.R })
	t.index = nil
}

// Encode writes the table as indented JSON. It validates first, so that
// no invalid table reaches disk.
func (t *LUT) Encode(w io.Writer) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return t.encode(w)
}

// encode writes the table in the current format, whatever version it was
// read as.
func (t *LUT) encode(w io.Writer) error {
	c := *t
	c.Version = Version
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&c)
}

// WriteFile validates the table and writes it to path atomically (see
// package internal/atomicfile), with mode 0644.
func (t *LUT) WriteFile(path string) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := atomicfile.Write(path, t.encode); err != nil {
		return fmt.Errorf("write lookup table: %w", err)
	}
	return nil
}

// Summary condenses a table for people and scripts.
type Summary struct {
	Space       string  `json:"space"`
	Target      string  `json:"target"`
	Runtime     Runtime `json:"runtime"`
	Resolutions []int   `json:"resolutions"`
	Entries     int     `json:"entries"`
	Networks    int     `json:"networks"`
	MedianCoV   float64 `json:"median_cov"`  // median over entries of Std/Mean
	MedianRuns  float64 `json:"median_runs"` // median timed runs per entry
}

// Summary returns the summary of t.
func (t *LUT) Summary() Summary {
	s := Summary{Space: t.Space, Target: t.Target, Runtime: t.Runtime, Resolutions: t.Resolutions(),
		Entries: len(t.Entries), Networks: len(t.Networks)}
	var covs, runs []float64
	for _, e := range t.Entries {
		if e.Stats.CoV > 0 {
			covs = append(covs, e.Stats.CoV)
		}
		runs = append(runs, float64(e.Stats.N))
	}
	s.MedianCoV = timing.Median(covs)
	s.MedianRuns = timing.Median(runs)
	return s
}
