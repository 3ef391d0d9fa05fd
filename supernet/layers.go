package supernet

import "fmt"

// LayerKind names the layer types of the space, one per kind of entry in
// OFA's latency lookup tables.
type LayerKind int

const (
	KindFirstConv   LayerKind = iota // "Conv": 3x3 stride-2 conv, BN, h_swish
	KindBlock                        // "expanded_conv": an MBConv block, the fixed first block included
	KindFinalExpand                  // "Conv_1": 1x1 conv, BN, h_swish
	KindAvgPool                      // "AvgPool2D": global average pool
	KindFeatureMix                   // "Conv_2": 1x1 conv on the pooled map, h_swish, no BN
	KindClassifier                   // "Logits": the linear classifier
)

// LUTName returns the key prefix OFA's lookup tables use for the kind.
func (k LayerKind) LUTName() string {
	switch k {
	case KindFirstConv:
		return "Conv"
	case KindBlock:
		return "expanded_conv"
	case KindFinalExpand:
		return "Conv_1"
	case KindAvgPool:
		return "AvgPool2D"
	case KindFeatureMix:
		return "Conv_2"
	case KindClassifier:
		return "Logits"
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// Layer describes one layer of a subnet by its shape alone, without
// weights. It is what a latency lookup table is keyed by, what the exporter
// builds a micro-model from, and what costs are counted on.
type Layer struct {
	Kind    LayerKind
	InSize  int // input height (= width)
	OutSize int // output height (= width)
	In      int // input channels
	Out     int // output channels (classes for the classifier)
	// Block fields; zero for other kinds.
	Mid      int // middle width; equals In for the first block, which has no expand conv
	Kernel   int // depthwise kernel (3 for the first conv)
	Stride   int
	SE       int // squeeze-and-excitation width, 0 when the block has none
	Act      Activation
	Residual bool // identity shortcut (stride 1 and In == Out)
	Expand   bool // has the 1x1 inverted-bottleneck conv (false only for the first block)
	Block    int  // elastic block index 0..19, or -1 for the first block and non-block layers
}

// Key returns the layer's key in OFA's lookup-table format, for example
// "expanded_conv-input:56x56x24-output:28x28x40-expand:144-kernel:5-stride:2-idskip:0-se:1-hs:0".
func (l Layer) Key() string {
	switch l.Kind {
	case KindFirstConv, KindFinalExpand:
		return fmt.Sprintf("%s-input:%dx%dx%d-output:%dx%dx%d", l.Kind.LUTName(), l.InSize, l.InSize, l.In, l.OutSize, l.OutSize, l.Out)
	case KindAvgPool:
		return fmt.Sprintf("AvgPool2D-input:%dx%dx%d-output:1x1x%d", l.InSize, l.InSize, l.In, l.Out)
	case KindFeatureMix:
		return fmt.Sprintf("Conv_2-input:1x1x%d-output:1x1x%d", l.In, l.Out)
	case KindClassifier:
		return fmt.Sprintf("Logits-input:1x1x%d-output:%d", l.In, l.Out)
	case KindBlock:
		return fmt.Sprintf("expanded_conv-input:%dx%dx%d-output:%dx%dx%d-expand:%d-kernel:%d-stride:%d-idskip:%d-se:%d-hs:%d",
			l.InSize, l.InSize, l.In, l.OutSize, l.OutSize, l.Out, l.Mid, l.Kernel, l.Stride,
			b2i(l.Residual), b2i(l.SE > 0), b2i(l.Act == ActHSwish))
	}
	return fmt.Sprintf("unknown-%d", int(l.Kind))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Layers returns the layers of subnet c in execution order: the first conv,
// the first block, the active elastic blocks, the final expand, the pool,
// the feature mix and the classifier. It appends to buf (which may be nil)
// so that hot loops can reuse one slice. c is not validated.
func (s *Space) Layers(c Config, buf []Layer) []Layer {
	r := c.R
	h := SpatialOut(r, 2)
	buf = append(buf[:0], Layer{Kind: KindFirstConv, InSize: r, OutSize: h, In: 3, Out: s.FirstConv, Kernel: 3, Stride: 2, Act: ActHSwish, Block: -1})
	buf = append(buf, Layer{Kind: KindBlock, InSize: h, OutSize: h, In: s.FirstConv, Out: s.FirstBlock, Mid: s.FirstConv,
		Kernel: 3, Stride: 1, Act: ActReLU, Residual: s.FirstConv == s.FirstBlock, Block: -1})
	for i := range NumBlocks {
		if !c.Active(i) {
			continue
		}
		st := s.Stages[i/MaxDepth]
		stride := s.BlockStride(i)
		in, out := s.BlockIn(i), s.BlockOut(i)
		mid := s.MidChannels(i, c.E[i])
		l := Layer{Kind: KindBlock, InSize: h, OutSize: SpatialOut(h, stride), In: in, Out: out, Mid: mid,
			Kernel: c.KS[i], Stride: stride, Act: st.Act, Residual: stride == 1 && in == out, Expand: true, Block: i}
		if st.SE {
			l.SE = SEChannels(mid)
		}
		buf = append(buf, l)
		h = l.OutSize
	}
	last := s.Stages[NumStages-1].Width
	buf = append(buf,
		Layer{Kind: KindFinalExpand, InSize: h, OutSize: h, In: last, Out: s.FinalExpand, Kernel: 1, Stride: 1, Act: ActHSwish, Block: -1},
		Layer{Kind: KindAvgPool, InSize: h, OutSize: 1, In: s.FinalExpand, Out: s.FinalExpand, Block: -1},
		Layer{Kind: KindFeatureMix, InSize: 1, OutSize: 1, In: s.FinalExpand, Out: s.FeatureMix, Kernel: 1, Stride: 1, Act: ActHSwish, Block: -1},
		Layer{Kind: KindClassifier, InSize: 1, OutSize: 1, In: s.FeatureMix, Out: s.Classes, Block: -1},
	)
	return buf
}

// DistinctLayers returns every distinct layer the space can produce at
// resolution r, each once, in a stable order: the fixed layers, then for
// each elastic block position every kernel and expand ratio. Depth does not
// change a block's shape, so this covers all subnets at r. For OFA's
// MobileNetV3 spaces it yields 96 layers, matching the keys of OFA's
// published lookup tables.
func (s *Space) DistinctLayers(r int) []Layer {
	seen := map[string]bool{}
	var out []Layer
	add := func(l Layer) {
		k := l.Key()
		if !seen[k] {
			seen[k] = true
			out = append(out, l)
		}
	}
	for _, l := range s.Layers(s.MinConfig(r), nil) {
		add(l)
	}
	for i := range NumBlocks {
		for _, k := range s.KernelSizes {
			for _, e := range s.Expands {
				c := s.MaxConfig(r)
				c.KS[i], c.E[i] = k, e
				for _, l := range s.Layers(c, nil) {
					if l.Block == i {
						add(l)
					}
				}
			}
		}
	}
	return out
}
