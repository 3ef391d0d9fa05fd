package supernet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// OFA describes a static subnet by a "net.config" JSON document: what
// get_active_net_config() returns, what MobileNetV3.build_from_config and
// ofa_specialized consume, and what the OFA model zoo ships beside each
// specialized net. NetConfig writes it; ConfigFromNetConfig reads it back,
// in both the current spelling and the legacy zoo one.

type ncBN struct {
	Momentum json.Number `json:"momentum"`
	Eps      json.Number `json:"eps"`
	WSEps    *float64    `json:"ws_eps"`
}

type ncConvLayer struct {
	Name        string `json:"name"`
	KernelSize  int    `json:"kernel_size"`
	Stride      int    `json:"stride"`
	Dilation    int    `json:"dilation"`
	Groups      int    `json:"groups"`
	Bias        bool   `json:"bias"`
	HasShuffle  bool   `json:"has_shuffle"`
	UseSE       bool   `json:"use_se"`
	InChannels  int    `json:"in_channels"`
	OutChannels int    `json:"out_channels"`
	UseBN       bool   `json:"use_bn"`
	ActFunc     string `json:"act_func"`
	DropoutRate int    `json:"dropout_rate"`
	OpsOrder    string `json:"ops_order"`
}

type ncMBConv struct {
	Name        string `json:"name"`
	InChannels  int    `json:"in_channels"`
	OutChannels int    `json:"out_channels"`
	KernelSize  int    `json:"kernel_size"`
	Stride      int    `json:"stride"`
	ExpandRatio int    `json:"expand_ratio"`
	MidChannels *int   `json:"mid_channels"`
	ActFunc     string `json:"act_func"`
	UseSE       bool   `json:"use_se"`
	Groups      *int   `json:"groups"`
}

type ncIdentity struct {
	Name        string  `json:"name"`
	InChannels  int     `json:"in_channels"`
	OutChannels int     `json:"out_channels"`
	UseBN       bool    `json:"use_bn"`
	ActFunc     *string `json:"act_func"`
	DropoutRate int     `json:"dropout_rate"`
	OpsOrder    string  `json:"ops_order"`
}

type ncBlock struct {
	Name     string      `json:"name"`
	Conv     ncMBConv    `json:"conv"`
	Shortcut *ncIdentity `json:"shortcut"`
}

type ncLinear struct {
	Name        string  `json:"name"`
	InFeatures  int     `json:"in_features"`
	OutFeatures int     `json:"out_features"`
	Bias        bool    `json:"bias"`
	UseBN       bool    `json:"use_bn"`
	ActFunc     *string `json:"act_func"`
	DropoutRate int     `json:"dropout_rate"`
	OpsOrder    string  `json:"ops_order"`
}

type ncNet struct {
	Name             string      `json:"name"`
	BN               ncBN        `json:"bn"`
	FirstConv        ncConvLayer `json:"first_conv"`
	Blocks           []ncBlock   `json:"blocks"`
	FinalExpandLayer ncConvLayer `json:"final_expand_layer"`
	FeatureMixLayer  ncConvLayer `json:"feature_mix_layer"`
	Classifier       ncLinear    `json:"classifier"`
}

const opsOrder = "weight_bn_act"

func convLayer(in, out, k, stride int, bn bool, act string) ncConvLayer {
	return ncConvLayer{Name: "ConvLayer", KernelSize: k, Stride: stride, Dilation: 1, Groups: 1,
		InChannels: in, OutChannels: out, UseBN: bn, ActFunc: act, OpsOrder: opsOrder}
}

// NetConfig returns subnet c as OFA's net.config JSON, the document
// get_active_net_config() returns for it (classifier dropout 0, as in
// OFA's released supernets), indented as OFA writes net.config files. The
// resolution is not part of it: OFA keeps it in run.config.
func (s *Space) NetConfig(c Config) ([]byte, error) {
	if err := s.validateArch(c); err != nil {
		return nil, fmt.Errorf("net.config: %w", err)
	}
	n := ncNet{
		Name:             "MobileNetV3",
		BN:               ncBN{Momentum: "0.1", Eps: "1e-05"},
		FirstConv:        convLayer(3, s.FirstConv, 3, 2, true, ActHSwish.String()),
		FinalExpandLayer: convLayer(s.Stages[NumStages-1].Width, s.FinalExpand, 1, 1, true, ActHSwish.String()),
		FeatureMixLayer:  convLayer(s.FinalExpand, s.FeatureMix, 1, 1, false, ActHSwish.String()),
		Classifier:       ncLinear{Name: "LinearLayer", InFeatures: s.FeatureMix, OutFeatures: s.Classes, Bias: true, OpsOrder: opsOrder},
	}
	for _, l := range s.Layers(c, nil) {
		if l.Kind != KindBlock {
			continue
		}
		b := ncBlock{Name: "ResidualBlock", Conv: ncMBConv{Name: "MBConvLayer", InChannels: l.In, OutChannels: l.Out,
			KernelSize: l.Kernel, Stride: l.Stride, ExpandRatio: 1, ActFunc: l.Act.String(), UseSE: l.SE > 0}}
		if l.Expand {
			b.Conv.ExpandRatio = c.E[l.Block]
			b.Conv.MidChannels = &l.Mid
		}
		if l.Residual {
			b.Shortcut = &ncIdentity{Name: "IdentityLayer", InChannels: l.In, OutChannels: l.Out, OpsOrder: opsOrder}
		}
		n.Blocks = append(n.Blocks, b)
	}
	return json.MarshalIndent(n, "", "    ")
}

