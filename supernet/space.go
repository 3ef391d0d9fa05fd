package supernet

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Shape of the OFA MobileNetV3 space: five elastic stages of at most four
// blocks each, after a fixed first convolution and a fixed first block.
const (
	NumStages   = 5
	MaxDepth    = 4
	NumBlocks   = NumStages * MaxDepth // elastic blocks; index i is supernet block i+1
	NumClasses  = 1000                 // default; a checkpoint may carry another count
	bnEps       = 1e-5
	seReduction = 4
)

// Activation is the non-linearity after a convolution.
type Activation int

const (
	ActNone Activation = iota
	ActReLU
	ActHSwish
)

func (a Activation) String() string {
	switch a {
	case ActReLU:
		return "relu"
	case ActHSwish:
		return "h_swish"
	default:
		return "none"
	}
}

// Stage describes one elastic stage of the supernet.
type Stage struct {
	Width  int        // output channels of every block of the stage
	Stride int        // stride of the stage's first block; the others use 1
	Act    Activation // activation of the expand and depthwise convolutions
	SE     bool       // whether the blocks carry squeeze-and-excitation
}

// Space is one OFA MobileNetV3 supernet: its fixed widths and its elastic
// choices. Obtain one with [NewSpace] or [SpaceByName]; a Space is read-only
// after construction and safe for concurrent use.
type Space struct {
	Name        string  // "ofa-mbv3-w1.0" or "ofa-mbv3-w1.2"
	WidthMult   float64 // 1.0 or 1.2
	KernelSizes []int   // ascending, {3,5,7}
	Expands     []int   // ascending, {3,4,6}
	Depths      []int   // ascending, {2,3,4}
	Resolutions []int   // resolutions a search may pick, ascending

	FirstConv   int // output channels of the 3x3 stride-2 first convolution
	FirstBlock  int // output channels of the fixed first block (expand ratio 1)
	Stages      [NumStages]Stage
	FinalExpand int // channels of the 1x1 final expand layer (with BN)
	FeatureMix  int // channels of the 1x1 feature mix layer (no BN, no bias)
	Classes     int // classifier outputs
}

// Base widths of OFA MobileNetV3 at width 1.0: first conv, first block, the
// five stages, final expand and feature mix. OFA ignores its constructor's
// base_stage_width argument and always uses these.
var baseWidths = [9]int{16, 16, 24, 40, 80, 112, 160, 960, 1280}

var stageShape = [NumStages]Stage{
	{Stride: 2, Act: ActReLU, SE: false},
	{Stride: 2, Act: ActReLU, SE: true},
	{Stride: 2, Act: ActHSwish, SE: false},
	{Stride: 1, Act: ActHSwish, SE: true},
	{Stride: 2, Act: ActHSwish, SE: true},
}

// DefaultResolutions are the sizes OFA trained its MobileNetV3 supernets on:
// every multiple of 4 from 128 to 224.
func DefaultResolutions() []int {
	var rs []int
	for r := 128; r <= 224; r += 4 {
		rs = append(rs, r)
	}
	return rs
}

// MakeDivisible rounds v to a multiple of 8 the way OFA (and TensorFlow's
// MobileNet code) does: to the nearest multiple, never below 8, and never
// more than 10% below v.
func MakeDivisible(v float64) int {
	n := int(math.Floor(v+4)) / 8 * 8
	if n < 8 {
		n = 8
	}
	if float64(n) < 0.9*v {
		n += 8
	}
	return n
}

// NewSpace returns the OFA MobileNetV3 space of the given width multiplier
// (1.0 or 1.2) with the default choice lists and resolutions.
func NewSpace(widthMult float64) (*Space, error) {
	var name string
	switch widthMult {
	case 1.0:
		name = "ofa-mbv3-w1.0"
	case 1.2:
		name = "ofa-mbv3-w1.2"
	default:
		return nil, fmt.Errorf("width multiplier %g is not an OFA MobileNetV3 width: use 1.0 or 1.2", widthMult)
	}
	var w [9]int
	for i, b := range baseWidths {
		w[i] = MakeDivisible(float64(b) * widthMult)
	}
	s := &Space{
		Name:        name,
		WidthMult:   widthMult,
		KernelSizes: []int{3, 5, 7},
		Expands:     []int{3, 4, 6},
		Depths:      []int{2, 3, 4},
		Resolutions: DefaultResolutions(),
		FirstConv:   w[0],
		FirstBlock:  w[1],
		FinalExpand: w[7],
		FeatureMix:  w[8],
		Classes:     NumClasses,
	}
	for i := range s.Stages {
		s.Stages[i] = stageShape[i]
		s.Stages[i].Width = w[2+i]
	}
	return s, nil
}

