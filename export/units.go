package export

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgefit/edgefit/supernet"
)

// unit is one layer of a network with its weights: the shape that a latency
// table keys and the weights the graph emitters and the reference forward
// pass read. A subnet is a list of units in the order [supernet.Space.Layers]
// gives; a layer micro-model is a single unit. Exactly the field that
// matches layer.Kind is set (none for the pooling layer).
type unit struct {
	layer supernet.Layer
	conv  *supernet.ConvBN // KindFirstConv, KindFinalExpand
	block *supernet.Block  // KindBlock
	mix   *supernet.Conv   // KindFeatureMix
	fc    *supernet.Linear // KindClassifier
}

// netUnits splits a subnet into units after checking that its weights have
// the shapes its space and config call for, so that a malformed Net fails
// here with a message rather than inside ONNX Runtime.
func netUnits(net *supernet.Net) ([]unit, error) {
	if net == nil {
		return nil, fmt.Errorf("no network given")
	}
	if net.Space == nil {
		return nil, fmt.Errorf("network has no space: build it with supernet.Extract or supernet.Init")
	}
	// Any resolution the space can run at is fine, not only those a
	// search may pick: specialized OFA nets run at up to 260.
	if err := net.Space.ValidateAnyResolution(net.Config); err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	layers := net.Space.Layers(net.Config, nil)
	nBlocks := 0
	for _, l := range layers {
		if l.Kind == supernet.KindBlock {
			nBlocks++
		}
	}
	if len(net.Blocks) != nBlocks {
		return nil, fmt.Errorf("network has %d blocks, but config %s needs %d", len(net.Blocks), net.Config, nBlocks)
	}
	units := make([]unit, 0, len(layers))
	bi := 0
	for _, l := range layers {
		u := unit{layer: l}
		switch l.Kind {
		case supernet.KindFirstConv:
			u.conv = &net.FirstConv
		case supernet.KindFinalExpand:
			u.conv = &net.FinalExpand
		case supernet.KindBlock:
			u.block = &net.Blocks[bi]
			bi++
		case supernet.KindFeatureMix:
			u.mix = &net.FeatureMix
		case supernet.KindClassifier:
			u.fc = &net.Classifier
		}
		if err := u.check(); err != nil {
			return nil, err
		}
		units = append(units, u)
	}
	return units, nil
}

// CheckNet reports whether net is complete and its weights have the
// shapes its space and config call for: the check every exporter and
// forward pass here runs first, for engines elsewhere that read a Net
// directly.
func CheckNet(net *supernet.Net) error {
	_, err := netUnits(net)
	return err
}

// name returns the unit's prefix in the graph, after the module names of
// OFA's static MobileNetV3 so that tensors can be traced back to its state
// dict.
func (u *unit) name(blockIndex int) string {
	switch u.layer.Kind {
	case supernet.KindFirstConv:
		return "first_conv"
	case supernet.KindBlock:
		return fmt.Sprintf("blocks.%d", blockIndex)
	case supernet.KindFinalExpand:
		return "final_expand_layer"
	case supernet.KindAvgPool:
		return "global_avg_pool"
	case supernet.KindFeatureMix:
		return "feature_mix_layer"
	case supernet.KindClassifier:
		return "classifier"
	}
	return fmt.Sprintf("layer%d", int(u.layer.Kind))
}

// convSpec is what one convolution of a unit must look like.
type convSpec struct {
	what             string
	out, in, k       int
	stride, groups   int
	act              supernet.Activation
	bias, bn, actSet bool // bias: must have one; bn: is a ConvBN
}

func (u *unit) check() error {
	l := u.layer
	switch l.Kind {
	case supernet.KindFirstConv, supernet.KindFinalExpand:
		what := "first conv"
		if l.Kind == supernet.KindFinalExpand {
			what = "final expand"
		}
		return checkConvBN(u.conv, convSpec{what: what, out: l.Out, in: l.In, k: l.Kernel, stride: l.Stride, groups: 1, act: l.Act})
	case supernet.KindFeatureMix:
		return checkConv(u.mix, convSpec{what: "feature mix", out: l.Out, in: l.In, k: 1, stride: 1, groups: 1, act: l.Act})
	case supernet.KindAvgPool:
		return nil
	case supernet.KindClassifier:
		fc := u.fc
		if fc.Weight.Len() != len(fc.Weight.Data) || !slices.Equal(fc.Weight.Shape, []int{l.Out, l.In}) {
			return fmt.Errorf("classifier weight has shape %v (%d values), want [%d %d]", fc.Weight.Shape, len(fc.Weight.Data), l.Out, l.In)
		}
		if len(fc.Bias) != l.Out {
			return fmt.Errorf("classifier bias has %d values, want %d", len(fc.Bias), l.Out)
		}
		return finite("classifier", fc.Weight.Data, fc.Bias)
	case supernet.KindBlock:
		return u.checkBlock()
	}
	return fmt.Errorf("unknown layer kind %d", int(l.Kind))
}

