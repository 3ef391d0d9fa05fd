package supernet

import (
	"fmt"
	"strconv"
)

// Extract cuts subnet c out of the supernet checkpoint, exactly as OFA's
// get_active_subnet does:
//
//   - depth: the first d[s] blocks of each stage are kept and renumbered;
//   - expand ratio: the middle width is mid = make_divisible(in*e), and the
//     expand, depthwise, SE and projection weights keep their first mid
//     channels (OFA stores channels sorted by importance, so a prefix is
//     the right cut);
//   - squeeze-and-excitation: its width is recomputed from the active mid
//     ([SEChannels]) and sliced as a prefix too;
//   - kernel: the 7x7 depthwise weights shrink through the checkpoint's
//     learnt transform matrices: K5 = T75(crop5(K7)), K3 = T53(crop3(K5)),
//     each applied per channel as v' = v·Mᵀ on the row-major flattened
//     kernel;
//   - BatchNorm keeps the first C entries of its affine parameters and
//     running statistics, eps 1e-5.
//
// The resolution c.R only sets the layer shapes recorded in each
// [Block.Layer]; it must lie in 32..1024. The returned net shares no memory
// with the checkpoint.
func Extract(ck *Checkpoint, c Config) (*Net, error) {
	s := ck.Space
	if err := s.validateArch(c); err != nil {
		return nil, fmt.Errorf("extract subnet: %w", err)
	}
	c = c.Canonical(s)
	x := extractor{ck: ck}
	n := &Net{Space: s, Config: c}
	layers := s.Layers(c, nil)

	n.FirstConv = x.convBN("first_conv", 0, 0, 2, 1, ActHSwish)
	n.Blocks = append(n.Blocks, Block{
		Layer:     layers[1],
		Depthwise: x.convBN("blocks.0.conv.depth_conv", 0, 0, 1, s.FirstConv, ActReLU),
		Project:   x.convBN("blocks.0.conv.point_linear", 0, 0, 1, 1, ActNone),
	})
	li := 2
	for i := range NumBlocks {
		if !c.Active(i) {
			continue
		}
		l := layers[li]
		li++
		p := "blocks." + strconv.Itoa(i+1) + ".conv."
		b := Block{Layer: l}
		exp := x.convBN(p+"inverted_bottleneck", l.Mid, l.In, 1, 1, l.Act)
		b.Expand = &exp
		b.Depthwise = ConvBN{
			Conv: Conv{Weight: x.depthwise(p+"depth_conv.conv", l.Mid, l.Kernel), Stride: l.Stride, Groups: l.Mid, Act: l.Act},
			BN:   x.bn(p+"depth_conv.bn", l.Mid),
		}
		if l.SE > 0 {
			b.SE = &SqueezeExcite{
				Reduce: Conv{Weight: x.slice(p+"depth_conv.se.fc.reduce.weight", l.SE, l.Mid), Bias: x.vec(p+"depth_conv.se.fc.reduce.bias", l.SE), Stride: 1, Groups: 1, Act: ActReLU},
				Expand: Conv{Weight: x.slice(p+"depth_conv.se.fc.expand.weight", l.Mid, l.SE), Bias: x.vec(p+"depth_conv.se.fc.expand.bias", l.Mid), Stride: 1, Groups: 1, Act: ActNone},
			}
		}
		b.Project = x.convBN(p+"point_linear", l.Out, l.Mid, 1, 1, ActNone)
		n.Blocks = append(n.Blocks, b)
	}
	n.FinalExpand = x.convBN("final_expand_layer", 0, 0, 1, 1, ActHSwish)
	n.FeatureMix = Conv{Weight: x.slice("feature_mix_layer.conv.weight", 0, 0), Stride: 1, Groups: 1, Act: ActHSwish}
	n.Classifier = Linear{Weight: x.slice("classifier.linear.weight", 0, 0), Bias: x.vec("classifier.linear.bias", 0)}
	if x.err != nil {
		return nil, fmt.Errorf("extract subnet from %s: %w", ck.Path, x.err)
	}
	return n, nil
}

