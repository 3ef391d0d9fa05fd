package predictor

import (
	"math"

	"github.com/edgefit/edgefit/supernet"
)

// ProxySource is what [ProxyAccuracy.Source] reports.
const ProxySource = "PROXY, not an accuracy: normalized log MACs (0 = smallest subnet at the lowest resolution, 1 = largest at the highest); it only ranks larger subnets higher. Give an accuracy predictor (.pth) or measured samples (.csv) for real accuracies"

// ProxyAccuracy is the fallback when no accuracy source is given. Within
// OFA's spaces larger subnets (more kernel, width, depth and resolution)
// are more accurate on average, so a search that maximizes this proxy
// under a latency budget picks the largest subnet that fits — a sensible
// default, but its numbers are not accuracies and reports must say so
// (see [ProxySource]).
//
// The proxy is (log MACs − log MACs_min) / (log MACs_max − log MACs_min),
// where min and max are the smallest subnet at the space's lowest
// resolution and the largest at its highest, clamped to [0, 1].
type ProxyAccuracy struct {
	space  *supernet.Space
	lo, hi float64
}

// NewProxyAccuracy returns the MACs proxy for space s.
func NewProxyAccuracy(s *supernet.Space) *ProxyAccuracy {
	rs := s.Resolutions
	lo := math.Log(float64(s.Costs(s.MinConfig(rs[0])).MACs))
	hi := math.Log(float64(s.Costs(s.MaxConfig(rs[len(rs)-1])).MACs))
	return &ProxyAccuracy{space: s, lo: lo, hi: hi}
}

// Accuracy writes the proxy score of cfgs[i] to out[i].
func (p *ProxyAccuracy) Accuracy(cfgs []supernet.Config, out []float64) {
	for i := range cfgs {
		out[i] = p.score(p.space.Costs(cfgs[i]).MACs)
	}
}

func (p *ProxyAccuracy) score(macs int64) float64 {
	if macs <= 0 {
		return 0
	}
	v := (math.Log(float64(macs)) - p.lo) / (p.hi - p.lo)
	return math.Min(1, math.Max(0, v))
}

// Source says plainly that this is a proxy.
func (p *ProxyAccuracy) Source() string { return ProxySource }

// ProxyLabelled is implemented by accuracy models whose numbers are a
// stand-in for accuracy, such as the zero-cost NASWOT proxy (package
// export/zerocost, which this package does not import), so that reports
// label them as they label the MACs proxy.
type ProxyLabelled interface {
	AccuracyIsProxy() bool
}

// IsProxy reports whether m's numbers are a stand-in rather than
// predicted accuracies, so that reports can label them: the MACs proxy,
// or any other model that says so through [ProxyLabelled].
func IsProxy(m AccuracyModel) bool {
	p, ok := m.(ProxyLabelled)
	return ok && p.AccuracyIsProxy()
}

// AccuracyIsProxy is true: the MACs proxy is a stand-in for accuracy.
func (*ProxyAccuracy) AccuracyIsProxy() bool { return true }
