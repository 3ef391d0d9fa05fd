package predictor

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/supernet"
)

// AccuracySample is one measured subnet.
type AccuracySample struct {
	Config   supernet.Config
	Accuracy float64 // fraction
	Line     int     // line in the CSV file
}

// AccuracySamples are the rows of an accuracy CSV.
type AccuracySamples struct {
	Samples []AccuracySample
	Percent bool // the file gave percentages (converted to fractions)
}

// ReadAccuracyCSV reads accuracy samples for space s: subnets whose
// accuracy the user measured (for example after BN recalibration on a
// held-out split, as OFA's AccuracyDataset does). The CSV has a header row
// and one subnet per row, in either of two forms:
//
//	config,accuracy
//	"{""ks"":[3,5,…],""e"":[…],""d"":[…],""r"":224}",76.4
//
//	ks,e,d,r,accuracy
//	3 5 7 3 … (20 numbers),4 6 3 … (20 numbers),2 3 4 4 2,224,76.4
//
// Columns may come in any order, and "image_size" is accepted for "r";
// any other column is an error. Lists are separated by spaces (commas and
// brackets, as in "[3, 5, 7, …]", also work when the field is quoted).
// Lines starting with # are comments. Accuracies are fractions (0..1) or
// percentages (0..100): when any value exceeds 1 the whole column is read
// as percent, and [AccuracySamples.Percent] says so. Errors name the line
// and column and say what to fix.
func ReadAccuracyCSV(s *supernet.Space, r io.Reader) (*AccuracySamples, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("accuracy CSV is empty: want a header row config,accuracy or ks,e,d,r,accuracy")
	}
	if err != nil {
		return nil, fmt.Errorf("accuracy CSV: %w", err)
	}
	hline, _ := cr.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // byte-order mark
		}
		if name == "image_size" {
			name = "r"
		}
		switch name {
		case "config", "ks", "e", "d", "r", "accuracy":
		default:
			return nil, fmt.Errorf("accuracy CSV line %d: unknown column %q: use config,accuracy or ks,e,d,r,accuracy", hline, h)
		}
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("accuracy CSV line %d: column %q appears twice", hline, name)
		}
		col[name] = i
	}
	_, hasConfig := col["config"]
	lists := 0
	for _, c := range []string{"ks", "e", "d", "r"} {
		if _, ok := col[c]; ok {
			lists++
		}
	}
	if _, ok := col["accuracy"]; !ok {
		return nil, fmt.Errorf("accuracy CSV line %d: no accuracy column", hline)
	}
	switch {
	case hasConfig && lists == 0:
	case !hasConfig && lists == 4:
	default:
		return nil, fmt.Errorf("accuracy CSV line %d: want the columns config,accuracy or ks,e,d,r,accuracy, not %s", hline, strings.Join(header, ","))
	}
	out := &AccuracySamples{}
	var raw []float64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("accuracy CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("accuracy CSV line %d: %d fields, the header has %d", line, len(rec), len(header))
		}
		var c supernet.Config
		if hasConfig {
			if err := json.Unmarshal([]byte(rec[col["config"]]), &c); err != nil {
				return nil, fmt.Errorf("accuracy CSV line %d: config: %w", line, err)
			}
		} else {
			for _, f := range []struct {
				name string
				dst  []int
			}{{"ks", c.KS[:]}, {"e", c.E[:]}, {"d", c.D[:]}} {
				if err := parseList(rec[col[f.name]], f.dst); err != nil {
					return nil, fmt.Errorf("accuracy CSV line %d: column %s: %w", line, f.name, err)
				}
			}
			rv, err := strconv.Atoi(strings.TrimSpace(rec[col["r"]]))
			if err != nil {
				return nil, fmt.Errorf("accuracy CSV line %d: column r: %q is not a whole number", line, rec[col["r"]])
			}
			c.R = rv
		}
		if err := s.ValidateAnyResolution(c); err != nil {
			return nil, fmt.Errorf("accuracy CSV line %d: not a subnet of %s: %w", line, s.Name, err)
		}
		a, err := strconv.ParseFloat(strings.TrimSpace(rec[col["accuracy"]]), 64)
		if err != nil || math.IsNaN(a) || math.IsInf(a, 0) || a < 0 || a > 100 {
			return nil, fmt.Errorf("accuracy CSV line %d: accuracy %q is not a number from 0 to 1 (fraction) or 0 to 100 (percent)", line, rec[col["accuracy"]])
		}
		raw = append(raw, a)
		out.Samples = append(out.Samples, AccuracySample{Config: c.Canonical(s), Accuracy: a, Line: line})
	}
	if len(out.Samples) == 0 {
		return nil, errors.New("accuracy CSV has a header but no samples")
	}
	if slices.Max(raw) > 1 {
		out.Percent = true
		for i := range out.Samples {
			out.Samples[i].Accuracy /= 100
		}
	}
	return out, nil
}

