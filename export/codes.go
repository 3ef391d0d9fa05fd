package export

import (
	"fmt"

	"github.com/edgefit/edgefit/supernet"
)

// Activation codes are what the NASWOT score (Mellor et al., "Neural
// Architecture Search without Training", 2021) reads of a network: for
// every unit of every ReLU and h_swish, one bit per image, set where the
// activation's input is positive. Two images that the network cuts into
// the same linear region have the same codes.

// CodeLayer is one activation of a subnet whose input is coded.
type CodeLayer struct {
	// Name is the activation's module in OFA's static MobileNetV3, where
	// a PyTorch forward hook would read it: "first_conv.act",
	// "blocks.N.conv.inverted_bottleneck.act", "blocks.N.conv.depth_conv.act",
	// "blocks.N.conv.depth_conv.se.fc.relu", "final_expand_layer.act",
	// "feature_mix_layer.act" (N counts the subnet's blocks from 0, as
	// [supernet.Net.BatchNorms] does).
	Name string
	Act  supernet.Activation
	// C, H and W are the shape of one image's activation: a feature map,
	// or C×1×1 for the squeeze-and-excitation ReLU and the feature mix.
	C, H, W int
}

// Units is the number of coded units per image: C·H·W.
func (l CodeLayer) Units() int { return l.C * l.H * l.W }

// CodeLayers lists the activations of net's config whose inputs are
// coded, in forward order: the first conv's h_swish; per block the expand
// activation (none in the first block), the depthwise activation and, in
// blocks with squeeze-and-excitation, its ReLU; the final expand's h_swish
// and the feature mix's h_swish. The SE's h_sigmoid gate is not a ReLU or
// h_swish and is left out. Shapes follow [supernet.Space.Layers].
func CodeLayers(s *supernet.Space, c supernet.Config) []CodeLayer {
	var out []CodeLayer
	bi := 0
	for _, l := range s.Layers(c, nil) {
		switch l.Kind {
		case supernet.KindFirstConv:
			out = append(out, CodeLayer{Name: "first_conv.act", Act: l.Act, C: l.Out, H: l.OutSize, W: l.OutSize})
		case supernet.KindBlock:
			p := fmt.Sprintf("blocks.%d.conv.", bi)
			bi++
			if l.Expand {
				out = append(out, CodeLayer{Name: p + "inverted_bottleneck.act", Act: l.Act, C: l.Mid, H: l.InSize, W: l.InSize})
			}
			out = append(out, CodeLayer{Name: p + "depth_conv.act", Act: l.Act, C: l.Mid, H: l.OutSize, W: l.OutSize})
			if l.SE > 0 {
				out = append(out, CodeLayer{Name: p + "depth_conv.se.fc.relu", Act: supernet.ActReLU, C: l.SE, H: 1, W: 1})
			}
		case supernet.KindFinalExpand:
			out = append(out, CodeLayer{Name: "final_expand_layer.act", Act: l.Act, C: l.Out, H: l.OutSize, W: l.OutSize})
		case supernet.KindFeatureMix:
			out = append(out, CodeLayer{Name: "feature_mix_layer.act", Act: l.Act, C: l.Out, H: 1, W: 1})
		}
	}
	return out
}

// ActivationCodes are one activation's codes for a batch.
type ActivationCodes struct {
	CodeLayer
	// Codes holds one slice per image of Units() bits, channel-major
	// (c, y, x) as PyTorch flattens a feature map.
	Codes [][]bool
}

// ForwardCodes runs net on a batch of images (NCHW, N·3·r·r values) with
// every BatchNorm normalizing by the batch's own statistics, as a PyTorch
// module in training mode does (the mode NASWOT scores networks in), and
// returns the codes of every activation of [CodeLayers], in that order:
// a unit is true where the activation's input, rounded to float32 as
// PyTorch computes it, is positive. The forward pass ends at the feature
// mix; the classifier is not run. It is the plain Go reference of the
// native engine's codes, and slow.
func ForwardCodes(net *supernet.Net, input []float32) ([]ActivationCodes, error) {
	layers := CodeLayers(net.Space, net.Config)
	var out []ActivationCodes
	record := func(images int, pre func(n int) []float32) {
		l := layers[len(out)]
		a := ActivationCodes{CodeLayer: l, Codes: make([][]bool, images)}
		for n := range images {
			d := pre(n)
			if len(d) != l.Units() {
				panic(fmt.Sprintf("export: %s has %d values per image, want %d", l.Name, len(d), l.Units()))
			}
			a.Codes[n] = make([]bool, len(d))
			for u, v := range d {
				a.Codes[n][u] = v > 0
			}
		}
		out = append(out, a)
	}
	maps := func(xs []fmap) { record(len(xs), func(n int) []float32 { return xs[n].d }) }
	err := batchPass(net, input, supernet.KindFeatureMix, batchObserver{
		bn: func(c *supernet.ConvBN, pre []fmap, _ BatchStats) {
			if c.Act != supernet.ActNone {
				maps(pre)
			}
		},
		se:  func(pre [][]float32) { record(len(pre), func(n int) []float32 { return pre[n] }) },
		mix: maps,
	})
	if err != nil {
		return nil, fmt.Errorf("forward codes: %w", err)
	}
	return out, nil
}
