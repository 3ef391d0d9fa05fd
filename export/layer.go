package export

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/edgefit/edgefit/supernet"
)

// LayerInputShape returns the NCHW input shape of the micro-model of layer l
// at the given batch: [B,3,r,r] for the first conv, [B,In,H,H] for blocks,
// the final expand and the pool, and [B,In,1,1] for the feature mix and the
// classifier, which in a subnet read the pooled map.
func LayerInputShape(l supernet.Layer, batch int) []int64 {
	switch l.Kind {
	case supernet.KindFeatureMix, supernet.KindClassifier:
		return []int64{int64(batch), int64(l.In), 1, 1}
	}
	return []int64{int64(batch), int64(l.In), int64(l.InSize), int64(l.InSize)}
}

// LayerOutputShape returns the shape of the micro-model's output:
// [B,Out,OutSize,OutSize], or [B,classes] for the classifier.
func LayerOutputShape(l supernet.Layer, batch int) []int64 {
	if l.Kind == supernet.KindClassifier {
		return []int64{int64(batch), int64(l.Out)}
	}
	return []int64{int64(batch), int64(l.Out), int64(l.OutSize), int64(l.OutSize)}
}

// LayerModel returns a standalone ONNX model (opset DefaultOpset) of one
// layer, for timing it alone: input "input" of [LayerInputShape], output
// "output", and pseudo-random weights drawn from seed and the layer's key,
// so that the same arguments always give the same bytes. The layer is
// built by the same code as a subnet's, node for node: a block has its
// expand, depthwise, squeeze-excite, projection and shortcut exactly as in
// an exported subnet.
func LayerModel(l supernet.Layer, batch int, seed uint64) ([]byte, error) {
	u, err := layerUnit(l, batch, seed)
	if err != nil {
		return nil, err
	}
	in, out := LayerInputShape(l, batch), LayerOutputShape(l, batch)
	g := graph("edgefit_layer", []unit{u}, valueInfo("input", ints(in)...), valueInfo("output", ints(out)...))
	m := newModel(g, DefaultOpset, "")
	m.ProducerVersion = ""
	m.DocString = "edgefit layer micro-model " + l.Key()
	return marshal(m)
}

// LayerForward runs the micro-model of layer l (with the weights
// [LayerModel] gives it for seed) in Go on input of [LayerInputShape],
// for checking ONNX Runtime's output.
func LayerForward(l supernet.Layer, seed uint64, input []float32) ([]float32, error) {
	u, err := layerUnit(l, 1, seed)
	if err != nil {
		return nil, err
	}
	s := LayerInputShape(l, 1)
	return forwardUnits([]unit{u}, input, ints(s[1:]))
}

