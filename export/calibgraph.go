package export

import (
	"fmt"

	"github.com/edgefit/edgefit/export/onnxpb"
	"github.com/edgefit/edgefit/supernet"
)

// CalibrationModel builds the ONNX model that measures a subnet's
// BatchNorm statistics on a batch, as OFA's set_running_statistics does:
// every BatchNorm normalizes its input with that input's own batch mean and
// biased variance over N, H and W (so that later layers see batch-
// normalized inputs) instead of its running statistics. The model has input
// "input" [N,3,r,r] and, for each BatchNorm in [supernet.Net.BatchNorms]
// order, outputs "<name>.mean" and "<name>.var" of shape [C] (for example
// "blocks.3.conv.depth_conv.bn.mean"); it ends at the final expand layer,
// the last BatchNorm. Means are reduced over N, then H, then W, as OFA's
// x.mean(0).mean(2).mean(3); the variance is that of the centred input.
func CalibrationModel(net *supernet.Net) ([]byte, error) {
	units, err := netUnits(net)
	if err != nil {
		return nil, fmt.Errorf("calibration model: %w", err)
	}
	b := newBuilder()
	b.batchStats = true
	x := b.claim("input")
	b.batchCount = b.node("Cast", "batch_count", []string{
		b.node("Gather", "batch_size", []string{b.node("Shape", "input_shape", []string{x}), b.initInt64("batch_axis", nil, []int64{0})}, attrInt("axis", 0)),
	}, attrInt("to", int64(onnxpb.TensorProto_FLOAT)))
	b.units(x, units, supernet.KindFinalExpand)
	r := net.Config.R
	g := &onnxpb.GraphProto{
		Name:        "edgefit_calibration",
		Node:        b.nodes,
		Initializer: b.inits,
		Input:       []*onnxpb.ValueInfoProto{valueInfo("input", -1, 3, r, r)},
		Output:      b.statOutputs,
	}
	m := newModel(g, DefaultOpset, "dev")
	m.DocString = fmt.Sprintf("BatchNorm calibration graph of an OFA MobileNetV3 subnet of %s at %dx%d, written by edgefit", net.Space.Name, r, r)
	return marshal(m)
}

// batchStatsBN emits a convolution whose BatchNorm normalizes with the
// statistics of the batch, and the activation after it; the statistics
// become graph outputs.
func (b *builder) batchStatsBN(name, in string, c *supernet.ConvBN) string {
	x := b.convNode(name, in, c.Weight.Shape, c.Weight.Data, c.Bias, max(c.Stride, 1), max(c.Groups, 1))
	channels := c.Weight.Shape[0]
	bn := name + ".bn"
	mean := b.meanNHW(bn+".batch_mean", x)
	centred := b.node("Sub", bn+".centred", []string{x, mean})
	// Σ over N of the squares, then the means over H and W, then ÷N: the
	// mean over N, H and W of (x−mean)², in the reduction order of OFA's
	// ((x−mean)²).mean(0).mean(2).mean(3).
	sq := b.node("ReduceSumSquare", bn+".sq_sum_n", []string{centred}, attrInts("axes", 0), attrInt("keepdims", 1))
	sq = b.node("ReduceMean", bn+".sq_mean_h", []string{sq}, attrInts("axes", 2), attrInt("keepdims", 1))
	sq = b.node("ReduceMean", bn+".sq_mean_w", []string{sq}, attrInts("axes", 3), attrInt("keepdims", 1))
	variance := b.node("Div", bn+".batch_var", []string{sq, b.batchCount})
	mean1 := b.node("Reshape", bn+".mean", []string{mean, b.shapeC(channels)})
	var1 := b.node("Reshape", bn+".var", []string{variance, b.shapeC(channels)})
	b.statOutputs = append(b.statOutputs, valueInfo(mean1, channels), valueInfo(var1, channels))
	y := b.node("BatchNormalization", bn, []string{
		x,
		b.init(bn+".weight", []int{channels}, c.BN.Weight),
		b.init(bn+".bias", []int{channels}, c.BN.Bias),
		mean1, var1,
	}, attrFloat("epsilon", float32(c.BN.Eps)))
	return b.act(name, y, c.Act)
}

// meanNHW reduces x [N,C,H,W] to its per-channel mean [1,C,1,1], over N,
// then H, then W.
func (b *builder) meanNHW(name, x string) string {
	m := b.node("ReduceMean", name+".n", []string{x}, attrInts("axes", 0), attrInt("keepdims", 1))
	m = b.node("ReduceMean", name+".h", []string{m}, attrInts("axes", 2), attrInt("keepdims", 1))
	return b.node("ReduceMean", name, []string{m}, attrInts("axes", 3), attrInt("keepdims", 1))
}

// shapeC returns the shape initializer [C] for reshaping statistics,
// shared by every BatchNorm of that width.
func (b *builder) shapeC(channels int) string {
	name := fmt.Sprintf("shape_%d", channels)
	if b.used[name] {
		return name
	}
	return b.initInt64(name, []int{1}, []int64{int64(channels)})
}
