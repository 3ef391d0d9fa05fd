package export

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgefit/edgefit/export/onnxpb"
	"github.com/edgefit/edgefit/supernet"
)

// builder accumulates one ONNX graph: nodes in topological order and the
// initializers they read, both in emission order so that equal inputs give
// equal bytes. Each node's output value is named after the node.
type builder struct {
	nodes []*onnxpb.NodeProto
	inits []*onnxpb.TensorProto
	used  map[string]bool // value and node names taken

	// batchStats makes every BatchNorm normalize with its batch's
	// statistics, which become graph outputs (see [CalibrationModel]).
	batchStats  bool
	batchCount  string // the value holding N as a float
	statOutputs []*onnxpb.ValueInfoProto
}

func newBuilder() *builder { return &builder{used: map[string]bool{}} }

func (b *builder) claim(name string) string {
	if b.used[name] {
		// Emitters choose unique names; a clash is a bug in this package.
		panic("export: duplicate graph name " + name)
	}
	b.used[name] = true
	return name
}

// node appends a node named name whose single output is also called name.
func (b *builder) node(op, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	b.claim(name)
	b.nodes = append(b.nodes, &onnxpb.NodeProto{
		Input:     inputs,
		Output:    []string{name},
		Name:      name,
		OpType:    op,
		Attribute: attrs,
	})
	return name
}

// init adds a float32 initializer stored little-endian in raw_data.
func (b *builder) init(name string, dims []int, data []float32) string {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return b.initRaw(name, dims, onnxpb.TensorProto_FLOAT, raw)
}

// initInt64 adds an int64 initializer; dims nil means a scalar.
func (b *builder) initInt64(name string, dims []int, data []int64) string {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return b.initRaw(name, dims, onnxpb.TensorProto_INT64, raw)
}