// validateArch checks c's kernels, expand ratios and depths against s, and
// that its resolution is usable (any size in 32..1024, not only the
// space's search list, so that zoo nets at 236 or 260 can be exported).
func (s *Space) validateArch(c Config) error {
	if c.R < 32 || c.R > 1024 {
		return &ConfigError{Field: "r", Value: c.R, Valid: s.Resolutions}
	}
	return s.validateChoices(c)
}

// extractor copies slices out of a checkpoint, remembering the first
// error (a checkpoint built by hand may lack tensors LoadCheckpoint would
// have insisted on).
type extractor struct {
	ck  *Checkpoint
	err error
}

func (x *extractor) get(name string) Tensor {
	t, ok := x.ck.Tensors[name]
	if !ok && x.err == nil {
		x.err = fmt.Errorf("tensor %s: %w", name, ErrMissingTensor)
	}
	return t
}

// slice returns t[:d0, :d1, ...] of a tensor (0 keeps a dimension whole),
// as a fresh contiguous tensor.
func (x *extractor) slice(name string, d0, d1 int) Tensor {
	t := x.get(name)
	if x.err != nil {
		return Tensor{}
	}
	shape := append([]int(nil), t.Shape...)
	if d0 > 0 {
		shape[0] = d0
	}
	if len(shape) > 1 && d1 > 0 {
		shape[1] = d1
	}
	if shape[0] > t.Shape[0] || (len(shape) > 1 && shape[1] > t.Shape[1]) {
		x.err = fmt.Errorf("tensor %s: slice %s of %s", name, shapeString(shape), shapeString(t.Shape))
		return Tensor{}
	}
	out := Tensor{Shape: shape, Data: make([]float32, 0, Tensor{Shape: shape}.Len())}
	if len(shape) == 1 {
		out.Data = append(out.Data, t.Data[:shape[0]]...)
		return out
	}
	inner := 1 // elements per index of dimension 1
	for _, d := range t.Shape[2:] {
		inner *= d
	}
	rowLen := t.Shape[1] * inner
	for o := range shape[0] {
		out.Data = append(out.Data, t.Data[o*rowLen:o*rowLen+shape[1]*inner]...)
	}
	return out
}

func (x *extractor) vec(name string, n int) []float32 { return x.slice(name, n, 0).Data }

func (x *extractor) bn(prefix string, c int) BatchNorm {
	return BatchNorm{
		Weight: x.vec(prefix+".weight", c),
		Bias:   x.vec(prefix+".bias", c),
		Mean:   x.vec(prefix+".running_mean", c),
		Var:    x.vec(prefix+".running_var", c),
		Eps:    bnEps,
	}
}

// convBN slices prefix.conv.weight to [out, in, ...] and prefix.bn to out
// channels (0 keeps a dimension whole).
func (x *extractor) convBN(prefix string, out, in, stride, groups int, act Activation) ConvBN {
	w := x.slice(prefix+".conv.weight", out, in)
	c := 0
	if len(w.Shape) > 0 {
		c = w.Shape[0]
	}
	return ConvBN{Conv: Conv{Weight: w, Stride: stride, Groups: groups, Act: act}, BN: x.bn(prefix+".bn", c)}
}

