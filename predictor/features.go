package predictor

import (
	"github.com/edgefit/edgefit/supernet"
)

// A latency model per layer kind predicts a layer's latency as a
// non-negative combination of work counts: multiply-accumulates by
// operation type, elements touched by activations and memory, and a
// constant per-layer overhead. Because every count grows with the layer
// and every coefficient is ≥ 0, a model fitted on some resolutions or on
// one width of the space extrapolates monotonically to the others, which a
// table cannot do.

// kindSpec names the features of one layer kind's model.
type kindSpec struct {
	kind     supernet.LayerKind
	features []string
	// compute writes the features of l (of this kind) into dst.
	compute func(l *supernet.Layer, dst []float64)
}

const mega = 1e-6 // counts are in millions so that coefficients are ms per million

var kindSpecs = []kindSpec{
	{supernet.KindFirstConv, []string{"const", "macs", "out_elems"}, func(l *supernet.Layer, d []float64) {
		h2 := sq(l.OutSize)
		d[0], d[1], d[2] = 1, h2*float64(l.In*l.Out*l.Kernel*l.Kernel)*mega, h2*float64(l.Out)*mega
	}},
	{supernet.KindBlock, []string{"const", "pointwise_macs", "dw3_macs", "dw5_macs", "dw7_macs",
		"relu_elems", "hswish_elems", "se_elems", "io_elems"}, blockFeatures},
	{supernet.KindFinalExpand, []string{"const", "macs", "out_elems"}, func(l *supernet.Layer, d []float64) {
		h2 := sq(l.OutSize)
		d[0], d[1], d[2] = 1, h2*float64(l.In*l.Out)*mega, h2*float64(l.Out)*mega
	}},
	{supernet.KindAvgPool, []string{"const", "in_elems"}, func(l *supernet.Layer, d []float64) {
		d[0], d[1] = 1, sq(l.InSize)*float64(l.In)*mega
	}},
	{supernet.KindFeatureMix, []string{"const", "macs"}, func(l *supernet.Layer, d []float64) {
		d[0], d[1] = 1, float64(l.In*l.Out)*mega
	}},
	{supernet.KindClassifier, []string{"const", "macs"}, func(l *supernet.Layer, d []float64) {
		d[0], d[1] = 1, float64(l.In*l.Out)*mega
	}},
}

func specOf(k supernet.LayerKind) *kindSpec {
	for i := range kindSpecs {
		if kindSpecs[i].kind == k {
			return &kindSpecs[i]
		}
	}
	return nil
}

func sq(h int) float64 { return float64(h) * float64(h) }

// blockFeatures counts the work of an MBConv block: the 1x1 expand and
// project convolutions, the depthwise convolution (one feature per kernel
// size, since their efficiency differs), the activations on the expanded
// maps (h_swish costs more than ReLU), squeeze-and-excitation (pool and
// scale the expanded map) and the block's input and output traffic.
func blockFeatures(l *supernet.Layer, d []float64) {
	hin, hout := sq(l.InSize), sq(l.OutSize)
	mid, cin, cout := float64(l.Mid), float64(l.In), float64(l.Out)
	var pw, act float64
	if l.Expand {
		pw += hin * cin * mid
		act += hin * mid
	}
	pw += hout * mid * cout
	act += hout * mid
	for i := range d {
		d[i] = 0
	}
	d[0] = 1
	d[1] = pw * mega
	dw := hout * mid * float64(l.Kernel*l.Kernel) * mega
	switch {
	case l.Kernel <= 3:
		d[2] = dw
	case l.Kernel <= 5:
		d[3] = dw
	default:
		d[4] = dw
	}
	if l.Act == supernet.ActHSwish {
		d[6] = act * mega
	} else {
		d[5] = act * mega
	}
	if l.SE > 0 {
		d[7] = (hout*mid + 2*mid*float64(l.SE)) * mega
	}
	io := hin*cin + hout*cout
	if l.Residual {
		io += hout * cout
	}
	d[8] = io * mega
}
