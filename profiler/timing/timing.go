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
	"math"
	"slices"
)

// Stats summarize the timed runs of one measurement, in milliseconds. A
// statistic a source did not record is zero (N is 0 when the count is
// unknown; OFA's tables carry only mean and std).
//
// Its JSON form, with these keys, is the one lookup tables, profiling
// journals and bench results use; Min, Max and CI95 are not part of it.
// The agent's wire protocol writes its own form (units in the keys, min,
// max and ci95 included); see package profiler/bench/wire.
type Stats struct {
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	P10    float64 `json:"p10,omitempty"`
	P90    float64 `json:"p90,omitempty"`
	Std    float64 `json:"std"`
	N      int     `json:"n"`             // timed runs
	CoV    float64 `json:"cov,omitempty"` // Std / Mean

	Min float64 `json:"-"`
	Max float64 `json:"-"`
	// CI95 is the half-width of the distribution-free 95% confidence
	// interval of the median, relative to the median (0.02 = ±2%); zero
	// below 6 samples, where no such interval exists.
	CI95 float64 `json:"-"`
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
