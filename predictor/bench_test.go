package predictor

import (
	"math/rand/v2"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

func randomConfigs(s *supernet.Space, n int, rs []int) []supernet.Config {
	rng := rand.New(rand.NewPCG(42, 42))
	cfgs := make([]supernet.Config, n)
	for i := range cfgs {
		cfgs[i] = s.RandomConfig(rng)
		if rs != nil {
			cfgs[i].R = rs[rng.IntN(len(rs))]
		}
	}
	return cfgs
}

// BenchmarkMLP50k times the tutorial MLP alone on 50,000 random w1.2
// subnets, on the calling goroutine (one core).
func BenchmarkMLP50k(b *testing.B) {
	p := tutorialMLP(b)
	s, _ := supernet.NewSpace(1.2)
	cfgs := randomConfigs(s, 50000, []int{160, 176, 192, 208, 224})
	out := make([]float64, len(cfgs))
	b.ResetTimer()
	for range b.N {
		p.Accuracy(cfgs, out)
	}
}

// BenchmarkMLP50kPortable is BenchmarkMLP50k without the assembly kernels.
func BenchmarkMLP50kPortable(b *testing.B) {
	p := tutorialMLP(b)
	s, _ := supernet.NewSpace(1.2)
	cfgs := randomConfigs(s, 50000, []int{160, 176, 192, 208, 224})
	out := make([]float64, len(cfgs))
	saved := useAsm
	useAsm = false
	defer func() { useAsm = saved }()
	b.ResetTimer()
	for range b.N {
		p.Accuracy(cfgs, out)
	}
}

// BenchmarkScore50k scores 50,000 random w1.2 subnets (r 160..224 step 16)
// with the tutorial MLP, the Note10 latency predictor and exact costs,
// using both cores. Target: ≤ 0.4 s per op on the 2-core development
// machine.
func BenchmarkScore50k(b *testing.B) {
	sc, _, _ := note10Scorer(b)
	cfgs := randomConfigs(sc.Space(), 50000, []int{160, 176, 192, 208, 224})
	out := make([]Estimate, len(cfgs))
	b.ResetTimer()
	for range b.N {
		sc.Score(cfgs, out)
	}
}

// BenchmarkLatency50k times the latency predictor alone.
func BenchmarkLatency50k(b *testing.B) {
	lat, _, err := Fit(note10(b), FitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cfgs := randomConfigs(lat.Space(), 50000, []int{160, 176, 192, 208, 224})
	b.ResetTimer()
	var sink float64
	for range b.N {
		for i := range cfgs {
			sink += lat.LatencyMS(cfgs[i])
		}
	}
	_ = sink
}

// BenchmarkCosts50k times supernet.Space.Costs, part of every estimate.
func BenchmarkCosts50k(b *testing.B) {
	s, _ := supernet.NewSpace(1.2)
	cfgs := randomConfigs(s, 50000, []int{160, 176, 192, 208, 224})
	b.ResetTimer()
	var sink int64
	for range b.N {
		for i := range cfgs {
			sink += s.Costs(cfgs[i]).MACs
		}
	}
	_ = sink
}
