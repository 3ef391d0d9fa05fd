package search

import (
	"fmt"
	"math"
	"strings"

	"github.com/edgefit/edgefit/predictor"
)

// Metric names one quantity a limit can bound.
type Metric int

const (
	Latency Metric = iota // predicted latency, milliseconds
	Memory                // peak memory, bytes
	Params                // parameters
	MACs                  // multiply-accumulates
)

// Metrics lists every metric in the order messages name them.
var Metrics = []Metric{Latency, Memory, Params, MACs}

func (m Metric) String() string {
	switch m {
	case Latency:
		return "latency"
	case Memory:
		return "memory"
	case Params:
		return "params"
	case MACs:
		return "MACs"
	}
	return fmt.Sprintf("Metric(%d)", int(m))
}

// Of returns the metric's value in an estimate: milliseconds for
// latency, bytes for memory, plain counts for the others.
func (m Metric) Of(e *predictor.Estimate) float64 {
	switch m {
	case Latency:
		return e.LatencyMS
	case Memory:
		return float64(e.PeakMemory)
	case Params:
		return float64(e.Params)
	case MACs:
		return float64(e.MACs)
	}
	return math.NaN()
}

// Format writes a value of the metric with its unit.
func (m Metric) Format(v float64) string {
	switch m {
	case Latency:
		return FormatLatency(v)
	case Memory:
		return FormatBytes(int64(math.Round(v)))
	default:
		return FormatCount(int64(math.Round(v)))
	}
}

// Limits bound the subnets a search may return. A zero field sets no
// limit; a subnet meets the limits when each set quantity is at most its
// limit.
type Limits struct {
	MaxLatencyMS float64 // predicted latency on the target, milliseconds
	MaxMemory    int64   // peak memory (weights plus live activations), bytes
	MaxParams    int64   // parameters
	MaxMACs      int64   // multiply-accumulates per image
}

// Get returns the limit on m and whether one is set.
func (l Limits) Get(m Metric) (float64, bool) {
	var v float64
	switch m {
	case Latency:
		v = l.MaxLatencyMS
	case Memory:
		v = float64(l.MaxMemory)
	case Params:
		v = float64(l.MaxParams)
	case MACs:
		v = float64(l.MaxMACs)
	}
	return v, v > 0
}

// Set lists the metrics with a limit, in the order of [Metrics].
func (l Limits) Set() []Metric {
	var out []Metric
	for _, m := range Metrics {
		if _, ok := l.Get(m); ok {
			out = append(out, m)
		}
	}
	return out
}

// Validate refuses negative or non-finite limits.
func (l Limits) Validate() error {
	if math.IsNaN(l.MaxLatencyMS) || math.IsInf(l.MaxLatencyMS, 0) || l.MaxLatencyMS < 0 {
		return fmt.Errorf("latency limit %v ms is not a positive number: give one such as 20ms, or none", l.MaxLatencyMS)
	}
	for _, f := range []struct {
		m Metric
		v int64
	}{{Memory, l.MaxMemory}, {Params, l.MaxParams}, {MACs, l.MaxMACs}} {
		if f.v < 0 {
			return fmt.Errorf("%s limit %d is negative: give a positive limit, or none", f.m, f.v)
		}
	}
	return nil
}

// Met reports whether e meets every limit.
func (l Limits) Met(e *predictor.Estimate) bool {
	return l.violation(e, -1) == 0
}

// violation sums the relative excess of e over every set limit except
// skip: zero when e meets them.
func (l Limits) violation(e *predictor.Estimate, skip Metric) float64 {
	v := 0.0
	for _, m := range Metrics {
		if m == skip {
			continue
		}
		if lim, ok := l.Get(m); ok {
			if x := m.Of(e); x > lim || math.IsNaN(x) {
				if math.IsNaN(x) {
					return math.Inf(1)
				}
				v += x/lim - 1
			}
		}
	}
	return v
}

// String writes the set limits, for example "latency ≤ 20 ms, memory ≤ 40.0 MB".
func (l Limits) String() string {
	var parts []string
	for _, m := range l.Set() {
		v, _ := l.Get(m)
		parts = append(parts, fmt.Sprintf("%s ≤ %s", m, m.Format(v)))
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}