// SpaceNames lists the names [SpaceByName] accepts.
func SpaceNames() []string { return []string{"ofa-mbv3-w1.0", "ofa-mbv3-w1.2"} }

// SpaceByName returns the space called name ("ofa-mbv3-w1.0" or
// "ofa-mbv3-w1.2"; "w1.0" and "w1.2" are accepted too).
func SpaceByName(name string) (*Space, error) {
	switch strings.TrimPrefix(strings.ToLower(name), "ofa-mbv3-") {
	case "w1.0", "w1", "w10":
		return NewSpace(1.0)
	case "w1.2", "w12":
		return NewSpace(1.2)
	}
	return nil, fmt.Errorf("unknown search space %q: use one of %s", name, strings.Join(SpaceNames(), ", "))
}

// WithResolutions returns a copy of s whose searchable resolutions are rs
// (sorted, deduplicated). Every resolution must be at least 32.
func (s *Space) WithResolutions(rs []int) (*Space, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("no resolutions given: name at least one, such as 224")
	}
	rs = slices.Clone(rs)
	slices.Sort(rs)
	rs = slices.Compact(rs)
	for _, r := range rs {
		if err := checkResolution(r); err != nil {
			return nil, err
		}
	}
	c := *s
	c.Resolutions = rs
	return &c, nil
}

// checkResolution reports a resolution no space can run at.
func checkResolution(r int) error {
	if r < 32 || r > 1024 {
		return fmt.Errorf("resolution %d is outside 32..1024", r)
	}
	return nil
}

// BlockIn returns the input channels of elastic block i (0..19).
func (s *Space) BlockIn(i int) int {
	if i%MaxDepth == 0 {
		if i == 0 {
			return s.FirstBlock
		}
		return s.Stages[i/MaxDepth-1].Width
	}
	return s.Stages[i/MaxDepth].Width
}

// BlockOut returns the output channels of elastic block i (0..19).
func (s *Space) BlockOut(i int) int { return s.Stages[i/MaxDepth].Width }

// BlockStride returns the stride of elastic block i (0..19).
func (s *Space) BlockStride(i int) int {
	if i%MaxDepth == 0 {
		return s.Stages[i/MaxDepth].Stride
	}
	return 1
}

// MidChannels returns the active middle (expanded) width of elastic block i
// at expand ratio e: make_divisible(round(in*e)).
func (s *Space) MidChannels(i, e int) int { return MakeDivisible(float64(s.BlockIn(i) * e)) }

// MaxMid returns the middle width block i has in the supernet (largest
// expand ratio); checkpoint tensors are this wide.
func (s *Space) MaxMid(i int) int { return s.MidChannels(i, s.Expands[len(s.Expands)-1]) }

// SEChannels returns the squeeze-and-excitation width for a middle width:
// make_divisible(mid/4), recomputed from the active width as OFA does.
func SEChannels(mid int) int { return MakeDivisible(float64(mid / seReduction)) }

// SpatialOut returns the output size of a convolution with padding k/2 and
// the given stride on an input of size h.
func SpatialOut(h, stride int) int { return (h-1)/stride + 1 }

// Size returns the number of distinct architectures of the space (without
// resolution): (sum over depths of (|ks|*|e|)^d)^stages, as a float because
// it exceeds 2^64.
func (s *Space) Size() float64 {
	per := 0.0
	for _, d := range s.Depths {
		per += math.Pow(float64(len(s.KernelSizes)*len(s.Expands)), float64(d))
	}
	return math.Pow(per, NumStages)
}
