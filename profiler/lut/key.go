package lut

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/supernet"
)

// maxDim bounds every size and channel count a key may hold, so that the
// costs computed from a parsed layer cannot overflow.
const maxDim = 1 << 16

// KeyError says why a lookup-table key could not be read.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("lookup-table key %q: %s", e.Key, e.Reason)
}

// ParseKey reads a key in OFA's lookup-table format (what
// [supernet.Layer.Key] writes) back into a layer shape. It is the exact
// inverse of Key: ParseKey(l.Key()) returns l, except that Block is always
// -1, because a key does not say which elastic block a shape came from
// (blocks 1..3 of a stage share their shapes).
//
// Fields the key leaves implicit are filled the way [supernet.Space.Layers]
// fills them: the first conv is 3x3, stride 2, h_swish; the final expand and
// feature mix are 1x1 h_swish; a block's squeeze-and-excitation width is
// [supernet.SEChannels] of its middle width, and it has an expand conv
// unless its middle width equals its input width (OFA's fixed first block).
//
// ParseKey refuses keys whose shapes contradict each other (an output size
// that the stride cannot produce, an identity shortcut across a stride or
// a channel change) and keys that Key would not write byte for byte, such as
// numbers with leading zeros.
func ParseKey(key string) (supernet.Layer, error) {
	bad := func(format string, args ...any) (supernet.Layer, error) {
		return supernet.Layer{}, &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	parts := strings.Split(key, "-")
	kind := parts[0]
	fields := map[string]string{}
	var order []string
	for _, p := range parts[1:] {
		name, val, ok := strings.Cut(p, ":")
		if !ok {
			return bad("field %q has no ':'", p)
		}
		if _, dup := fields[name]; dup {
			return bad("field %q appears twice", name)
		}
		fields[name] = val
		order = append(order, name)
	}
	want := map[string][]string{
		"Conv":          {"input", "output"},
		"Conv_1":        {"input", "output"},
		"AvgPool2D":     {"input", "output"},
		"Conv_2":        {"input", "output"},
		"Logits":        {"input", "output"},
		"expanded_conv": {"input", "output", "expand", "kernel", "stride", "idskip", "se", "hs"},
	}[kind]
	if want == nil {
		return bad("unknown layer kind %q: OFA MobileNetV3 tables use Conv, expanded_conv, Conv_1, AvgPool2D, Conv_2 and Logits", kind)
	}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		return bad("%s keys have the fields %s in this order, not %s", kind, strings.Join(want, ", "), strings.Join(order, ", "))
	}
	inH, inW, inC, err := parseShape(fields["input"])
	if err != nil {
		return bad("input: %v", err)
	}
	var outH, outW, outC int
	if kind == "Logits" {
		outH, outW = 1, 1
		outC, err = parseDim(fields["output"])
	} else {
		outH, outW, outC, err = parseShape(fields["output"])
	}
	if err != nil {
		return bad("output: %v", err)
	}
	if inH != inW || outH != outW {
		return bad("feature maps must be square (HxHxC)")
	}
	l := supernet.Layer{InSize: inH, OutSize: outH, In: inC, Out: outC, Block: -1}
	switch kind {
	case "Conv":
		l.Kind, l.Kernel, l.Stride, l.Act = supernet.KindFirstConv, 3, 2, supernet.ActHSwish
		if outH != supernet.SpatialOut(inH, 2) {
			return bad("a stride-2 conv on %dx%d gives %dx%d, not %dx%d", inH, inH, supernet.SpatialOut(inH, 2), supernet.SpatialOut(inH, 2), outH, outH)
		}
	case "Conv_1":
		l.Kind, l.Kernel, l.Stride, l.Act = supernet.KindFinalExpand, 1, 1, supernet.ActHSwish
		if outH != inH {
			return bad("the final 1x1 conv keeps the size: input %d, output %d", inH, outH)
		}
	case "AvgPool2D":
		l.Kind = supernet.KindAvgPool
		if outH != 1 || outC != inC {
			return bad("global average pooling gives 1x1x%d, not %dx%dx%d", inC, outH, outH, outC)
		}
	case "Conv_2":
		l.Kind, l.Kernel, l.Stride, l.Act = supernet.KindFeatureMix, 1, 1, supernet.ActHSwish
		if inH != 1 || outH != 1 {
			return bad("the feature mix conv runs on 1x1 maps")
		}
	case "Logits":
		l.Kind = supernet.KindClassifier
		if inH != 1 {
			return bad("the classifier runs on a 1x1 map")
		}
	case "expanded_conv":
		l.Kind = supernet.KindBlock
		nums := map[string]*int{"expand": &l.Mid, "kernel": &l.Kernel, "stride": &l.Stride}
		for _, name := range []string{"expand", "kernel", "stride"} {
			v, err := parseDim(fields[name])
			if err != nil {
				return bad("%s: %v", name, err)
			}
			*nums[name] = v
		}
		var flags [3]bool
		for i, name := range []string{"idskip", "se", "hs"} {
			switch fields[name] {
			case "0":
			case "1":
				flags[i] = true
			default:
				return bad("%s is %q, want 0 or 1", name, fields[name])
			}
		}
		l.Residual = flags[0]
		if flags[1] {
			l.SE = supernet.SEChannels(l.Mid)
		}
		l.Act = supernet.ActReLU
		if flags[2] {
			l.Act = supernet.ActHSwish
		}
		l.Expand = l.Mid != l.In
		if l.Kernel%2 == 0 {
			return bad("kernel %d is even; depthwise kernels are odd", l.Kernel)
		}
		if outH != supernet.SpatialOut(inH, l.Stride) {
			return bad("stride %d on %dx%d gives %dx%d, not %dx%d", l.Stride, inH, inH,
				supernet.SpatialOut(inH, l.Stride), supernet.SpatialOut(inH, l.Stride), outH, outH)
		}
		if shortcut := l.Stride == 1 && l.In == l.Out; l.Residual != shortcut {
			return bad("idskip must be 1 exactly when stride is 1 and input and output channels agree")
		}
	}
	if got := l.Key(); got != key {
		return bad("not in canonical form; it should read %q", got)
	}
	return l, nil
}

func parseShape(s string) (h, w, c int, err error) {
	p := strings.Split(s, "x")
	if len(p) != 3 {
		return 0, 0, 0, fmt.Errorf("shape %q is not HxWxC", s)
	}
	var v [3]int
	for i := range p {
		if v[i], err = parseDim(p[i]); err != nil {
			return 0, 0, 0, err
		}
	}
	return v[0], v[1], v[2], nil
}

func parseDim(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > maxDim {
		return 0, fmt.Errorf("%q is not a whole number from 1 to %d", s, maxDim)
	}
	return v, nil
}
