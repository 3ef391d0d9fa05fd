package predictor

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/edgefit/edgefit/supernet"
)

// OFA's MobileNetV3 choice lists, which both of its accuracy predictors
// encode as one-hot triples per elastic block.
var (
	ofaKernels = []int{3, 5, 7}
	ofaExpands = []int{3, 4, 6}
)

// MLP accuracy predictor formats.
const (
	// FormatOFATutorial is OFA's tutorial predictor (ofa/tutorial/
	// accuracy_predictor.py; acc_predictor.pth, a bare state_dict with
	// keys 0.weight … 6.bias): input [ks one-hot 60 | e one-hot 60 |
	// r one-hot 8 at (r−112)//16].
	FormatOFATutorial = "ofa-tutorial"
	// FormatOFANAS is OFA's NAS AccuracyPredictor with a
	// MobileNetArchEncoder (keys base_acc, layers.N.0.weight, …): input
	// [r one-hot over image_size_list | ks 20×3 | e 20×3], output
	// MLP + base_acc.
	FormatOFANAS = "ofa-nas"
)

// MLPOptions tune [LoadMLPAccuracy].
type MLPOptions struct {
	// ImageSizes is the image_size_list a NAS-format predictor was
	// trained with (its encoder's resolution one-hot). Empty means OFA's
	// default, every multiple of 4 from 128 to 224, which is the only
	// list that fits a 145-input predictor.
	ImageSizes []int
	// Space is the space the predictor was trained for. Empty means
	// ofa-mbv3-w1.2 for the tutorial predictor (the only space OFA
	// released it for) and "unknown" for NAS-format files, which are
	// then accepted for any space.
	Space string
}

// MLPAccuracy is one of OFA's MLP accuracy predictors, evaluated in Go.
// It implements [AccuracyModel]; Accuracy is safe for concurrent use and
// evaluates its batch on the calling goroutine.
type MLPAccuracy struct {
	net        *mlpNet
	format     string
	path       string
	space      string // "" when unknown
	imageSizes []int  // NAS format
	kOff, eOff int
	rIndex     []int16 // input index of each resolution 0..maxResolution, -1 if unsupported
	scratch    sync.Pool
}

// LoadMLPAccuracy reads an OFA accuracy predictor checkpoint (.pth) and
// detects its format from its keys and shapes: the tutorial predictor or
// the NAS AccuracyPredictor, bare or wrapped in {"state_dict": …}.
func LoadMLPAccuracy(path string, opts MLPOptions) (*MLPAccuracy, error) {
	sd, err := supernet.LoadStateDict(path)
	if err != nil {
		return nil, fmt.Errorf("load accuracy predictor: %w", err)
	}
	p, err := newMLPAccuracy(sd, opts)
	if err != nil {
		return nil, fmt.Errorf("load accuracy predictor %s: %w", path, err)
	}
	p.path = path
	return p, nil
}

// newMLPAccuracy builds the predictor a state_dict holds: it recognises
// the format from the keys, lays out the inputs, reads and checks the
// layers, and precomputes the first layer's combined rows.
func newMLPAccuracy(sd map[string]supernet.Tensor, opts MLPOptions) (*MLPAccuracy, error) {
	p := &MLPAccuracy{}
	names, base, err := p.readFormat(sd)
	if err != nil {
		return nil, err
	}
	first := sd[names[0]]
	if len(first.Shape) != 2 {
		return nil, fmt.Errorf("tensor %s has shape %v, want [hidden, inputs]", names[0], first.Shape)
	}
	hidden, in := first.Shape[0], first.Shape[1]
	if err := p.layOutInputs(in, len(names)/2, opts); err != nil {
		return nil, err
	}
	if opts.Space != "" {
		s, err := supernet.SpaceByName(opts.Space)
		if err != nil {
			return nil, err
		}
		p.space = s.Name
	}
	if p.net, err = readMLP(sd, names, hidden, in, base); err != nil {
		return nil, err
	}
	p.net.first = p.combinedFirstLayer(in, hidden)
	p.rIndex = p.resolutionIndex()
	return p, nil
}

