package search

import (
	"encoding/json"
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
//
// A limit may also be relative (Share): a fraction of the value the
// largest subnet of the search (the largest choice everywhere, at the
// largest resolution searched) has there, such as 0.6 of its predicted
// latency on the device. [Run] resolves each share into the absolute
// limit beside it ([Limits.Resolve]) before searching, and its Result
// keeps both.
//
// Its JSON form has one key per set limit, with the unit in the key:
// max_latency_ms, max_memory_bytes, max_params, max_macs, and
// max_latency_fraction (etc.) for shares; unset limits are left out.
type Limits struct {
	MaxLatencyMS float64 // predicted latency on the target, milliseconds
	MaxMemory    int64   // peak memory (weights plus live activations), bytes
	MaxParams    int64   // parameters
	MaxMACs      int64   // multiply-accumulates per image
	Share        Shares  // limits relative to the largest subnet
}

// Shares are limits relative to the largest subnet: each a fraction in
// (0, 1] of that subnet's value of the metric, or 0 for none.
type Shares struct {
	Latency, Memory, Params, MACs float64
}

// Of returns the share of metric m (0 when none).
func (s Shares) Of(m Metric) float64 {
	switch m {
	case Latency:
		return s.Latency
	case Memory:
		return s.Memory
	case Params:
		return s.Params
	case MACs:
		return s.MACs
	}
	return 0
}

// Relative reports whether any limit is a share still to be resolved, or
// resolved from one.
func (l Limits) Relative() bool { return l.Share != Shares{} }

// Resolve sets each limit given as a share to that share of largest, the
// estimate of the largest subnet; the shares stay, to say where the
// limits come from. Resolving twice gives the same limits.
func (l Limits) Resolve(largest *predictor.Estimate) Limits {
	sh := l.Share
	if sh.Latency > 0 {
		l.MaxLatencyMS = sh.Latency * largest.LatencyMS
	}
	floor := func(share float64, v int64) int64 { return max(1, int64(math.Floor(share*float64(v)))) }
	if sh.Memory > 0 {
		l.MaxMemory = floor(sh.Memory, largest.PeakMemory)
	}
	if sh.Params > 0 {
		l.MaxParams = floor(sh.Params, largest.Params)
	}
	if sh.MACs > 0 {
		l.MaxMACs = floor(sh.MACs, largest.MACs)
	}
	return l
}

type limitsJSON struct {
	MaxLatencyMS float64 `json:"max_latency_ms,omitempty"`
	MaxMemory    int64   `json:"max_memory_bytes,omitempty"`
	MaxParams    int64   `json:"max_params,omitempty"`
	MaxMACs      int64   `json:"max_macs,omitempty"`
	LatencyShare float64 `json:"max_latency_fraction,omitempty"`
	MemoryShare  float64 `json:"max_memory_fraction,omitempty"`
	ParamsShare  float64 `json:"max_params_fraction,omitempty"`
	MACsShare    float64 `json:"max_macs_fraction,omitempty"`
}

// MarshalJSON writes the set limits only, with their units in the keys.
func (l Limits) MarshalJSON() ([]byte, error) {
	return json.Marshal(limitsJSON{l.MaxLatencyMS, l.MaxMemory, l.MaxParams, l.MaxMACs,
		l.Share.Latency, l.Share.Memory, l.Share.Params, l.Share.MACs})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (l *Limits) UnmarshalJSON(b []byte) error {
	var j limitsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*l = Limits{j.MaxLatencyMS, j.MaxMemory, j.MaxParams, j.MaxMACs, Shares{j.LatencyShare, j.MemoryShare, j.ParamsShare, j.MACsShare}}
	return nil
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

// Set lists the metrics with a limit, absolute or relative, in the order
// of [Metrics].
func (l Limits) Set() []Metric {
	var out []Metric
	for _, m := range Metrics {
		if _, ok := l.Get(m); ok || l.Share.Of(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// Validate refuses negative or non-finite limits, and shares outside
// (0, 1].
func (l Limits) Validate() error {
	if math.IsNaN(l.MaxLatencyMS) || math.IsInf(l.MaxLatencyMS, 0) || l.MaxLatencyMS < 0 {
		return fmt.Errorf("latency limit %v ms is not a positive number: give one such as 20ms, or none", l.MaxLatencyMS)
	}
	for _, m := range Metrics {
		if f := l.Share.Of(m); math.IsNaN(f) || f < 0 || f > 1 {
			return fmt.Errorf("%s limit of %v%% of the largest subnet is outside (0, 100%%]: give one such as 60%%, or none", m, 100*f)
		}
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

// String writes the set limits, for example "latency ≤ 20 ms, memory ≤
// 40.0 MB"; a relative one says of what: "latency ≤ 9.12 ms (60% of the
// largest subnet's 15.2 ms)", or "latency ≤ 60% of the largest subnet's"
// before it is resolved.
func (l Limits) String() string {
	var parts []string
	for _, m := range l.Set() {
		v, ok := l.Get(m)
		f := l.Share.Of(m)
		switch {
		case f > 0 && ok:
			parts = append(parts, fmt.Sprintf("%s ≤ %s (%s of the largest subnet's %s)", m, m.Format(v), FormatShare(f), m.Format(v/f)))
		case f > 0:
			parts = append(parts, fmt.Sprintf("%s ≤ %s of the largest subnet's", m, FormatShare(f)))
		default:
			parts = append(parts, fmt.Sprintf("%s ≤ %s", m, m.Format(v)))
		}
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}