// Types for reading: lenient about spellings, strict about values.
type ncChannels int

// UnmarshalJSON accepts a channel count written as 24 or, as the legacy
// zoo configs do for IdentityLayer, [24].
func (c *ncChannels) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*c = ncChannels(n)
		return nil
	}
	var l []int
	if err := json.Unmarshal(b, &l); err != nil || len(l) != 1 {
		return fmt.Errorf("channel count %s is neither an int nor a one-int list", b)
	}
	*c = ncChannels(l[0])
	return nil
}

type ncConvIn struct {
	Name        string     `json:"name"`
	InChannels  ncChannels `json:"in_channels"`
	OutChannels ncChannels `json:"out_channels"`
	KernelSize  int        `json:"kernel_size"`
	Stride      int        `json:"stride"`
	ExpandRatio *float64   `json:"expand_ratio"`
	MidChannels *int       `json:"mid_channels"`
	ActFunc     *string    `json:"act_func"`
	UseSE       bool       `json:"use_se"`
	UseBN       *bool      `json:"use_bn"`
}

type ncBlockIn struct {
	Name     string    `json:"name"`
	Conv     *ncConvIn `json:"conv"`
	Legacy   *ncConvIn `json:"mobile_inverted_conv"`
	Shortcut *ncConvIn `json:"shortcut"`
}

type ncNetIn struct {
	Name             string      `json:"name"`
	FirstConv        *ncConvIn   `json:"first_conv"`
	Blocks           []ncBlockIn `json:"blocks"`
	FinalExpandLayer *ncConvIn   `json:"final_expand_layer"`
	FeatureMixLayer  *ncConvIn   `json:"feature_mix_layer"`
	Classifier       *struct {
		InFeatures  int `json:"in_features"`
		OutFeatures int `json:"out_features"`
	} `json:"classifier"`
}

