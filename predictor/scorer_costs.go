package predictor

import "github.com/edgefit/edgefit/supernet"

// The search (supernet/search) checks and repairs candidates against the
// user's limits far more often than it needs their accuracy. These two
// methods give it the cheap part of Score on its own.

// ScoreCosts is Score without the accuracy model: it writes the latency
// and exact costs of cfgs[i] to out[i] and leaves Accuracy zero.
func (s *Scorer) ScoreCosts(cfgs []supernet.Config, out []Estimate) {
	out = out[:len(cfgs)]
	for i := range cfgs {
		out[i] = Estimate{LatencyMS: s.lat.LatencyMS(cfgs[i]), Costs: s.space.Costs(cfgs[i])}
	}
}

// LatencyMS returns the predicted latency of c alone, the cheapest check
// of a latency limit.
func (s *Scorer) LatencyMS(c supernet.Config) float64 { return s.lat.LatencyMS(c) }
