package supernet

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
