package search

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// InfeasibleError says that no subnet meets the limits and how far each
// limit would have to move.
type InfeasibleError struct {
	Limits Limits
	// Minima holds one entry per limit set, in the order of [Metrics].
	Minima []Minimum
}

// Minimum is the smallest value of one metric the search could reach.
type Minimum struct {
	Metric Metric
	Limit  float64 // the limit that was asked for
	// Value is the smallest value of Metric among subnets that meet every
	// other limit, or among all subnets when OthersMet is false.
	Value float64
	// OthersMet reports whether some subnet meets every other limit.
	OthersMet bool
	Config    supernet.Config // a subnet that reaches Value
}

// LimitKey returns the JSON key of the limit on m in [Limits]:
// max_latency_ms, max_memory_bytes, max_params or max_macs.
func (m Metric) LimitKey() string {
	switch m {
	case Latency:
		return "max_latency_ms"
	case Memory:
		return "max_memory_bytes"
	case Params:
		return "max_params"
	}
	return "max_macs"
}

// MarshalJSON writes the minimum in the unit of its metric's limit key
// (see [Metric.LimitKey]): {"limit", "smallest", "others_met", "config"}.
func (m Minimum) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Limit     float64         `json:"limit"`
		Smallest  float64         `json:"smallest"`
		OthersMet bool            `json:"others_met"`
		Config    supernet.Config `json:"config"`
	}{m.Limit, m.Value, m.OthersMet, m.Config})
}

// MinimaByLimit returns the minima keyed by their limit's JSON key, for a
// JSON report of the error.
func (e *InfeasibleError) MinimaByLimit() map[string]Minimum {
	out := make(map[string]Minimum, len(e.Minima))
	for _, m := range e.Minima {
		out[m.Metric.LimitKey()] = m
	}
	return out
}

func (e *InfeasibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no subnet meets %s: ", e.Limits)
	for i, m := range e.Minima {
		if i > 0 {
			b.WriteString("; ")
		}
		switch {
		case len(e.Minima) == 1:
			fmt.Fprintf(&b, "the smallest %s of any subnet is %s", m.Metric, m.Metric.Format(m.Value))
		case m.OthersMet:
			fmt.Fprintf(&b, "the smallest %s under the other limits is %s", m.Metric, m.Metric.Format(m.Value))
		default:
			fmt.Fprintf(&b, "the smallest %s of any subnet is %s (and none meets the other limits)", m.Metric, m.Metric.Format(m.Value))
		}
	}
	b.WriteString(": relax a limit")
	var hints []string
	for _, m := range e.Minima {
		if m.OthersMet && m.Value > m.Limit {
			hints = append(hints, fmt.Sprintf("%s to at least %s", m.Metric, m.Metric.Format(m.Value)))
		}
	}
	if len(hints) > 0 {
		b.WriteString(", such as " + strings.Join(hints, " or "))
	}
	return b.String()
}

// findAnchor finds a subnet that meets every limit, which repairs head
// for, or returns an *InfeasibleError. MACs, parameters and memory grow
// with every choice, so the smallest subnet at the smallest resolution is
// tried first; it is the answer unless latency is limited and not
// monotone, or the limits cannot be met.
func (s *searcher) findAnchor() error {
	c := s.space.MinConfig(s.space.Resolutions[0]).Canonical(s.space)
	e := make([]predictor.Estimate, 1)
	s.costs([]supernet.Config{c}, e)
	if s.lim.Met(&e[0]) {
		s.anchor = c
		return nil
	}
	ie := &InfeasibleError{Limits: s.lim}
	found := false
	for _, m := range s.lim.Set() {
		min, feasible, err := s.minimize(m)
		if err != nil {
			return err
		}
		if feasible != nil && !found {
			found = true
			s.anchor = *feasible
		}
		ie.Minima = append(ie.Minima, min)
	}
	if found {
		return nil
	}
	return ie
}

// minimize looks for the subnet with the smallest value of m among those
// that meet the other limits. At every resolution it starts from the
// smallest subnet and runs coordinate descent over the stage depths and
// the blocks' (kernel, expand) pairs, each move taking the choice that
// first lowers the excess over the other limits and then m. When m is a
// sum of per-layer costs and no other limit binds, one pass is exact, as
// each block's contribution depends on its own choice alone. It also
// returns a visited subnet that meets every limit, if any.
func (s *searcher) minimize(m Metric) (Minimum, *supernet.Config, error) {
	lim, _ := s.lim.Get(m)
	best := Minimum{Metric: m, Limit: lim, Value: math.Inf(1)}
	bestViol := math.Inf(1)
	var feasible *supernet.Config
	sp := s.space
	// key orders (excess over the other limits, m).
	type key struct{ viol, v float64 }
	less := func(a, b key) bool { return a.viol < b.viol || a.viol == b.viol && a.v < b.v }
	var cfgs []supernet.Config
	var est []predictor.Estimate
	eval := func() []key {
		est = append(est[:0], make([]predictor.Estimate, len(cfgs))...)
		s.costs(cfgs, est)
		keys := make([]key, len(cfgs))
		for i := range cfgs {
			keys[i] = key{s.lim.violation(&est[i], m), m.Of(&est[i])}
			if feasible == nil && s.lim.Met(&est[i]) {
				c := cfgs[i]
				feasible = &c
			}
		}
		return keys
	}
	for _, r := range sp.Resolutions {
		if err := s.cancelled(); err != nil {
			return best, nil, err
		}
		cur := sp.MinConfig(r).Canonical(sp)
		cfgs = append(cfgs[:0], cur)
		curKey := eval()[0]
		for pass := 0; pass < 4; pass++ {
			moved := false
			// Depths first (with the blocks as they are), then each
			// active block's kernel and expand ratio together.
			for st := range supernet.NumStages {
				cfgs = cfgs[:0]
				for _, d := range sp.Depths {
					c := cur
					c.D[st] = d
					cfgs = append(cfgs, c.Canonical(sp))
				}
				for i, k := range eval() {
					if less(k, curKey) {
						cur, curKey, moved = cfgs[i], k, true
					}
				}
			}
			for b := range supernet.NumBlocks {
				if !cur.Active(b) {
					continue
				}
				cfgs = cfgs[:0]
				for _, k := range sp.KernelSizes {
					for _, e := range sp.Expands {
						c := cur
						c.KS[b], c.E[b] = k, e
						cfgs = append(cfgs, c)
					}
				}
				for i, k := range eval() {
					if less(k, curKey) {
						cur, curKey, moved = cfgs[i], k, true
					}
				}
			}
			if !moved {
				break
			}
		}
		if less(key{curKey.viol, curKey.v}, key{bestViol, best.Value}) {
			bestViol, best.Value, best.Config = curKey.viol, curKey.v, cur
		}
	}
	best.OthersMet = bestViol == 0
	return best, feasible, nil
}