// initRaw adds an initializer of type dt whose little-endian bytes are raw.
func (b *builder) initRaw(name string, dims []int, dt onnxpb.TensorProto_DataType, raw []byte) string {
	b.claim(name)
	d := make([]int64, len(dims))
	for i, x := range dims {
		d[i] = int64(x)
	}
	b.inits = append(b.inits, &onnxpb.TensorProto{Name: name, Dims: d, DataType: int32(dt), RawData: raw})
	return name
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

// conv emits a Conv with padding k/2 (OFA's "same" padding) and then the
// activation. bias may be nil.
func (b *builder) conv(name, in string, shape []int, w, bias []float32, stride, groups int, act supernet.Activation) string {
	return b.act(name, b.convNode(name, in, shape, w, bias, stride, groups), act)
}

// convNode emits the Conv node alone, with padding k/2.
func (b *builder) convNode(name, in string, shape []int, w, bias []float32, stride, groups int) string {
	k := int64(shape[2])
	p := k / 2
	inputs := []string{in, b.init(name+".weight", shape, w)}
	if bias != nil {
		inputs = append(inputs, b.init(name+".bias", shape[:1], bias))
	}
	attrs := []*onnxpb.AttributeProto{
		attrInts("kernel_shape", k, k),
		attrInts("pads", p, p, p, p),
		attrInts("strides", int64(stride), int64(stride)),
	}
	if groups > 1 {
		attrs = append(attrs, attrInt("group", int64(groups)))
	}
	return b.node("Conv", name+".conv", inputs, attrs...)
}

// convBN emits a convolution with its BatchNorm folded in.
func (b *builder) convBN(name, in string, c *supernet.ConvBN) string {
	if b.batchStats {
		return b.batchStatsBN(name, in, c)
	}
	w, bias := fold(c)
	return b.conv(name, in, c.Weight.Shape, w, bias, max(c.Stride, 1), max(c.Groups, 1), c.Act)
}

// Hard sigmoid in OFA (and PyTorch) is relu6(x+3)/6, which is ONNX's
// HardSigmoid with alpha 1/6 and beta 1/2; ONNX's default alpha of 0.2 is
// a different function. HardSwish (opset 14) is x·HardSigmoid(x) with
// exactly these constants built in.
const (
	hardSigmoidAlpha = float32(1.0 / 6.0)
	hardSigmoidBeta  = float32(0.5)
)

func (b *builder) act(name, in string, act supernet.Activation) string {
	switch act {
	case supernet.ActReLU:
		return b.node("Relu", name+".relu", []string{in})
	case supernet.ActHSwish:
		return b.node("HardSwish", name+".hswish", []string{in})
	}
	return in
}

// se emits squeeze-and-excitation: x · hsigmoid(expand(relu(reduce(GAP(x))))).
func (b *builder) se(name, in string, se *supernet.SqueezeExcite) string {
	pooled := b.node("GlobalAveragePool", name+".pool", []string{in})
	r := b.conv(name+".fc.reduce", pooled, se.Reduce.Weight.Shape, se.Reduce.Weight.Data, se.Reduce.Bias, 1, 1, supernet.ActReLU)
	e := b.conv(name+".fc.expand", r, se.Expand.Weight.Shape, se.Expand.Weight.Data, se.Expand.Bias, 1, 1, supernet.ActNone)
	gate := b.node("HardSigmoid", name+".fc.hsigmoid", []string{e}, attrFloat("alpha", hardSigmoidAlpha), attrFloat("beta", hardSigmoidBeta))
	return b.node("Mul", name+".mul", []string{in, gate})
}

// block emits one MBConv block: expand, depthwise (+SE), project, shortcut.
func (b *builder) block(name, in string, blk *supernet.Block) string {
	x := in
	if blk.Expand != nil {
		x = b.convBN(name+".conv.inverted_bottleneck", x, blk.Expand)
	}
	x = b.convBN(name+".conv.depth_conv", x, &blk.Depthwise)
	if blk.SE != nil {
		x = b.se(name+".conv.depth_conv.se", x, blk.SE)
	}
	x = b.convBN(name+".conv.point_linear", x, &blk.Project)
	if blk.Layer.Residual {
		x = b.node("Add", name+".add", []string{x, in})
	}
	return x
}

// unit emits one layer and returns the name of its output value.
func (b *builder) unit(name, in string, u *unit) string {
	switch u.layer.Kind {
	case supernet.KindFirstConv, supernet.KindFinalExpand:
		return b.convBN(name, in, u.conv)
	case supernet.KindBlock:
		return b.block(name, in, u.block)
	case supernet.KindAvgPool:
		return b.node("GlobalAveragePool", name, []string{in})
	case supernet.KindFeatureMix:
		return b.conv(name, in, u.mix.Weight.Shape, u.mix.Weight.Data, u.mix.Bias, 1, 1, u.mix.Act)
	case supernet.KindClassifier:
		flat := b.node("Flatten", name+".flatten", []string{in}, attrInt("axis", 1))
		w := b.init(name+".linear.weight", u.fc.Weight.Shape, u.fc.Weight.Data)
		bias := b.init(name+".linear.bias", []int{len(u.fc.Bias)}, u.fc.Bias)
		return b.node("Gemm", name+".linear", []string{flat, w, bias}, attrInt("transB", 1))
	}
	panic(fmt.Sprintf("export: unit of unknown kind %d", int(u.layer.Kind)))
}

// units emits units in order from value x, stopping after the first unit
// of kind last (-1: none), and returns the last output.
func (b *builder) units(x string, units []unit, last supernet.LayerKind) string {
	blockIndex := 0
	for i := range units {
		u := &units[i]
		x = b.unit(u.name(blockIndex), x, u)
		if u.layer.Kind == supernet.KindBlock {
			blockIndex++
		}
		if u.layer.Kind == last {
			break
		}
	}
	return x
}

// rename gives the value that a graph output reads the output's name: the
// node that produces it is renamed (all emitters return a node output).
func (b *builder) rename(value, to string) {
	for _, n := range b.nodes {
		for i, o := range n.Output {
			if o == value {
				n.Output[i] = b.claim(to)
				return
			}
		}
	}
	panic("export: no node produces " + value)
}

// valueInfo describes a float tensor; a dimension of -1 is the symbolic
// batch dimension "N".
func valueInfo(name string, dims ...int) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if d < 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
		} else {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32(onnxpb.TensorProto_FLOAT),
			Shape:    shape,
		}}},
	}
}

// graph emits units in order from the graph input to the graph output.
func graph(name string, units []unit, input, output *onnxpb.ValueInfoProto) *onnxpb.GraphProto {
	b := newBuilder()
	x := b.units(b.claim(input.Name), units, -1)
	b.rename(x, output.Name)
	return &onnxpb.GraphProto{
		Name:        name,
		Node:        b.nodes,
		Initializer: b.inits,
		Input:       []*onnxpb.ValueInfoProto{input},
		Output:      []*onnxpb.ValueInfoProto{output},
	}
}