// readFormat recognises the predictor's format from its keys and returns
// the weight and bias names of its linear layers, in order ("" for a
// missing bias), and the NAS format's base accuracy.
func (p *MLPAccuracy) readFormat(sd map[string]supernet.Tensor) (names []string, base float32, err error) {
	switch {
	case has(sd, "0.weight"):
		p.format = FormatOFATutorial
		for i := 0; has(sd, fmt.Sprintf("%d.weight", 2*i)); i++ {
			names = append(names, fmt.Sprintf("%d.weight", 2*i), fmt.Sprintf("%d.bias", 2*i))
		}
		return names, 0, nil
	case has(sd, "layers.0.0.weight") && has(sd, "base_acc"):
		p.format = FormatOFANAS
		i := 0
		for ; has(sd, fmt.Sprintf("layers.%d.0.weight", i)); i++ {
			names = append(names, fmt.Sprintf("layers.%d.0.weight", i), fmt.Sprintf("layers.%d.0.bias", i))
		}
		names = append(names, fmt.Sprintf("layers.%d.weight", i), "")
		b, err := tensorData(sd, "base_acc", 1)
		if err != nil {
			return nil, 0, err
		}
		return names, b[0], nil
	}
	keys := make([]string, 0, len(sd))
	for k := range sd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 8 {
		keys = append(keys[:8], "…")
	}
	return nil, 0, fmt.Errorf("not an OFA MobileNetV3 accuracy predictor: its keys are %s; want the tutorial's 0.weight … 6.bias or the NAS predictor's base_acc, layers.N.0.weight", strings.Join(keys, ", "))
}

// layOutInputs checks the input width in against the format's encoding
// and sets where the kernel and expand one-hots start, and the space.
func (p *MLPAccuracy) layOutInputs(in, layers int, opts MLPOptions) error {
	if p.format == FormatOFATutorial {
		if in != 128 {
			return fmt.Errorf("tutorial predictor has %d inputs, want 128 (ks 60, e 60, r 8)", in)
		}
		p.kOff, p.eOff = 0, 60
		p.space = "ofa-mbv3-w1.2"
		if layers < 2 {
			return fmt.Errorf("tutorial predictor has %d linear layers; want at least 2", layers)
		}
		return nil
	}
	sizes := opts.ImageSizes
	if len(sizes) == 0 {
		sizes = supernet.DefaultResolutions()
		if in-120 != len(sizes) {
			return fmt.Errorf("NAS predictor has %d inputs, so its image_size_list has %d sizes: pass the list it was trained with", in, in-120)
		}
	}
	if in-120 != len(sizes) {
		return fmt.Errorf("NAS predictor has %d inputs = %d resolutions + 120, but %d image sizes were given", in, in-120, len(sizes))
	}
	for i, r := range sizes {
		if r < 32 || r > maxResolution || (i > 0 && r <= sizes[i-1]) {
			return fmt.Errorf("image sizes %v must ascend within 32..%d", sizes, maxResolution)
		}
	}
	p.imageSizes = slices.Clone(sizes)
	p.kOff, p.eOff = len(sizes), len(sizes)+60
	return nil
}

// readMLP reads the linear layers names lists (in, then hidden wide, then
// one output), checking every shape and value.
func readMLP(sd map[string]supernet.Tensor, names []string, hidden, in int, base float32) (*mlpNet, error) {
	nl := len(names) / 2
	w0, err := tensorData(sd, names[0], hidden, in)
	if err != nil {
		return nil, err
	}
	b0, err := tensorData(sd, names[1], hidden)
	if err != nil {
		return nil, err
	}
	var ws, bs [][]float32
	for l := 1; l < nl-1; l++ {
		w, err := tensorData(sd, names[2*l], hidden, hidden)
		if err != nil {
			return nil, err
		}
		b, err := tensorData(sd, names[2*l+1], hidden)
		if err != nil {
			return nil, err
		}
		ws, bs = append(ws, w), append(bs, b)
	}
	wOut, err := tensorData(sd, names[2*nl-2], 1, hidden)
	if err != nil {
		return nil, err
	}
	var bOut float32
	if bn := names[2*nl-1]; bn != "" {
		b, err := tensorData(sd, bn, 1)
		if err != nil {
			return nil, err
		}
		bOut = b[0]
	}
	return newMLPNet(in, hidden, w0, b0, ws, bs, wOut, bOut, base), nil
}