func (u *unit) checkBlock() error {
	l, b := u.layer, u.block
	where := fmt.Sprintf("block %s", l.Key())
	if b.Layer != l {
		return fmt.Errorf("%s: the block describes itself as %s", where, b.Layer.Key())
	}
	if l.Expand != (b.Expand != nil) {
		return fmt.Errorf("%s: expand conv present = %v, want %v", where, b.Expand != nil, l.Expand)
	}
	if b.Expand != nil {
		if err := checkConvBN(b.Expand, convSpec{what: where + " expand", out: l.Mid, in: l.In, k: 1, stride: 1, groups: 1, act: l.Act}); err != nil {
			return err
		}
	}
	if err := checkConvBN(&b.Depthwise, convSpec{what: where + " depthwise", out: l.Mid, in: 1, k: l.Kernel, stride: l.Stride, groups: l.Mid, act: l.Act}); err != nil {
		return err
	}
	if (l.SE > 0) != (b.SE != nil) {
		return fmt.Errorf("%s: squeeze-excite present = %v, want %v", where, b.SE != nil, l.SE > 0)
	}
	if b.SE != nil {
		// SE's activations are fixed (ReLU, then hard sigmoid), so the Act
		// fields of its convolutions are not consulted.
		if err := checkConv(&b.SE.Reduce, convSpec{what: where + " SE reduce", out: l.SE, in: l.Mid, k: 1, stride: 1, groups: 1, bias: true, actSet: true}); err != nil {
			return err
		}
		if err := checkConv(&b.SE.Expand, convSpec{what: where + " SE expand", out: l.Mid, in: l.SE, k: 1, stride: 1, groups: 1, bias: true, actSet: true}); err != nil {
			return err
		}
	}
	return checkConvBN(&b.Project, convSpec{what: where + " project", out: l.Out, in: l.Mid, k: 1, stride: 1, groups: 1, act: supernet.ActNone})
}

func checkConvBN(c *supernet.ConvBN, s convSpec) error {
	s.bn = true
	if err := checkConv(&c.Conv, s); err != nil {
		return err
	}
	bn := c.BN
	for _, v := range []struct {
		name string
		x    []float32
	}{{"weight", bn.Weight}, {"bias", bn.Bias}, {"running_mean", bn.Mean}, {"running_var", bn.Var}} {
		if len(v.x) != s.out {
			return fmt.Errorf("%s: BatchNorm %s has %d values, want %d", s.what, v.name, len(v.x), s.out)
		}
	}
	if !(bn.Eps > 0) {
		return fmt.Errorf("%s: BatchNorm eps %g must be positive", s.what, bn.Eps)
	}
	for i, v := range bn.Var {
		if !(float64(v)+bn.Eps > 0) {
			return fmt.Errorf("%s: BatchNorm running_var[%d] = %g makes var+eps non-positive", s.what, i, v)
		}
	}
	return finite(s.what+" BatchNorm", bn.Weight, bn.Bias, bn.Mean, bn.Var)
}

func checkConv(c *supernet.Conv, s convSpec) error {
	want := []int{s.out, s.in, s.k, s.k}
	if !slices.Equal(c.Weight.Shape, want) || len(c.Weight.Data) != c.Weight.Len() {
		return fmt.Errorf("%s: weight has shape %v (%d values), want %v", s.what, c.Weight.Shape, len(c.Weight.Data), want)
	}
	if st := max(c.Stride, 1); st != s.stride {
		return fmt.Errorf("%s: stride %d, want %d", s.what, c.Stride, s.stride)
	}
	if g := max(c.Groups, 1); g != s.groups {
		return fmt.Errorf("%s: groups %d, want %d", s.what, c.Groups, s.groups)
	}
	if !s.actSet && c.Act != s.act {
		return fmt.Errorf("%s: activation %s, want %s", s.what, c.Act, s.act)
	}
	switch {
	case s.bias && len(c.Bias) != s.out:
		return fmt.Errorf("%s: bias has %d values, want %d", s.what, len(c.Bias), s.out)
	case !s.bias && !s.bn && c.Bias != nil:
		return fmt.Errorf("%s: has a bias, but this layer has none", s.what)
	case s.bn && c.Bias != nil && len(c.Bias) != s.out:
		return fmt.Errorf("%s: bias has %d values, want %d", s.what, len(c.Bias), s.out)
	}
	return finite(s.what, c.Weight.Data, c.Bias)
}

// finite rejects NaN and infinite weights, which would make every output
// NaN without any error from ONNX Runtime.
func finite(what string, xs ...[]float32) error {
	for _, x := range xs {
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: weight %d is %v", what, i, v)
			}
		}
	}
	return nil
}

// fold merges a convolution's BatchNorm into its weights and bias:
// w' = w·γ/√(var+ε) and b' = β + (b − mean)·γ/√(var+ε), computed in
// float64 and rounded once.
func fold(c *supernet.ConvBN) (w, b []float32) {
	out := c.Weight.Shape[0]
	per := len(c.Weight.Data) / out
	w = make([]float32, len(c.Weight.Data))
	b = make([]float32, out)
	for o := range out {
		scale := float64(c.BN.Weight[o]) / math.Sqrt(float64(c.BN.Var[o])+c.BN.Eps)
		for j, v := range c.Weight.Data[o*per : (o+1)*per] {
			w[o*per+j] = float32(float64(v) * scale)
		}
		bias := 0.0
		if c.Bias != nil {
			bias = float64(c.Bias[o])
		}
		b[o] = float32(float64(c.BN.Bias[o]) + (bias-float64(c.BN.Mean[o]))*scale)
	}
	return w, b
}