// ConfigFromNetConfig reads an OFA MobileNetV3 net.config (as written by
// get_active_net_config, or a legacy OFA zoo file with
// MobileInvertedResidualBlock / mobile_inverted_conv / MBInvertedConvLayer
// spellings) and returns its space (width and class count from the
// document) and its subnet. Blocks are assigned to stages by their output
// widths; every block must agree with the space (strides, activations, SE,
// shortcuts, mid widths). The config's R is 0: net.config does not carry
// the resolution, set it from run.config's image_size or the user.
func ConfigFromNetConfig(data []byte) (*Space, Config, error) {
	var n ncNetIn
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&n); err != nil {
		return nil, Config{}, fmt.Errorf("net.config is not valid JSON: %w", err)
	}
	fail := func(format string, args ...any) (*Space, Config, error) {
		return nil, Config{}, fmt.Errorf("net.config: "+format, args...)
	}
	switch n.Name {
	case "MobileNetV3":
	case "ProxylessNASNets":
		return fail("this is a ProxylessNAS net (OFA's w1.3 GPU/CPU zoo nets): edgefit supports the OFA MobileNetV3 spaces w1.0 and w1.2")
	case "":
		return fail(`no "name": is this an OFA net.config file?`)
	default:
		return fail("network %q is not an OFA MobileNetV3", n.Name)
	}
	if n.FirstConv == nil || n.FinalExpandLayer == nil || n.FeatureMixLayer == nil || n.Classifier == nil {
		return fail("first_conv, final_expand_layer, feature_mix_layer and classifier are all required")
	}
	s := spaceOfWidth(int(n.FirstConv.OutChannels))
	if s == nil {
		return fail("first_conv has %d channels: OFA MobileNetV3 w1.0 has 16 and w1.2 has 24", n.FirstConv.OutChannels)
	}
	if n.Classifier.OutFeatures < 1 || n.Classifier.OutFeatures > 1<<20 {
		return fail("classifier has %d outputs", n.Classifier.OutFeatures)
	}
	s.Classes = n.Classifier.OutFeatures
	if err := checkFixed("first_conv", n.FirstConv, 3, s.FirstConv, 3, 2, ActHSwish); err != nil {
		return nil, Config{}, err
	}
	last := s.Stages[NumStages-1].Width
	if err := checkFixed("final_expand_layer", n.FinalExpandLayer, last, s.FinalExpand, 1, 1, ActHSwish); err != nil {
		return nil, Config{}, err
	}
	if err := checkFixed("feature_mix_layer", n.FeatureMixLayer, s.FinalExpand, s.FeatureMix, 1, 1, ActHSwish); err != nil {
		return nil, Config{}, err
	}
	if n.Classifier.InFeatures != s.FeatureMix {
		return fail("classifier has %d inputs, want %d", n.Classifier.InFeatures, s.FeatureMix)
	}

	if len(n.Blocks) == 0 {
		return fail("no blocks")
	}
	convs := make([]*ncConvIn, len(n.Blocks))
	for j, b := range n.Blocks {
		switch {
		case b.Conv != nil && b.Legacy != nil:
			return fail("block %d has both conv and mobile_inverted_conv", j)
		case b.Conv != nil:
			convs[j] = b.Conv
		case b.Legacy != nil:
			convs[j] = b.Legacy
		default:
			return fail("block %d has no conv (or mobile_inverted_conv)", j)
		}
		if nm := convs[j].Name; nm != "MBConvLayer" && nm != "MBInvertedConvLayer" {
			return fail("block %d is a %q, want MBConvLayer", j, nm)
		}
		if sc := b.Shortcut; sc != nil && (sc.Name != "IdentityLayer" || sc.InChannels != convs[j].InChannels || sc.OutChannels != convs[j].OutChannels) {
			return fail("block %d: shortcut must be an IdentityLayer of its block's widths", j)
		}
	}
	first := convs[0]
	if first.InChannels != ncChannels(s.FirstConv) || first.OutChannels != ncChannels(s.FirstBlock) || first.KernelSize != 3 || first.Stride != 1 ||
		(first.ExpandRatio != nil && *first.ExpandRatio != 1) || first.UseSE || !actIs(first.ActFunc, ActReLU) || n.Blocks[0].Shortcut == nil {
		return fail("block 0 must be OFA's fixed first block (%d→%d, 3x3, stride 1, expand 1, relu, identity shortcut)", s.FirstConv, s.FirstBlock)
	}

	var c Config
	j := 1
	for st := range NumStages {
		stage := s.Stages[st]
		d := 0
		for j < len(convs) && int(convs[j].OutChannels) == stage.Width {
			if d == MaxDepth {
				return fail("stage %d (width %d) has more than %d blocks", st, stage.Width, MaxDepth)
			}
			i := st*MaxDepth + d
			b := convs[j]
			where := fmt.Sprintf("block %d (stage %d, position %d)", j, st, d)
			if int(b.InChannels) != s.BlockIn(i) {
				return fail("%s has %d input channels, want %d", where, b.InChannels, s.BlockIn(i))
			}
			if b.Stride != s.BlockStride(i) {
				return fail("%s has stride %d, want %d", where, b.Stride, s.BlockStride(i))
			}
			if !slices.Contains(s.KernelSizes, b.KernelSize) {
				return fail("%s has kernel_size %d: use one of %s", where, b.KernelSize, joinInts(s.KernelSizes))
			}
			if b.ExpandRatio == nil || *b.ExpandRatio != math.Trunc(*b.ExpandRatio) || !slices.Contains(s.Expands, int(*b.ExpandRatio)) {
				return fail("%s has expand_ratio %v: use one of %s", where, ptrString(b.ExpandRatio), joinInts(s.Expands))
			}
			e := int(*b.ExpandRatio)
			if b.MidChannels != nil && *b.MidChannels != s.MidChannels(i, e) {
				return fail("%s has mid_channels %d, but OFA's expand ratio %d gives %d", where, *b.MidChannels, e, s.MidChannels(i, e))
			}
			if b.UseSE != stage.SE {
				return fail("%s has use_se %v, stage %d has %v", where, b.UseSE, st, stage.SE)
			}
			if !actIs(b.ActFunc, stage.Act) {
				return fail("%s has act_func %s, stage %d uses %s", where, ptrString(b.ActFunc), st, stage.Act)
			}
			if want := s.BlockStride(i) == 1 && s.BlockIn(i) == stage.Width; want != (n.Blocks[j].Shortcut != nil) {
				return fail("%s: identity shortcut is %v, want %v", where, n.Blocks[j].Shortcut != nil, want)
			}
			c.KS[i], c.E[i] = b.KernelSize, e
			d++
			j++
		}
		if !slices.Contains(s.Depths, d) {
			if j < len(convs) {
				return fail("stage %d (width %d) has %d blocks before block %d (width %d): depths must be one of %s",
					st, stage.Width, d, j, convs[j].OutChannels, joinInts(s.Depths))
			}
			return fail("stage %d (width %d) has %d blocks: depths must be one of %s", st, stage.Width, d, joinInts(s.Depths))
		}
		c.D[st] = d
	}
	if j != len(convs) {
		return fail("block %d (width %d) does not fit after the last stage", j, convs[j].OutChannels)
	}
	return s, c.Canonical(s), nil
}

func checkFixed(name string, l *ncConvIn, in, out, k, stride int, act Activation) error {
	if int(l.InChannels) != in || int(l.OutChannels) != out || l.KernelSize != k || l.Stride != stride || !actIs(l.ActFunc, act) {
		return fmt.Errorf("net.config: %s is %d→%d k%d s%d %s, want %d→%d k%d s%d %s: not an OFA MobileNetV3 of this width",
			name, l.InChannels, l.OutChannels, l.KernelSize, l.Stride, ptrString(l.ActFunc), in, out, k, stride, act)
	}
	return nil
}

func actIs(p *string, a Activation) bool { return p != nil && *p == a.String() }

func ptrString[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}