// depthwise returns the first mid channels of the supernet's largest
// depthwise kernel, shrunk to size k through the transform matrices:
// from the largest size down, crop the centre of the next size and apply
// that transition's matrix, so K3 = T53(crop3(T75(crop5(K7)))).
func (x *extractor) depthwise(prefix string, mid, k int) Tensor {
	w := x.slice(prefix+".weight", mid, 0)
	if x.err != nil {
		return Tensor{}
	}
	ks := x.ck.Space.KernelSizes
	cur := w.Shape[2]
	data := w.Data
	for j := len(ks) - 1; j > 0 && ks[j] > k; j-- {
		from, to := ks[j], ks[j-1]
		if from != cur {
			x.err = fmt.Errorf("tensor %s.weight: kernel %d, want %d", prefix, cur, from)
			return Tensor{}
		}
		m := x.get(fmt.Sprintf("%s.%dto%d_matrix", prefix, from, to))
		if x.err != nil {
			return Tensor{}
		}
		data = transformKernel(data, mid, from, to, m.Data)
		cur = to
	}
	if cur != k {
		x.err = fmt.Errorf("tensor %s.weight: kernel %d cannot become %d", prefix, cur, k)
		return Tensor{}
	}
	return Tensor{Shape: []int{mid, 1, k, k}, Data: data}
}

// transformKernel crops the centre to×to window of each of the c from×from
// kernels in w and maps it through m (to²×to², row-major) as F.linear
// does: out[i] = Σ_j m[i][j]·v[j]. Sums run in float64, which agrees with
// PyTorch's float32 GEMM to well within float32 rounding.
func transformKernel(w []float32, c, from, to int, m []float32) []float32 {
	n := to * to
	off := (from - to) / 2
	out := make([]float32, c*n)
	v := make([]float64, n)
	for ch := range c {
		src := w[ch*from*from:]
		for r := range to {
			for q := range to {
				v[r*to+q] = float64(src[(r+off)*from+q+off])
			}
		}
		dst := out[ch*n:]
		for i := range n {
			row := m[i*n : i*n+n]
			var acc float64
			for j, mv := range row {
				acc += float64(mv) * v[j]
			}
			dst[i] = float32(acc)
		}
	}
	return out
}

// StateDict returns the net's weights under the keys of OFA's static
// MobileNetV3 state_dict (blocks.j.conv.inverted_bottleneck.conv.weight,
// blocks.j.conv.depth_conv.se.fc.reduce.bias,
// final_expand_layer.bn.running_var, classifier.linear.weight, ...), so
// that MobileNetV3.build_from_config(net.config) can load_state_dict them.
// BatchNorm's num_batches_tracked is omitted. The tensors share memory with
// the net.
func (n *Net) StateDict() map[string]Tensor {
	out := make(map[string]Tensor, 400)
	vec := func(v []float32) Tensor { return Tensor{Shape: []int{len(v)}, Data: v} }
	convBN := func(p string, c ConvBN) {
		out[p+".conv.weight"] = c.Weight
		out[p+".bn.weight"] = vec(c.BN.Weight)
		out[p+".bn.bias"] = vec(c.BN.Bias)
		out[p+".bn.running_mean"] = vec(c.BN.Mean)
		out[p+".bn.running_var"] = vec(c.BN.Var)
	}
	convBN("first_conv", n.FirstConv)
	for j, b := range n.Blocks {
		p := "blocks." + strconv.Itoa(j) + ".conv."
		if b.Expand != nil {
			convBN(p+"inverted_bottleneck", *b.Expand)
		}
		convBN(p+"depth_conv", b.Depthwise)
		if b.SE != nil {
			out[p+"depth_conv.se.fc.reduce.weight"] = b.SE.Reduce.Weight
			out[p+"depth_conv.se.fc.reduce.bias"] = vec(b.SE.Reduce.Bias)
			out[p+"depth_conv.se.fc.expand.weight"] = b.SE.Expand.Weight
			out[p+"depth_conv.se.fc.expand.bias"] = vec(b.SE.Expand.Bias)
		}
		convBN(p+"point_linear", b.Project)
	}
	convBN("final_expand_layer", n.FinalExpand)
	out["feature_mix_layer.conv.weight"] = n.FeatureMix.Weight
	out["classifier.linear.weight"] = n.Classifier.Weight
	out["classifier.linear.bias"] = vec(n.Classifier.Bias)
	return out
}
