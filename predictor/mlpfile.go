package predictor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/supernet"
)

// AccuracyMLPFormat identifies a saved [FittedMLPAccuracy].
const AccuracyMLPFormat = "edgefit-accuracy-mlp"

// mlpFile is the JSON form of a FittedMLPAccuracy:
//
//	{
//	  "format": "edgefit-accuracy-mlp", "version": 1,
//	  "space": "ofa-mbv3-w1.0",
//	  "source": "MLP (OFA form, 3×400) fitted on acc.csv …",
//	  "encoding": "ofa-nas",
//	  "resolutions": [160, 192, 224],
//	  "base_acc": 0.7712,
//	  "layers": [
//	    {"weight": [[…123 numbers…], …400 rows], "bias": […400…]},
//	    {"weight": [[…400…], …400 rows], "bias": […400…]},
//	    {"weight": [[…400…], …400 rows], "bias": […400…]},
//	    {"weight": [[…400…]]}
//	  ],
//	  "report": {…MLPFitReport…},
//	  "choice": {…AccuracyChoice…}
//	}
//
// The layers are OFA's AccuracyPredictor state_dict (layers.N.0.weight
// and .bias, then layers.3.weight) in PyTorch's [out][in] layout, float32
// values written so that they read back exactly; the input is encoding
// "ofa-nas" over resolutions: [r one-hot | ks 20×3 | e 20×3]. Output =
// last layer + base_acc, a fraction.
type mlpFile struct {
	Format      string          `json:"format"`
	Version     int             `json:"version"`
	Space       string          `json:"space"`
	Source      string          `json:"source"`
	Encoding    string          `json:"encoding"`
	Resolutions []int           `json:"resolutions"`
	Base        float32         `json:"base_acc"`
	Layers      []mlpLayer      `json:"layers"`
	Report      *MLPFitReport   `json:"report,omitempty"`
	Choice      *AccuracyChoice `json:"choice,omitempty"`
}

// Save writes the predictor as JSON, atomically.
func (m *FittedMLPAccuracy) Save(path string) error {
	var b bytes.Buffer
	if err := m.Write(&b); err != nil {
		return fmt.Errorf("save accuracy predictor: %w", err)
	}
	if err := atomicfile.WriteFile(path, b.Bytes()); err != nil {
		return fmt.Errorf("save accuracy predictor: %w", err)
	}
	return nil
}

// Write writes the predictor as JSON to w.
func (m *FittedMLPAccuracy) Write(w io.Writer) error {
	f := mlpFile{Format: AccuracyMLPFormat, Version: 1, Space: m.space, Source: m.source, Encoding: FormatOFANAS,
		Resolutions: m.Resolutions(), Base: m.weights.Base, Layers: m.weights.Layers, Report: m.report, Choice: m.choice}
	// Compact: indenting would put each of some 370,000 numbers on its
	// own line.
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadFittedMLPAccuracy reads a predictor written by Write or Save and
// checks it as thoroughly as an OFA checkpoint: known space, ascending
// resolutions, every layer's shape and finite weights.
func ReadFittedMLPAccuracy(r io.Reader) (*FittedMLPAccuracy, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f mlpFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if f.Format != AccuracyMLPFormat || f.Version != 1 {
		return nil, fmt.Errorf("not an edgefit MLP accuracy predictor (format %q version %d)", f.Format, f.Version)
	}
	s, err := supernet.SpaceByName(f.Space)
	if err != nil {
		return nil, err
	}
	if f.Encoding != FormatOFANAS {
		return nil, fmt.Errorf("input encoding %q: want %q (OFA's MobileNetArchEncoder)", f.Encoding, FormatOFANAS)
	}
	if len(f.Resolutions) == 0 {
		return nil, fmt.Errorf("no resolutions: the input's r one-hot needs at least one")
	}
	w := &mlpWeights{Base: f.Base, Layers: f.Layers}
	net, err := w.model(s.Name, f.Resolutions)
	if err != nil {
		return nil, err
	}
	rep := f.Report
	if f.Choice != nil && f.Choice.MLP != nil {
		rep = f.Choice.MLP
	}
	return &FittedMLPAccuracy{net: net, space: s.Name, weights: w, report: rep, choice: f.Choice, source: f.Source}, nil
}

// LoadFittedMLPAccuracy reads the predictor saved at path.
func LoadFittedMLPAccuracy(path string) (*FittedMLPAccuracy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load accuracy predictor: %w", err)
	}
	m, err := ReadFittedMLPAccuracy(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}

// LoadAccuracyJSON reads a fitted accuracy predictor, ridge or MLP, by
// the format its file names.
func LoadAccuracyJSON(path string) (AccuracyModel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load accuracy predictor: %w", err)
	}
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	switch head.Format {
	case AccuracyRidgeFormat:
		return parseRidgeAccuracy(path, data)
	case AccuracyMLPFormat:
		m, err := ReadFittedMLPAccuracy(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("load %s: format %q is not a fitted accuracy predictor: want %s or %s (from edgefit predictor fit-accuracy)",
		path, head.Format, AccuracyRidgeFormat, AccuracyMLPFormat)
}

// CheckAccuracyResolutions returns an error when m cannot score one of
// resolutions rs of s (its prediction there is NaN), naming the ones it
// can: for a search restricted to rs by the user.
func CheckAccuracyResolutions(m AccuracyModel, s *supernet.Space, rs []int) error {
	var bad []int
	out := make([]float64, 1)
	for _, r := range rs {
		m.Accuracy([]supernet.Config{s.MinConfig(r)}, out)
		if out[0] != out[0] {
			bad = append(bad, r)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	var have []int
	if rr, ok := m.(interface{ Resolutions() []int }); ok {
		have = slices.Clone(rr.Resolutions())
	}
	return fmt.Errorf("the accuracy predictor cannot score resolution %v (it knows %v): search those it knows, or fit it on samples at %v", bad, have, bad)
}