// tensorData returns the values of tensor name, which must have the given
// shape and only finite values.
func tensorData(sd map[string]supernet.Tensor, name string, shape ...int) ([]float32, error) {
	t, ok := sd[name]
	if !ok {
		return nil, fmt.Errorf("tensor %s is missing", name)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("tensor %s has shape %v, want %v", name, t.Shape, shape)
	}
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("tensor %s element %d is %v", name, i, v)
		}
	}
	return t.Data, nil
}

// combinedFirstLayer pre-adds each block's kernel and expand rows of the
// first layer, so that it sums 21 rows per subnet instead of 41: the
// combRows combined rows, then the layer's own in rows.
func (p *MLPAccuracy) combinedFirstLayer(in, hidden int) []float32 {
	table := make([]float32, (combRows+in)*hidden)
	for i := 0; i < supernet.NumBlocks; i++ {
		for ki := 0; ki < 3; ki++ {
			for ei := 0; ei < 3; ei++ {
				row := table[(9*i+3*ki+ei)*hidden : (9*i+3*ki+ei+1)*hidden]
				a := p.net.w0t[(p.kOff+3*i+ki)*hidden:]
				b := p.net.w0t[(p.eOff+3*i+ei)*hidden:]
				for j := range row {
					row[j] = a[j] + b[j]
				}
			}
		}
	}
	copy(table[combRows*hidden:], p.net.w0t)
	return table
}

// resolutionIndex maps every resolution to its input in the one-hot, -1
// where the predictor has none.
func (p *MLPAccuracy) resolutionIndex() []int16 {
	idx := make([]int16, maxResolution+1)
	for r := range idx {
		idx[r] = -1
		switch p.format {
		case FormatOFATutorial:
			if r >= 112 && r < 112+16*8 {
				idx[r] = int16(120 + (r-112)/16)
			}
		case FormatOFANAS:
			if i := slices.Index(p.imageSizes, r); i >= 0 {
				idx[r] = int16(i)
			}
		}
	}
	return idx
}

func has(sd map[string]supernet.Tensor, k string) bool { _, ok := sd[k]; return ok }

// Format returns FormatOFATutorial or FormatOFANAS.
func (p *MLPAccuracy) Format() string { return p.format }

// Source says which predictor this is, for reports.
func (p *MLPAccuracy) Source() string {
	name := "OFA tutorial MLP accuracy predictor"
	if p.format == FormatOFANAS {
		name = "OFA NAS MLP accuracy predictor"
	}
	if p.path != "" {
		name += " (" + p.path + ")"
	}
	return name
}

// SpaceName returns the space the predictor was trained for, or "" when
// the file does not say.
func (p *MLPAccuracy) SpaceName() string { return p.space }

// Resolutions returns the resolutions the predictor was trained on, which
// a search should stay within. The tutorial predictor's one-hot also has
// slots for 112..144 and it accepts every size from 112 to 239 (rounding
// down to a multiple of 16 as OFA's code does), but OFA trained it on
// 160..224 only: at 128 it rates the max subnet above its 224 score.
func (p *MLPAccuracy) Resolutions() []int {
	if p.format == FormatOFANAS {
		return slices.Clone(p.imageSizes)
	}
	return []int{160, 176, 192, 208, 224}
}

