// Package timing summarizes timed runs: [Stats] is edgefit's one
// statistics type, and [Summarize] the one way to compute it. The agent
// fills it on the device (package profiler/bench), the runners fill it from
// vendor tools' reports (profiler/runners), the wire protocol carries it
// (profiler/bench/wire), and lookup tables keep it per layer
// (profiler/lut).
//
// All times are milliseconds. Percentiles interpolate linearly between
// order statistics (numpy's default, R's type 7).
//
// The package imports nothing else of edgefit and has no cgo, so that the
// on-device agent can use it without linking the search space.
package timing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Stats summarize the timed runs of one measurement, in milliseconds. A
// statistic a source did not record is zero (N is 0 when the count is
// unknown; OFA's tables carry only mean and std).
//
// Its JSON form is the one lookup tables, profiling journals and bench
// results use, with the unit in each key: median_ms, mean_ms, p10_ms,
// p90_ms, std_ms, n (a count), cov (a fraction) and timed_runs (a count,
// when some timed runs were left out of the statistics); Min, Max and CI95 are
// not part of it. [Stats.UnmarshalJSON] also reads the keys without units
// that files written before edgefit's one JSON schema hold (median, mean,
// p10, p90, std). The agent's wire protocol writes its own form (units in
// the keys, min, max and ci95 included); see package profiler/bench/wire.
type Stats struct {
	Median float64
	Mean   float64
	P10    float64
	P90    float64
	Std    float64
	N      int     // timed runs the statistics rest on
	CoV    float64 // Std / Mean
	// Timed, when not 0, is how many runs were timed in all, of which the
	// N least disturbed make the statistics (interleaved rounds keep only
	// the samples near the fastest; see package profiler).
	Timed int

	Min float64 `json:"-"`
	Max float64 `json:"-"`
	// CI95 is the half-width of the distribution-free 95% confidence
	// interval of the median, relative to the median (0.02 = ±2%); zero
	// below 6 samples, where no such interval exists.
	CI95 float64 `json:"-"`
}

type statsJSON struct {
	Median float64 `json:"median_ms"`
	Mean   float64 `json:"mean_ms"`
	P10    float64 `json:"p10_ms,omitempty"`
	P90    float64 `json:"p90_ms,omitempty"`
	Std    float64 `json:"std_ms"`
	N      int     `json:"n"`
	CoV    float64 `json:"cov,omitempty"`
	Timed  int     `json:"timed_runs,omitempty"`
}

// MarshalJSON writes the JSON form described at [Stats].
func (s Stats) MarshalJSON() ([]byte, error) {
	return json.Marshal(statsJSON{s.Median, s.Mean, s.P10, s.P90, s.Std, s.N, s.CoV, s.Timed})
}

// UnmarshalJSON reads the JSON form described at [Stats], or the earlier
// one without units in the keys. Unknown keys, and a statistic given
// under both names, are refused.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j struct {
		statsJSON
		OldMedian *float64 `json:"median"`
		OldMean   *float64 `json:"mean"`
		OldP10    *float64 `json:"p10"`
		OldP90    *float64 `json:"p90"`
		OldStd    *float64 `json:"std"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("timing statistics: %w", err)
	}
	out := Stats{Median: j.Median, Mean: j.Mean, P10: j.P10, P90: j.P90, Std: j.Std, N: j.N, CoV: j.CoV, Timed: j.Timed}
	for _, f := range []struct {
		name string
		old  *float64
		dst  *float64
	}{{"median", j.OldMedian, &out.Median}, {"mean", j.OldMean, &out.Mean}, {"p10", j.OldP10, &out.P10},
		{"p90", j.OldP90, &out.P90}, {"std", j.OldStd, &out.Std}} {
		if f.old == nil {
			continue
		}
		if *f.dst != 0 && *f.dst != *f.old {
			return fmt.Errorf("timing statistics: %s given twice, as %s_ms and %s", f.name, f.name, f.name)
		}
		*f.dst = *f.old
	}
	*s = out
	return nil
}

// Summarize computes the Stats of samples (any order; not modified). It
// returns the zero Stats for no samples.
func Summarize(samples []float64) Stats {
	n := len(samples)
	if n == 0 {
		return Stats{}
	}
	x := slices.Clone(samples)
	slices.Sort(x)
	var sum float64
	for _, v := range x {
		sum += v
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	st := Stats{N: n, Mean: mean, Min: x[0], Max: x[n-1], Median: Quantile(x, 0.5), P10: Quantile(x, 0.1), P90: Quantile(x, 0.9)}
	if n > 1 {
		st.Std = math.Sqrt(ss / float64(n-1))
	}
	if mean > 0 {
		st.CoV = st.Std / mean
	}
	st.CI95 = MedianCI95(x)
	return st
}

// Quantile returns the q-quantile (q in [0, 1]) of sorted, interpolating
// linearly between order statistics. sorted must not be empty.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	h := q * float64(len(sorted)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// Median returns the median of v (any order; not modified), or 0 for no
// values.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return Quantile(s, 0.5)
}

// MedianCI95 returns the relative half-width of the distribution-free 95%
// confidence interval of the median of sorted: the order statistics at
// ranks n/2 ∓ 1.96·√n/2 bound it. It is zero below 6 samples or when the
// median is not positive.
func MedianCI95(sorted []float64) float64 {
	n := len(sorted)
	if n < 6 {
		return 0
	}
	med := Quantile(sorted, 0.5)
	if med <= 0 {
		return 0
	}
	half := 1.96 * math.Sqrt(float64(n)) / 2
	lo := int(math.Floor(float64(n)/2 - half)) // 1-based rank
	hi := int(math.Ceil(float64(n)/2+half)) + 1
	lo = max(lo, 1)
	hi = min(hi, n)
	return (sorted[hi-1] - sorted[lo-1]) / 2 / med
}