// parseList reads len(dst) integers separated by spaces or commas,
// optionally in brackets.
func parseList(s string, dst []int) error {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(fields) != len(dst) {
		return fmt.Errorf("%d numbers, want %d separated by spaces", len(fields), len(dst))
	}
	for i, f := range fields {
		v, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", f)
		}
		dst[i] = v
	}
	return nil
}

// LoadAccuracyCSV reads the accuracy CSV at path.
func LoadAccuracyCSV(s *supernet.Space, path string) (*AccuracySamples, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load accuracy samples: %w", err)
	}
	defer f.Close()
	a, err := ReadAccuracyCSV(s, f)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return a, nil
}

// RidgeAccuracy is an accuracy predictor fitted to a user's samples:
// ridge regression on OFA's one-hot encoding (kernel and expand ratio of
// each active block), a one-hot depth per stage, and the resolution as a
// quadratic. It is linear, so it needs far fewer samples than an MLP
// (a few hundred give useful rankings) and cannot overfit wildly, but it
// misses interactions between blocks.
type RidgeAccuracy struct {
	space  string
	coef   []float64 // ridgeFeatures, intercept last
	report *AccuracyFitReport
	source string
	choice *AccuracyChoice // set by ChooseAccuracy
}

// Feature layout of RidgeAccuracy: ks 20×3 | e 20×3 | d 5×3 | r, r² | 1.
const (
	ridgeKS        = 0
	ridgeE         = 60
	ridgeD         = 120
	ridgeR         = 135
	ridgeIntercept = 137
	ridgeFeatures  = 138
)

// AccuracyFitOptions tune [FitAccuracy].
type AccuracyFitOptions struct {
	Folds   int       // cross-validation folds (default 5)
	Lambdas []float64 // ridge penalties to choose from by CV (default 1e-4 … 10)
	Seed    uint64    // fixes the folds (default 1)

	// For [ChooseAccuracy]: the MLP to train (its Folds and Seed are
	// these), and a callback after each of its trainings.
	MLP      MLPFitOptions
	Progress func(done, total int)
}

// AccuracyFitReport describes a fitted accuracy predictor. Errors are in
// accuracy percentage points.
type AccuracyFitReport struct {
	Samples  int     `json:"samples"`
	Percent  bool    `json:"percent"` // the CSV gave percentages
	Unit     string  `json:"unit"`    // "fraction" or "percent": how the CSV was read
	Lambda   float64 `json:"lambda"`  // chosen ridge penalty
	Folds    int     `json:"folds"`
	CVRMSE   float64 `json:"cv_rmse_pct_points"`
	CVMAE    float64 `json:"cv_mae_pct_points"`
	CVRho    float64 `json:"cv_spearman"`
	TrainRMS float64 `json:"train_rmse_pct_points"`
}

// ridgeEncode writes the features of c to x (length ridgeFeatures).
func ridgeEncode(c *supernet.Config, x []float64) bool {
	clear(x)
	for st := 0; st < supernet.NumStages; st++ {
		d := c.D[st]
		di := choice3(d, 2, 3, 4)
		if di < 0 {
			return false
		}
		x[ridgeD+3*st+di] = 1
		for j := 0; j < d; j++ {
			i := st*supernet.MaxDepth + j
			ki, ei := choice3(c.KS[i], 3, 5, 7), choice3(c.E[i], 3, 4, 6)
			if ki < 0 || ei < 0 {
				return false
			}
			x[ridgeKS+3*i+ki] = 1
			x[ridgeE+3*i+ei] = 1
		}
	}
	rr := (float64(c.R) - 176) / 48
	x[ridgeR], x[ridgeR+1] = rr, rr*rr
	x[ridgeIntercept] = 1
	return true
}