// CheckSpace returns an error if the predictor cannot score subnets of s:
// it was trained for another space, or some of s's resolutions are
// outside what it encodes.
func (p *MLPAccuracy) CheckSpace(s *supernet.Space) error {
	if p.space != "" && p.space != s.Name {
		return fmt.Errorf("accuracy predictor was trained for %s, not %s: use a predictor for %s, or give measured samples of it (--acc samples.csv)", p.space, s.Name, s.Name)
	}
	if !slices.Equal(s.KernelSizes, ofaKernels) || !slices.Equal(s.Expands, ofaExpands) {
		return fmt.Errorf("accuracy predictor encodes kernels %v and expand ratios %v; the space has %v and %v", ofaKernels, ofaExpands, s.KernelSizes, s.Expands)
	}
	var bad []string
	for _, r := range s.Resolutions {
		if r < 0 || r > maxResolution || p.rIndex[r] < 0 {
			bad = append(bad, strconv.Itoa(r))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("accuracy predictor cannot encode resolution %s (trained on %v): restrict the search's resolutions", strings.Join(bad, ", "), p.Resolutions())
	}
	return nil
}

// combRows is the number of pre-added (block, kernel, expand) rows in
// front of the first-layer table; the plain input rows follow.
const combRows = 9 * supernet.NumBlocks

// encodeComb writes the rows of the pre-added first-layer table that c
// switches on and returns their number, or -1 as encode does.
func (p *MLPAccuracy) encodeComb(c *supernet.Config, idx []int32) int {
	if uint(c.R) > maxResolution || p.rIndex[c.R] < 0 {
		return -1
	}
	n := 0
	for st := 0; st < supernet.NumStages; st++ {
		d := c.D[st]
		if uint(d) > supernet.MaxDepth {
			return -1
		}
		for j := 0; j < d; j++ {
			i := st*supernet.MaxDepth + j
			ki, ei := choice3(c.KS[i], 3, 5, 7), choice3(c.E[i], 3, 4, 6)
			if ki < 0 || ei < 0 {
				return -1
			}
			idx[n] = int32(9*i + 3*ki + ei)
			n++
		}
	}
	idx[n] = int32(combRows + int(p.rIndex[c.R]))
	return n + 1
}

// encode writes the active input indices of c into idx and returns their
// number, or -1 when c has a value the predictor cannot encode.
func (p *MLPAccuracy) encode(c *supernet.Config, idx []int32) int {
	if uint(c.R) > maxResolution || p.rIndex[c.R] < 0 {
		return -1
	}
	n := 0
	for st := 0; st < supernet.NumStages; st++ {
		d := c.D[st]
		if uint(d) > supernet.MaxDepth {
			return -1
		}
		for j := 0; j < d; j++ {
			i := st*supernet.MaxDepth + j
			ki, ei := choice3(c.KS[i], 3, 5, 7), choice3(c.E[i], 3, 4, 6)
			if ki < 0 || ei < 0 {
				return -1
			}
			idx[n] = int32(p.kOff + 3*i + ki)
			idx[n+1] = int32(p.eOff + 3*i + ei)
			n += 2
		}
	}
	idx[n] = int32(p.rIndex[c.R])
	return n + 1
}

func choice3(v, a, b, c int) int {
	switch v {
	case a:
		return 0
	case b:
		return 1
	case c:
		return 2
	}
	return -1
}

// Accuracy writes the predicted accuracy (a fraction) of cfgs[i] to
// out[i]; NaN for a config the predictor cannot encode.
func (p *MLPAccuracy) Accuracy(cfgs []supernet.Config, out []float64) {
	s, _ := p.scratch.Get().(*mlpScratch)
	if s == nil {
		s = p.net.scratch()
	}
	defer p.scratch.Put(s)
	var bad [blockRows]bool
	for start := 0; start < len(cfgs); start += blockRows {
		rows := min(blockRows, len(cfgs)-start)
		for r := 0; r < rows; r++ {
			n := p.encodeComb(&cfgs[start+r], s.idx[r*maxActive:(r+1)*maxActive])
			bad[r] = n < 0
			s.cnt[r] = max(n, 0)
		}
		p.net.forwardBlock(s, rows, out[start:start+rows])
		for r := 0; r < rows; r++ {
			if bad[r] {
				out[start+r] = math.NaN()
			}
		}
	}
}

// accuracyRef is the float64 reference for one config, for tests.
func (p *MLPAccuracy) accuracyRef(c supernet.Config) float64 {
	idx := make([]int32, maxActive)
	n := p.encode(&c, idx)
	if n < 0 {
		return math.NaN()
	}
	return p.net.forwardRef(idx[:n])
}
