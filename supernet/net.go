package supernet

import (
	"fmt"
	"math"
	"slices"
)

// Net is a static subnet with its weights: what [Extract] produces from a
// checkpoint and what the exporter turns into ONNX. Every weight is float32
// in PyTorch's layout (OIHW for convolutions, [out, in] for the classifier).
// BatchNorm is kept unfolded here so that tests can compare tensors with
// OFA's own subnet state dict; folding is the exporter's job.
type Net struct {
	Space  *Space
	Config Config  // canonical
	Blocks []Block // the first block, then the active elastic blocks in order

	FirstConv   ConvBN // 3x3 stride 2, BN, h_swish
	FinalExpand ConvBN // 1x1, BN, h_swish
	FeatureMix  Conv   // 1x1 on the pooled map, no BN, no bias, h_swish
	Classifier  Linear

	// Untrained is true when the weights come from a seeded initialization
	// rather than a checkpoint: the network is then faithful in shape and
	// latency only, and its outputs mean nothing.
	Untrained bool
}

// Tensor is a dense float32 array in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Len returns the number of elements the shape holds.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Conv is a convolution without BatchNorm. Bias is nil when the layer has
// none. Groups equals the channel count for depthwise convolutions.
type Conv struct {
	Weight Tensor // [out, in/groups, k, k]
	Bias   []float32
	Stride int
	Groups int
	Act    Activation
}

// BatchNorm holds eval-mode statistics and the affine transform.
type BatchNorm struct {
	Weight, Bias, Mean, Var []float32
	Eps                     float64
}

// ConvBN is a convolution followed by BatchNorm and then its activation
// (Conv.Act applies after the BatchNorm).
type ConvBN struct {
	Conv
	BN BatchNorm
}

// SqueezeExcite is x * h_sigmoid(expand(relu(reduce(avgpool(x))))).
type SqueezeExcite struct {
	Reduce Conv // [se, mid, 1, 1] with bias
	Expand Conv // [mid, se, 1, 1] with bias
}

// Block is one MBConv block: an optional 1x1 expand, a depthwise conv with
// optional squeeze-and-excitation, and a linear 1x1 projection, plus an
// identity shortcut when Layer.Residual is set.
type Block struct {
	Layer     Layer   // the block's shape
	Expand    *ConvBN // nil for the first block (expand ratio 1)
	Depthwise ConvBN
	SE        *SqueezeExcite
	Project   ConvBN // Act is ActNone
}

// Linear is the classifier: y = W x + b.
type Linear struct {
	Weight Tensor // [out, in]
	Bias   []float32
}

// NamedBatchNorm is one BatchNorm of a [Net] with the name of its module in
// OFA's static MobileNetV3 ("first_conv.bn", "blocks.3.conv.depth_conv.bn",
// "final_expand_layer.bn"), so that statistics can be compared with a
// PyTorch state dict entry by entry.
type NamedBatchNorm struct {
	Name string
	BN   *BatchNorm
}

// BatchNorms returns the net's BatchNorms in the order a forward pass meets
// them (the order of PyTorch's named_modules): the first conv, each block's
// expand, depthwise and project, then the final expand. They point into
// the net, so writing through them changes it.
func (n *Net) BatchNorms() []NamedBatchNorm {
	out := []NamedBatchNorm{{"first_conv.bn", &n.FirstConv.BN}}
	for i := range n.Blocks {
		b := &n.Blocks[i]
		p := fmt.Sprintf("blocks.%d.conv.", i)
		if b.Expand != nil {
			out = append(out, NamedBatchNorm{p + "inverted_bottleneck.bn", &b.Expand.BN})
		}
		out = append(out,
			NamedBatchNorm{p + "depth_conv.bn", &b.Depthwise.BN},
			NamedBatchNorm{p + "point_linear.bn", &b.Project.BN})
	}
	return append(out, NamedBatchNorm{"final_expand_layer.bn", &n.FinalExpand.BN})
}

// RunningStats is the statistics one BatchNorm normalizes with in eval
// mode, per channel.
type RunningStats struct {
	Mean, Var []float32
}

// WithRunningStats returns a copy of the net whose BatchNorms hold stats,
// one entry per BatchNorm in [Net.BatchNorms] order, as OFA's
// set_running_statistics copies recalibrated statistics into a subnet. The
// copy shares every weight with n; n itself is unchanged.
func (n *Net) WithRunningStats(stats []RunningStats) (*Net, error) {
	bns := n.BatchNorms()
	if len(stats) != len(bns) {
		return nil, fmt.Errorf("%d BatchNorm statistics given for a net with %d BatchNorms", len(stats), len(bns))
	}
	for i, nb := range bns {
		c := len(nb.BN.Mean)
		if len(stats[i].Mean) != c || len(stats[i].Var) != c {
			return nil, fmt.Errorf("statistics for %s have %d means and %d variances, want %d each", nb.Name, len(stats[i].Mean), len(stats[i].Var), c)
		}
		for j, v := range stats[i].Var {
			if !(float64(v)+nb.BN.Eps > 0) || math.IsInf(float64(v), 0) || math.IsNaN(float64(stats[i].Mean[j])) || math.IsInf(float64(stats[i].Mean[j]), 0) {
				return nil, fmt.Errorf("statistics for %s channel %d are not usable (mean %g, var %g)", nb.Name, j, stats[i].Mean[j], v)
			}
		}
	}
	out := *n
	out.Blocks = make([]Block, len(n.Blocks))
	copy(out.Blocks, n.Blocks)
	for i := range out.Blocks {
		if e := out.Blocks[i].Expand; e != nil {
			c := *e
			out.Blocks[i].Expand = &c
		}
	}
	for i, nb := range out.BatchNorms() {
		nb.BN.Mean = slices.Clone(stats[i].Mean)
		nb.BN.Var = slices.Clone(stats[i].Var)
	}
	return &out, nil
}