// FitAccuracy fits a [RidgeAccuracy] to samples, choosing the ridge
// penalty by k-fold cross-validation and reporting the CV error.
func FitAccuracy(s *supernet.Space, a *AccuracySamples, opts AccuracyFitOptions) (*RidgeAccuracy, *AccuracyFitReport, error) {
	if opts.Folds == 0 {
		opts.Folds = 5
	}
	if len(opts.Lambdas) == 0 {
		opts.Lambdas = []float64{1e-4, 1e-3, 1e-2, 0.1, 1, 10}
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	n := len(a.Samples)
	if n < 10 {
		return nil, nil, fmt.Errorf("fit accuracy predictor: %d samples; measure at least 10 subnets (OFA's authors use 1,000 or more per resolution)", n)
	}
	x := make([][]float64, n)
	y := make([]float64, n)
	for i, smp := range a.Samples {
		x[i] = make([]float64, ridgeFeatures)
		if !ridgeEncode(&smp.Config, x[i]) {
			return nil, nil, fmt.Errorf("fit accuracy predictor: line %d: config outside the OFA choices", smp.Line)
		}
		y[i] = smp.Accuracy
	}
	k := min(opts.Folds, n)
	fold := cvFolds(n, k, opts.Seed)
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	penal := make([]bool, ridgeFeatures)
	for j := range penal {
		penal[j] = j != ridgeIntercept
	}
	fit := func(rows []int, lambda float64) ([]float64, error) {
		xs, ys, ws := make([][]float64, len(rows)), make([]float64, len(rows)), make([]float64, len(rows))
		for i, r := range rows {
			xs[i], ys[i], ws[i] = x[r], y[r], w[r]
		}
		return newLinearFit(xs, ys, ws, lambda, penal).all()
	}
	rep := &AccuracyFitReport{Samples: n, Percent: a.Percent, Unit: "fraction", Folds: k, CVRMSE: math.Inf(1)}
	if a.Percent {
		rep.Unit = "percent"
	}
	for _, lambda := range opts.Lambdas {
		pred := make([]float64, n)
		for f := 0; f < k; f++ {
			var train []int
			for i := range fold {
				if fold[i] != f {
					train = append(train, i)
				}
			}
			b, err := fit(train, lambda)
			if err != nil {
				return nil, nil, fmt.Errorf("fit accuracy predictor: %w", err)
			}
			for i := range fold {
				if fold[i] == f {
					pred[i] = dot(b, x[i])
				}
			}
		}
		var se, ae float64
		for i := range pred {
			se += (pred[i] - y[i]) * (pred[i] - y[i])
			ae += math.Abs(pred[i] - y[i])
		}
		if rmse := 100 * math.Sqrt(se/float64(n)); rmse < rep.CVRMSE {
			rep.CVRMSE, rep.CVMAE, rep.CVRho, rep.Lambda = rmse, 100*ae/float64(n), Spearman(pred, y), lambda
		}
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	b, err := fit(all, rep.Lambda)
	if err != nil {
		return nil, nil, fmt.Errorf("fit accuracy predictor: %w", err)
	}
	var se float64
	for i := range x {
		d := dot(b, x[i]) - y[i]
		se += d * d
	}
	rep.TrainRMS = 100 * math.Sqrt(se/float64(n))
	return &RidgeAccuracy{space: s.Name, coef: b, report: rep,
		source: fmt.Sprintf("ridge regression fitted on %d measured subnets (CV RMSE %.2f points)", n, rep.CVRMSE)}, rep, nil
}

// cvFolds assigns n samples to k cross-validation folds of near-equal
// size, shuffled by seed: the folds every accuracy model is scored on.
func cvFolds(n, k int, seed uint64) []int {
	fold := make([]int, n)
	for i, j := range rand.New(rand.NewPCG(seed, 0xacc)).Perm(n) {
		fold[j] = i % k
	}
	return fold
}

// FitAccuracyCSV reads the CSV at path and fits a predictor to it.
func FitAccuracyCSV(s *supernet.Space, path string, opts AccuracyFitOptions) (*RidgeAccuracy, *AccuracyFitReport, error) {
	a, err := LoadAccuracyCSV(s, path)
	if err != nil {
		return nil, nil, err
	}
	m, rep, err := FitAccuracy(s, a, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	m.source = fmt.Sprintf("ridge regression fitted on %s (%d subnets, CV RMSE %.2f points)", path, rep.Samples, rep.CVRMSE)
	return m, rep, nil
}

// Accuracy writes the predicted accuracy of cfgs[i] to out[i]; NaN for a
// config outside the OFA choices.
func (m *RidgeAccuracy) Accuracy(cfgs []supernet.Config, out []float64) {
	for i := range cfgs {
		out[i] = m.predict(&cfgs[i])
	}
}

func (m *RidgeAccuracy) predict(c *supernet.Config) float64 {
	v := m.coef[ridgeIntercept]
	for st := 0; st < supernet.NumStages; st++ {
		d := c.D[st]
		di := choice3(d, 2, 3, 4)
		if di < 0 {
			return math.NaN()
		}
		v += m.coef[ridgeD+3*st+di]
		for j := 0; j < d; j++ {
			i := st*supernet.MaxDepth + j
			ki, ei := choice3(c.KS[i], 3, 5, 7), choice3(c.E[i], 3, 4, 6)
			if ki < 0 || ei < 0 {
				return math.NaN()
			}
			v += m.coef[ridgeKS+3*i+ki] + m.coef[ridgeE+3*i+ei]
		}
	}
	rr := (float64(c.R) - 176) / 48
	return v + m.coef[ridgeR]*rr + m.coef[ridgeR+1]*rr*rr
}

// Source says where the predictions come from.
func (m *RidgeAccuracy) Source() string { return m.source }

// Report returns the fit report.
func (m *RidgeAccuracy) Report() *AccuracyFitReport { return m.report }

// SpaceName returns the space the samples came from.
func (m *RidgeAccuracy) SpaceName() string { return m.space }

// CheckSpace returns an error unless the predictor was fitted on s.
func (m *RidgeAccuracy) CheckSpace(s *supernet.Space) error {
	if s.Name != m.space {
		return fmt.Errorf("accuracy predictor was fitted on %s subnets, not %s: fit one on samples of %s", m.space, s.Name, s.Name)
	}
	return nil
}

// AccuracyRidgeFormat identifies a saved RidgeAccuracy.
const AccuracyRidgeFormat = "edgefit-accuracy-ridge"

type ridgeFile struct {
	Format  string             `json:"format"`
	Version int                `json:"version"`
	Space   string             `json:"space"`
	Source  string             `json:"source"`
	Coef    []float64          `json:"coef"`
	Report  *AccuracyFitReport `json:"report,omitempty"`
	Choice  *AccuracyChoice    `json:"choice,omitempty"`
}

// Save writes the predictor as JSON, atomically.
func (m *RidgeAccuracy) Save(path string) error {
	b, err := json.MarshalIndent(ridgeFile{AccuracyRidgeFormat, 1, m.space, m.source, m.coef, m.report, m.choice}, "", "  ")
	if err != nil {
		return fmt.Errorf("save accuracy predictor: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save accuracy predictor: %w", err)
	}
	return nil
}

// LoadRidgeAccuracy reads a predictor written by Save.
func LoadRidgeAccuracy(path string) (*RidgeAccuracy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load accuracy predictor: %w", err)
	}
	return parseRidgeAccuracy(path, data)
}

// parseRidgeAccuracy is [LoadRidgeAccuracy] on the file's contents, data;
// path names it in errors.
func parseRidgeAccuracy(path string, data []byte) (*RidgeAccuracy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f ridgeFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if f.Format != AccuracyRidgeFormat || f.Version != 1 {
		return nil, fmt.Errorf("load %s: not an edgefit accuracy predictor (format %q version %d)", path, f.Format, f.Version)
	}
	s, err := supernet.SpaceByName(f.Space)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if len(f.Coef) != ridgeFeatures {
		return nil, fmt.Errorf("load %s: %d coefficients, want %d: refit the predictor", path, len(f.Coef), ridgeFeatures)
	}
	for i, c := range f.Coef {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return nil, fmt.Errorf("load %s: coefficient %d is %v", path, i, c)
		}
	}
	return &RidgeAccuracy{space: s.Name, coef: f.Coef, report: f.Report, source: f.Source, choice: f.Choice}, nil
}
