package search

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// synthScorer is a test scorer built on the real space: exact costs from
// supernet.Space.Costs, latency a sum of per-layer terms (a MAC-driven
// cost per block plus a fixed cost per layer), and accuracy a smooth,
// saturating function of the blocks' kernels and expand ratios, the
// depths and the resolution. It scores in two goroutines so that
// determinism across GOMAXPROCS is tested for real.
type synthScorer struct {
	space *supernet.Space
	// slowK3 adds latency to every 3x3 block, as on a device whose 3x3
	// depthwise kernels are poorly tuned: latency then is not monotone.
	slowK3         float64
	scored, costed atomic.Int64
}

func newSynth(s *supernet.Space) *synthScorer { return &synthScorer{space: s} }

func (t *synthScorer) estimate(c supernet.Config, withAcc bool) predictor.Estimate {
	co := t.space.Costs(c)
	lat := 0.8 + float64(co.MACs)/35e6
	for i := range supernet.NumBlocks {
		if c.Active(i) {
			lat += 0.05
			if c.KS[i] == 3 {
				lat += t.slowK3
			}
		}
	}
	e := predictor.Estimate{LatencyMS: lat, Costs: co}
	if withAcc {
		e.Accuracy = synthAccuracy(c)
	}
	return e
}

func synthAccuracy(c supernet.Config) float64 {
	capacity := 0.0
	for i := range supernet.NumBlocks {
		if c.Active(i) {
			w := 1 + 0.15*float64(i%7)
			capacity += w * (0.5 + 0.35*float64(c.KS[i]-3)/4 + 0.65*float64(c.E[i]-3)/3)
		}
	}
	capacity += 4 * float64(c.R-128) / 96
	return 0.86 - 0.14*math.Exp(-capacity/14)
}

func (t *synthScorer) run(cfgs []supernet.Config, out []predictor.Estimate, withAcc bool) {
	var wg sync.WaitGroup
	half := len(cfgs) / 2
	for _, part := range [][2]int{{0, half}, {half, len(cfgs)}} {
		wg.Go(func() {
			for i := part[0]; i < part[1]; i++ {
				out[i] = t.estimate(cfgs[i], withAcc)
			}
		})
	}
	wg.Wait()
}

func (t *synthScorer) Score(cfgs []supernet.Config, out []predictor.Estimate) {
	t.scored.Add(int64(len(cfgs)))
	t.run(cfgs, out, true)
}

func (t *synthScorer) ScoreCosts(cfgs []supernet.Config, out []predictor.Estimate) {
	t.costed.Add(int64(len(cfgs)))
	t.run(cfgs, out, false)
}

// scoreOnly hides ScoreCosts, to test the path for plain Scorers.
type scoreOnly struct{ s *synthScorer }

func (s scoreOnly) Score(cfgs []supernet.Config, out []predictor.Estimate) { s.s.Score(cfgs, out) }
