package supernet

import (
	"math"
	"math/rand/v2"
)

// Init returns subnet c of space s with seeded, untrained weights, for
// when no checkpoint is at hand and only shapes and latency matter (the
// profiler's micro-models, latency-only exports). The same seed always
// gives the same weights. The net is marked [Net.Untrained].
//
// Convolutions are drawn from N(0, 2/fan_in) (Kaiming, fan_in counting
// only the inputs of one group, so depthwise kernels are not shrunk to
// nothing), the linear projections and the classifier from N(0, 1/fan_in),
// biases are small, and BatchNorm is close to the identity (weight ≈ 1,
// bias ≈ 0, mean ≈ 0, var ≈ 1) but not exactly, so BN folding is
// exercised. Activations therefore stay of order one through the net:
// no overflow, and no denormals that would distort latency. c must be
// valid for s (its resolution may be any size in 32..1024); Init panics
// otherwise, since configs reaching it come from the program, not the
// user.
func Init(s *Space, c Config, seed uint64) *Net {
	if err := s.validateArch(c); err != nil {
		panic("supernet.Init: " + err.Error())
	}
	c = c.Canonical(s)
	rng := rand.New(rand.NewPCG(seed, 0x0fa_5eed))
	normal := func(std float64, shape ...int) Tensor {
		t := Tensor{Shape: shape}
		t.Data = make([]float32, t.Len())
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
		return t
	}
	small := func(n int) []float32 { return normal(0.01, n).Data }
	bn := func(ch int) BatchNorm {
		b := BatchNorm{Weight: small(ch), Bias: small(ch), Mean: small(ch), Var: small(ch), Eps: bnEps}
		for i := range ch {
			b.Weight[i] += 1
			b.Var[i] = 1 + float32(math.Abs(float64(b.Var[i])))
		}
		return b
	}
	conv := func(out, in, k, stride, groups int, act Activation, gain float64) ConvBN {
		fanIn := float64(in / groups * k * k)
		return ConvBN{
			Conv: Conv{Weight: normal(math.Sqrt(gain/fanIn), out, in/groups, k, k), Stride: stride, Groups: groups, Act: act},
			BN:   bn(out),
		}
	}

	n := &Net{Space: s, Config: c, Untrained: true}
	layers := s.Layers(c, nil)
	n.FirstConv = conv(s.FirstConv, 3, 3, 2, 1, ActHSwish, 2)
	for _, l := range layers {
		if l.Kind != KindBlock {
			continue
		}
		b := Block{Layer: l}
		if l.Expand {
			e := conv(l.Mid, l.In, 1, 1, 1, l.Act, 2)
			b.Expand = &e
		}
		b.Depthwise = conv(l.Mid, l.Mid, l.Kernel, l.Stride, l.Mid, l.Act, 2)
		if l.SE > 0 {
			b.SE = &SqueezeExcite{
				Reduce: Conv{Weight: normal(math.Sqrt(2/float64(l.Mid)), l.SE, l.Mid, 1, 1), Bias: small(l.SE), Stride: 1, Groups: 1, Act: ActReLU},
				Expand: Conv{Weight: normal(math.Sqrt(1/float64(l.SE)), l.Mid, l.SE, 1, 1), Bias: small(l.Mid), Stride: 1, Groups: 1},
			}
		}
		b.Project = conv(l.Out, l.Mid, 1, 1, 1, ActNone, 1)
		n.Blocks = append(n.Blocks, b)
	}
	last := s.Stages[NumStages-1].Width
	n.FinalExpand = conv(s.FinalExpand, last, 1, 1, 1, ActHSwish, 2)
	n.FeatureMix = Conv{Weight: normal(math.Sqrt(2/float64(s.FinalExpand)), s.FeatureMix, s.FinalExpand, 1, 1), Stride: 1, Groups: 1, Act: ActHSwish}
	n.Classifier = Linear{Weight: normal(math.Sqrt(1/float64(s.FeatureMix)), s.Classes, s.FeatureMix), Bias: small(s.Classes)}
	return n
}