func ints(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

func layerUnit(l supernet.Layer, batch int, seed uint64) (unit, error) {
	if batch < 1 {
		return unit{}, fmt.Errorf("layer model batch %d must be at least 1", batch)
	}
	if err := checkLayer(l); err != nil {
		return unit{}, fmt.Errorf("layer model %s: %w", l.Key(), err)
	}
	h := fnv.New64a()
	h.Write([]byte(l.Key()))
	u := randomUnit(l, rand.New(rand.NewPCG(seed, h.Sum64())))
	if err := u.check(); err != nil {
		return unit{}, fmt.Errorf("layer model %s: %w", l.Key(), err)
	}
	return u, nil
}

// checkLayer rejects layer shapes that cannot form a model, before any
// weights are drawn.
func checkLayer(l supernet.Layer) error {
	if l.In < 1 || l.Out < 1 {
		return fmt.Errorf("channels %d -> %d must be positive", l.In, l.Out)
	}
	if l.Kind != supernet.KindFeatureMix && l.Kind != supernet.KindClassifier && l.InSize < 1 {
		return fmt.Errorf("input size %d must be positive", l.InSize)
	}
	if l.In*max(l.InSize, 1)*max(l.InSize, 1) > 1<<28 || l.Mid > 1<<16 || l.Out > 1<<16 {
		return fmt.Errorf("layer is too large for a micro-model")
	}
	switch l.Kind {
	case supernet.KindFirstConv, supernet.KindFinalExpand:
		if l.Kernel < 1 || l.Kernel%2 == 0 || l.Stride < 1 {
			return fmt.Errorf("kernel %d and stride %d must be odd and positive", l.Kernel, l.Stride)
		}
	case supernet.KindBlock:
		if l.Kernel < 1 || l.Kernel%2 == 0 || l.Stride < 1 || l.Mid < 1 || l.SE < 0 {
			return fmt.Errorf("block needs an odd kernel, positive stride and mid width (have k=%d s=%d mid=%d)", l.Kernel, l.Stride, l.Mid)
		}
		if !l.Expand && l.Mid != l.In {
			return fmt.Errorf("a block without expand conv needs mid = in (have %d, %d)", l.Mid, l.In)
		}
		if l.Residual && (l.Stride != 1 || l.In != l.Out) {
			return fmt.Errorf("a shortcut needs stride 1 and in = out")
		}
	case supernet.KindAvgPool:
		if l.In != l.Out {
			return fmt.Errorf("pooling keeps channels, but in %d != out %d", l.In, l.Out)
		}
	case supernet.KindFeatureMix, supernet.KindClassifier:
	default:
		return fmt.Errorf("unknown layer kind %d", int(l.Kind))
	}
	if want := supernet.SpatialOut(l.InSize, max(l.Stride, 1)); l.Kind != supernet.KindAvgPool && l.Kind != supernet.KindFeatureMix &&
		l.Kind != supernet.KindClassifier && l.OutSize != want {
		return fmt.Errorf("output size %d, want %d for input %d at stride %d", l.OutSize, want, l.InSize, l.Stride)
	}
	return nil
}

// randomUnit draws weights for a layer: convolutions uniform in
// ±√(3/fan_in) (unit gain: a layer keeps the variance of its input) and
// BatchNorm statistics near the identity, so that
// activations stay near unit scale: no denormals to skew timings, and
// outputs large enough for comparisons to mean something.
func randomUnit(l supernet.Layer, rng *rand.Rand) unit {
	u := unit{layer: l}
	switch l.Kind {
	case supernet.KindFirstConv, supernet.KindFinalExpand:
		c := randomConvBN(rng, l.Out, l.In, l.Kernel, l.Stride, 1, l.Act)
		u.conv = &c
	case supernet.KindBlock:
		b := supernet.Block{Layer: l}
		if l.Expand {
			e := randomConvBN(rng, l.Mid, l.In, 1, 1, 1, l.Act)
			b.Expand = &e
		}
		b.Depthwise = randomConvBN(rng, l.Mid, 1, l.Kernel, l.Stride, l.Mid, l.Act)
		if l.SE > 0 {
			b.SE = &supernet.SqueezeExcite{
				Reduce: randomConv(rng, l.SE, l.Mid, 1, 1, 1, supernet.ActReLU, true),
				Expand: randomConv(rng, l.Mid, l.SE, 1, 1, 1, supernet.ActNone, true),
			}
		}
		b.Project = randomConvBN(rng, l.Out, l.Mid, 1, 1, 1, supernet.ActNone)
		u.block = &b
	case supernet.KindFeatureMix:
		c := randomConv(rng, l.Out, l.In, 1, 1, 1, l.Act, false)
		u.mix = &c
	case supernet.KindClassifier:
		bound := float32(math.Sqrt(3 / float64(l.In)))
		u.fc = &supernet.Linear{
			Weight: supernet.Tensor{Shape: []int{l.Out, l.In}, Data: uniform(rng, l.Out*l.In, -bound, bound)},
			Bias:   uniform(rng, l.Out, -bound, bound),
		}
	}
	return u
}

func randomConv(rng *rand.Rand, out, in, k, stride, groups int, act supernet.Activation, bias bool) supernet.Conv {
	bound := float32(math.Sqrt(3 / float64(in*k*k)))
	c := supernet.Conv{
		Weight: supernet.Tensor{Shape: []int{out, in, k, k}, Data: uniform(rng, out*in*k*k, -bound, bound)},
		Stride: stride,
		Groups: groups,
		Act:    act,
	}
	if bias {
		c.Bias = uniform(rng, out, -bound, bound)
	}
	return c
}

func randomConvBN(rng *rand.Rand, out, in, k, stride, groups int, act supernet.Activation) supernet.ConvBN {
	return supernet.ConvBN{
		Conv: randomConv(rng, out, in, k, stride, groups, act, false),
		BN: supernet.BatchNorm{
			Weight: uniform(rng, out, 0.5, 1.5),
			Bias:   uniform(rng, out, -0.1, 0.1),
			Mean:   uniform(rng, out, -0.1, 0.1),
			Var:    uniform(rng, out, 0.5, 1.5),
			Eps:    1e-5,
		},
	}
}

func uniform(rng *rand.Rand, n int, lo, hi float32) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = lo + (hi-lo)*rng.Float32()
	}
	return d
}
