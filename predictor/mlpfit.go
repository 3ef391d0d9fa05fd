package predictor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/edgefit/edgefit/supernet"
)

// Defaults of [MLPFitOptions]: OFA's AccuracyPredictor(encoder, 400, 3)
// trained as its authors advise in once-for-all issue #30 (Adam, learning
// rate 1e-3, weight decay 1e-4, labels as fractions, output offset by the
// mean accuracy) with the batch size of OFA's accuracy data loader.
const (
	MLPHidden      = 400
	MLPLayers      = 3
	MLPEpochs      = 150
	MLPBatchSize   = 256
	MLPLR          = 1e-3
	MLPWeightDecay = 1e-4
	// MLPMinSamples is the fewest samples [ChooseAccuracy] trains an MLP
	// on. Below it each of five folds holds out fewer than ten subnets,
	// too few for a cross-validated error that could justify a network of
	// some 370,000 weights over a ridge model of 138.
	MLPMinSamples = 50
)

// MLPFitOptions tune [FitMLPAccuracy]. Zero fields take the defaults
// above; [ChooseAccuracy] sets Folds and Seed from its own options, so
// that both models see the same folds.
//
// With OFA's weight decay and labels that are fractions, the L2 term
// outweighs the squared error by orders of magnitude and keeps the
// network smooth. On synthetic targets with 0.1 points of noise, 1,000
// to 4,000 samples, its training and held-out errors stay close, 0.15
// to 0.3 points; a WeightDecay of 1e-5 brings the held-out error to
// about 0.16 with 4,000 samples, and none at all overfits (0.003 points
// in training, 0.43 held out, on 800 samples of a linear target).
// Cross-validation judges whichever is used.
type MLPFitOptions struct {
	Hidden      int     // width of each hidden layer
	Layers      int     // hidden layers
	Epochs      int     // passes over the training samples (a fixed count, no early stopping)
	BatchSize   int     // minibatch size; the last batch of an epoch may be smaller
	LR          float64 // Adam's learning rate
	WeightDecay float64 // Adam's weight_decay (L2 added to the gradient); negative means none
	Folds       int     // cross-validation folds (default 5)
	Seed        uint64  // fixes folds, initial weights and batch order (default 1)
}

func (o MLPFitOptions) withDefaults() MLPFitOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Hidden, MLPHidden)
	def(&o.Layers, MLPLayers)
	def(&o.Epochs, MLPEpochs)
	def(&o.BatchSize, MLPBatchSize)
	def(&o.Folds, 5)
	if o.LR <= 0 {
		o.LR = MLPLR
	}
	switch {
	case o.WeightDecay == 0:
		o.WeightDecay = MLPWeightDecay
	case o.WeightDecay < 0:
		o.WeightDecay = 0
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

func (o MLPFitOptions) adam() adamConfig {
	return adamConfig{lr: o.LR, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.WeightDecay}
}

// MLPFitReport describes a trained MLP. Errors are in accuracy percentage
// points, as in [AccuracyFitReport].
type MLPFitReport struct {
	Samples     int     `json:"samples"`
	Percent     bool    `json:"percent"` // the CSV gave percentages
	Resolutions []int   `json:"resolutions"`
	Hidden      int     `json:"hidden"`
	Layers      int     `json:"hidden_layers"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"learning_rate"`
	WeightDecay float64 `json:"weight_decay"`
	Seed        uint64  `json:"seed"`
	BaseAcc     float64 `json:"base_acc"` // mean training accuracy, a fraction
	Folds       int     `json:"folds"`
	CVRMSE      float64 `json:"cv_rmse_pct_points"`
	CVMAE       float64 `json:"cv_mae_pct_points"`
	CVRho       float64 `json:"cv_spearman"`
	TrainRMS    float64 `json:"train_rmse_pct_points"`
}

// mlpSamples are accuracy samples encoded as OFA's MobileNetArchEncoder
// would: [r one-hot over the resolutions present | ks 20×3 | e 20×3].
type mlpSamples struct {
	res  []int
	in   int
	idx  [][]int32
	y    []float64
	cfgs []supernet.Config
}

// checkFitSamples returns an error for sample sets no predictor should be
// fitted to: too few, all alike, or at resolutions the space cannot search.
func checkFitSamples(s *supernet.Space, a *AccuracySamples, least int) error {
	n := len(a.Samples)
	if n < least {
		return fmt.Errorf("%d samples; measure at least %d subnets (OFA's authors use 1,000 or more per resolution)", n, least)
	}
	lo, hi := a.Samples[0].Accuracy, a.Samples[0].Accuracy
	for _, smp := range a.Samples {
		lo, hi = min(lo, smp.Accuracy), max(hi, smp.Accuracy)
		if !slices.Contains(s.Resolutions, smp.Config.R) {
			return fmt.Errorf("line %d: resolution %d is not one of %s's searchable resolutions %s: measure at those, or drop the row", smp.Line, smp.Config.R, s.Name, intRange(s.Resolutions))
		}
	}
	if hi == lo {
		return fmt.Errorf("all %d samples have accuracy %g: there is nothing to fit; check that the accuracy column holds each subnet's own measurement", n, lo)
	}
	return nil
}

// intRange formats an ascending list briefly: 128..224 step 4, or the list.
func intRange(v []int) string {
	if len(v) > 3 {
		step := v[1] - v[0]
		even := true
		for i := 2; i < len(v); i++ {
			even = even && v[i]-v[i-1] == step
		}
		if even {
			return fmt.Sprintf("%d..%d step %d", v[0], v[len(v)-1], step)
		}
	}
	return fmt.Sprint(v)
}

func encodeMLPSamples(a *AccuracySamples) (*mlpSamples, error) {
	d := &mlpSamples{}
	for _, smp := range a.Samples {
		if !slices.Contains(d.res, smp.Config.R) {
			d.res = append(d.res, smp.Config.R)
		}
	}
	slices.Sort(d.res)
	d.in = len(d.res) + 120
	enc := nasEncoder(d.res)
	for _, smp := range a.Samples {
		idx := make([]int32, maxActive)
		n := enc.encode(&smp.Config, idx)
		if n < 0 {
			return nil, fmt.Errorf("line %d: config outside the OFA choices", smp.Line)
		}
		d.idx = append(d.idx, idx[:n:n])
		d.y = append(d.y, smp.Accuracy)
		d.cfgs = append(d.cfgs, smp.Config)
	}
	return d, nil
}

// nasEncoder returns a model that can only encode: the NAS input layout
// over resolutions rs.
func nasEncoder(rs []int) *MLPAccuracy {
	p := &MLPAccuracy{kOff: len(rs), eOff: len(rs) + 60, rIndex: make([]int16, maxResolution+1)}
	for r := range p.rIndex {
		p.rIndex[r] = int16(slices.Index(rs, r))
	}
	return p
}

// trainMLP trains a network on rows of d and returns its weights.
func trainMLP(ctx context.Context, d *mlpSamples, rows []int, o MLPFitOptions, seed uint64) (*mlpWeights, error) {
	var base float64
	for _, r := range rows {
		base += d.y[r]
	}
	base /= float64(len(rows))
	batch := min(o.BatchSize, len(rows))
	t := newMLPTrainer[float32](d.in, o.Hidden, o.Layers, batch)
	t.base = float32(base)
	rng := rand.New(rand.NewPCG(seed, 0x6d6c70))
	t.init(rng)
	idx := make([][]int32, 0, batch)
	target := make([]float32, 0, batch)
	order := slices.Clone(rows)
	adam := o.adam()
	for range o.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("train accuracy MLP: %w", err)
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += batch {
			idx, target = idx[:0], target[:0]
			for _, r := range order[start:min(start+batch, len(order))] {
				idx = append(idx, d.idx[r])
				target = append(target, float32(d.y[r]))
			}
			t.forward(idx)
			t.backward(idx, target)
			t.adam(adam)
		}
	}
	return t.weights(), nil
}

// mlpWeights are a trained network in PyTorch's layout: each linear
// layer's weight [out][in] and bias, the output layer without bias, and
// OFA's base_acc.
type mlpWeights struct {
	Base   float32    `json:"base_acc"`
	Layers []mlpLayer `json:"layers"`
}

type mlpLayer struct {
	Weight [][]float32 `json:"weight"`
	Bias   []float32   `json:"bias,omitempty"`
}

func (t *mlpTrainer[T]) weights() *mlpWeights {
	rows := func(flat []float32, out, in int) [][]float32 {
		m := make([][]float32, out)
		for j := range m {
			m[j] = flat[j*in : (j+1)*in : (j+1)*in]
		}
		return m
	}
	h := t.hidden
	w0 := make([]float32, h*t.in)
	for i := 0; i < t.in; i++ {
		for j := 0; j < h; j++ {
			w0[j*t.in+i] = float32(t.w0t[i*h+j])
		}
	}
	w := &mlpWeights{Base: float32(t.base), Layers: []mlpLayer{{rows(w0, h, t.in), float32Of(t.b0)}}}
	for l := range t.w {
		w.Layers = append(w.Layers, mlpLayer{rows(float32Of(t.w[l]), h, h), float32Of(t.b[l])})
	}
	w.Layers = append(w.Layers, mlpLayer{Weight: rows(float32Of(t.wOut), 1, h)})
	return w
}

// model builds the inference model of w: the NAS AccuracyPredictor
// evaluated by the same code as OFA's .pth files.
func (w *mlpWeights) model(space string, rs []int) (*MLPAccuracy, error) {
	if len(w.Layers) < 2 {
		return nil, fmt.Errorf("%d layers; want at least 2 (a hidden layer and the output)", len(w.Layers))
	}
	if math.IsNaN(float64(w.Base)) || math.IsInf(float64(w.Base), 0) {
		return nil, fmt.Errorf("base_acc is %v", w.Base)
	}
	sd := map[string]supernet.Tensor{"base_acc": {Shape: []int{1}, Data: []float32{w.Base}}}
	for l, layer := range w.Layers {
		if len(layer.Weight) == 0 {
			return nil, fmt.Errorf("layer %d has no weights", l)
		}
		cols := len(layer.Weight[0])
		flat := make([]float32, 0, len(layer.Weight)*cols)
		for j, row := range layer.Weight {
			if len(row) != cols {
				return nil, fmt.Errorf("layer %d: weight row %d has %d columns, row 0 has %d", l, j, len(row), cols)
			}
			flat = append(flat, row...)
		}
		shape := []int{len(layer.Weight), cols}
		if l == len(w.Layers)-1 {
			if layer.Bias != nil {
				return nil, fmt.Errorf("output layer %d has a bias; OFA's NAS predictor has none (its base_acc takes that role)", l)
			}
			sd[fmt.Sprintf("layers.%d.weight", l)] = supernet.Tensor{Shape: shape, Data: flat}
			continue
		}
		sd[fmt.Sprintf("layers.%d.0.weight", l)] = supernet.Tensor{Shape: shape, Data: flat}
		sd[fmt.Sprintf("layers.%d.0.bias", l)] = supernet.Tensor{Shape: []int{len(layer.Bias)}, Data: layer.Bias}
	}
	return newMLPAccuracy(sd, MLPOptions{ImageSizes: rs, Space: space})
}

// FitMLPAccuracy trains OFA's NAS accuracy predictor on samples of space
// s, reports its k-fold cross-validated error and returns the network
// trained on all of them.
//
// The input is OFA's MobileNetArchEncoder encoding, [r one-hot over the
// resolutions in the samples | ks 20×3 | e 20×3] with inactive blocks
// zero; the network is Layers hidden ReLU layers of Hidden units and a
// linear output without bias, plus base_acc, the mean training accuracy
// (labels are fractions). Weights start as PyTorch's nn.Linear draws
// them (U(±1/√fan_in)) from a seeded generator. Training minimizes the
// mean squared error with torch.optim.Adam (β 0.9/0.999, ε 1e-8,
// weight_decay as L2 on the gradient) over shuffled minibatches for a
// fixed number of epochs, in float32. The result depends only on the
// samples and options: folds train in parallel, each on one goroutine.
func FitMLPAccuracy(ctx context.Context, s *supernet.Space, a *AccuracySamples, opts MLPFitOptions) (*FittedMLPAccuracy, *MLPFitReport, error) {
	if err := checkFitSamples(s, a, 10); err != nil {
		return nil, nil, fmt.Errorf("fit MLP accuracy predictor: %w", err)
	}
	m, rep, err := fitMLP(ctx, s, a, opts.withDefaults(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fit MLP accuracy predictor: %w", err)
	}
	return m, rep, nil
}

// fitMLP is FitMLPAccuracy on samples that have passed checkFitSamples
// (FitMLPAccuracy and chooseAccuracy check them first).
func fitMLP(ctx context.Context, s *supernet.Space, a *AccuracySamples, o MLPFitOptions, progress func(done, total int)) (*FittedMLPAccuracy, *MLPFitReport, error) {
	if o.Hidden%panel != 0 {
		return nil, nil, fmt.Errorf("hidden width %d: use a multiple of %d", o.Hidden, panel)
	}
	if !slices.Equal(s.KernelSizes, ofaKernels) || !slices.Equal(s.Expands, ofaExpands) {
		return nil, nil, fmt.Errorf("OFA's encoder needs kernels %v and expand ratios %v; %s has %v and %v", ofaKernels, ofaExpands, s.Name, s.KernelSizes, s.Expands)
	}
	d, err := encodeMLPSamples(a)
	if err != nil {
		return nil, nil, err
	}
	n := len(d.y)
	k := min(o.Folds, n)
	fold := cvFolds(n, k, o.Seed)
	// Jobs 0..k-1 leave fold f out; job k trains on everything.
	jobs := make([][]int, k+1)
	for i, f := range fold {
		jobs[f] = append(jobs[f], i)
	}
	for f := range k {
		held := jobs[f]
		train := make([]int, 0, n-len(held))
		for i := range n {
			if fold[i] != f {
				train = append(train, i)
			}
		}
		jobs[f] = train
	}
	jobs[k] = make([]int, n)
	for i := range jobs[k] {
		jobs[k][i] = i
	}
	weights := make([]*mlpWeights, k+1)
	errs := make([]error, k+1)
	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), k+1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				// Every job has its own seed, so that the folds' networks
				// are not the same draw and the result does not depend on
				// which goroutine ran which job.
				weights[j], errs[j] = trainMLP(ctx, d, jobs[j], o, o.Seed+uint64(j)*0x9e3779b97f4a7c15)
				mu.Lock()
				done++
				if progress != nil {
					progress(done, k+1)
				}
				mu.Unlock()
			}
		}()
	}
	for j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	pred := make([]float64, n)
	for f := range k {
		m, err := weights[f].model(s.Name, d.res)
		if err != nil {
			return nil, nil, err
		}
		var cfgs []supernet.Config
		var at []int
		for i := range fold {
			if fold[i] == f {
				cfgs, at = append(cfgs, d.cfgs[i]), append(at, i)
			}
		}
		out := make([]float64, len(cfgs))
		m.Accuracy(cfgs, out)
		for i, v := range out {
			pred[at[i]] = v
		}
	}
	net, err := weights[k].model(s.Name, d.res)
	if err != nil {
		return nil, nil, err
	}
	rep := &MLPFitReport{Samples: n, Percent: a.Percent, Resolutions: d.res, Hidden: o.Hidden, Layers: o.Layers,
		Epochs: o.Epochs, BatchSize: o.BatchSize, LR: o.LR, WeightDecay: o.WeightDecay, Seed: o.Seed,
		BaseAcc: float64(weights[k].Base), Folds: k}
	rep.CVRMSE, rep.CVMAE = errorPoints(pred, d.y)
	rep.CVRho = Spearman(pred, d.y)
	fit := make([]float64, n)
	net.Accuracy(d.cfgs, fit)
	rep.TrainRMS, _ = errorPoints(fit, d.y)
	m := &FittedMLPAccuracy{net: net, space: s.Name, weights: weights[k], report: rep,
		source: fmt.Sprintf("MLP (OFA form, %d×%d) fitted on %d measured subnets (CV RMSE %.2f points)", o.Layers, o.Hidden, n, rep.CVRMSE)}
	return m, rep, nil
}

// errorPoints returns the RMSE and the mean absolute error of pred
// against y (fractions) in percentage points.
func errorPoints(pred, y []float64) (rmse, mae float64) {
	var se, ae float64
	for i := range pred {
		d := pred[i] - y[i]
		se += d * d
		ae += math.Abs(d)
	}
	n := float64(len(pred))
	return 100 * math.Sqrt(se/n), 100 * ae / n
}

// FittedMLPAccuracy is an MLP accuracy predictor trained in Go on a
// user's samples ([FitMLPAccuracy]) in the layout of OFA's NAS
// AccuracyPredictor, evaluated by [MLPAccuracy]'s code. It implements
// [AccuracyModel]; Accuracy is NaN at resolutions it was not trained on.
type FittedMLPAccuracy struct {
	net     *MLPAccuracy
	space   string
	weights *mlpWeights
	report  *MLPFitReport
	choice  *AccuracyChoice
	source  string
}

// Accuracy writes the predicted accuracy (a fraction) of cfgs[i] to
// out[i].
func (m *FittedMLPAccuracy) Accuracy(cfgs []supernet.Config, out []float64) {
	m.net.Accuracy(cfgs, out)
}

// Source says what the predictor is and, after [ChooseAccuracy], why it
// was chosen.
func (m *FittedMLPAccuracy) Source() string { return m.source }

// Report returns the fit report.
func (m *FittedMLPAccuracy) Report() *MLPFitReport { return m.report }

// SpaceName returns the space the samples came from.
func (m *FittedMLPAccuracy) SpaceName() string { return m.space }

// Resolutions returns the resolutions the predictor was trained on; a
// search keeps to them (see [Scorer.Resolutions]).
func (m *FittedMLPAccuracy) Resolutions() []int { return m.net.Resolutions() }

// CheckSpace returns an error unless the predictor was fitted on s and
// can score at least one of its resolutions. Unlike [MLPAccuracy] it does
// not need all of them: a search keeps to the trained ones.
func (m *FittedMLPAccuracy) CheckSpace(s *supernet.Space) error {
	if s.Name != m.space {
		return fmt.Errorf("accuracy predictor was fitted on %s subnets, not %s: fit one on samples of %s", m.space, s.Name, s.Name)
	}
	rs := m.Resolutions()
	if !slices.ContainsFunc(s.Resolutions, func(r int) bool { return slices.Contains(rs, r) }) {
		return fmt.Errorf("accuracy predictor was trained at resolutions %v, none of which the search may use (%s): fit it on samples at the search's resolutions", rs, intRange(s.Resolutions))
	}
	return nil
}

// AccuracyChoice reports how [ChooseAccuracy] picked between the ridge
// model and the MLP: both fits, scored on the same cross-validation
// folds.
type AccuracyChoice struct {
	Chosen     string             `json:"chosen"` // "ridge" or "mlp"
	Reason     string             `json:"reason"`
	Ridge      *AccuracyFitReport `json:"ridge"`
	MLP        *MLPFitReport      `json:"mlp,omitempty"`
	MLPSkipped string             `json:"mlp_skipped,omitempty"` // why no MLP was trained
}

// Chosen models.
const (
	ChoiceRidge = "ridge"
	ChoiceMLP   = "mlp"
)

// ChooseAccuracy fits both of edgefit's accuracy models to samples of s,
// the ridge model of [FitAccuracy] and OFA's MLP of [FitMLPAccuracy]
// (opts.MLP), on the same k folds, and returns the one with the lower
// cross-validated RMSE; a tie goes to the ridge model. Below
// [MLPMinSamples] samples only the ridge model is fitted and the choice
// says so. The model's Source and the returned [AccuracyChoice] give
// both errors.
func ChooseAccuracy(ctx context.Context, s *supernet.Space, a *AccuracySamples, opts AccuracyFitOptions) (AccuracyModel, *AccuracyChoice, error) {
	return chooseAccuracy(ctx, s, a, opts, fmt.Sprintf("%d measured subnets", len(a.Samples)))
}

// chooseAccuracy is ChooseAccuracy with the samples' description for
// the model's Source.
func chooseAccuracy(ctx context.Context, s *supernet.Space, a *AccuracySamples, opts AccuracyFitOptions, from string) (AccuracyModel, *AccuracyChoice, error) {
	if opts.Folds == 0 {
		opts.Folds = 5
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if err := checkFitSamples(s, a, 10); err != nil {
		return nil, nil, fmt.Errorf("fit accuracy predictor: %w", err)
	}
	ridge, rr, err := FitAccuracy(s, a, opts)
	if err != nil {
		return nil, nil, err
	}
	ch := &AccuracyChoice{Chosen: ChoiceRidge, Ridge: rr}
	if n := len(a.Samples); n < MLPMinSamples {
		ch.MLPSkipped = fmt.Sprintf("%d samples, fewer than the %d an MLP needs", n, MLPMinSamples)
		ch.Reason = "ridge: no MLP trained (" + ch.MLPSkipped + ")"
		ridge.source = fmt.Sprintf("ridge regression fitted on %s, CV RMSE %s points; no MLP trained: %s", from, fmtPoints(rr.CVRMSE), ch.MLPSkipped)
		ridge.choice = ch
		return ridge, ch, nil
	}
	mo := opts.MLP
	mo.Folds, mo.Seed = opts.Folds, opts.Seed
	mlp, mr, err := fitMLP(ctx, s, a, mo.withDefaults(), opts.Progress)
	if err != nil {
		return nil, nil, fmt.Errorf("fit MLP accuracy predictor: %w", err)
	}
	ch.MLP = mr
	vs := fmt.Sprintf("CV RMSE %s points vs %s", fmtPoints(mr.CVRMSE), fmtPoints(rr.CVRMSE))
	if mr.CVRMSE < rr.CVRMSE {
		ch.Chosen = ChoiceMLP
		ch.Reason = "mlp: " + vs + " for ridge"
		mlp.source = fmt.Sprintf("MLP (OFA form, %d×%d) fitted on %s, CV RMSE %s points vs ridge %s: chosen",
			mr.Layers, mr.Hidden, from, fmtPoints(mr.CVRMSE), fmtPoints(rr.CVRMSE))
		mlp.choice = ch
		return mlp, ch, nil
	}
	ch.Reason = fmt.Sprintf("ridge: CV RMSE %s points vs %s for the MLP", fmtPoints(rr.CVRMSE), fmtPoints(mr.CVRMSE))
	ridge.source = fmt.Sprintf("ridge regression fitted on %s, CV RMSE %s points vs MLP (OFA form) %s: chosen",
		from, fmtPoints(rr.CVRMSE), fmtPoints(mr.CVRMSE))
	ridge.choice = ch
	return ridge, ch, nil
}

// fmtPoints formats an error in percentage points with two decimals,
// or three below 0.1.
func fmtPoints(v float64) string {
	if v < 0.1 {
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// ChooseAccuracyCSV reads the accuracy CSV at path and runs
// [ChooseAccuracy] on it; the model's Source names the file.
func ChooseAccuracyCSV(ctx context.Context, s *supernet.Space, path string, opts AccuracyFitOptions) (AccuracyModel, *AccuracyChoice, error) {
	a, err := LoadAccuracyCSV(s, path)
	if err != nil {
		return nil, nil, err
	}
	m, ch, err := chooseAccuracy(ctx, s, a, opts, fmt.Sprintf("%s (%d subnets)", path, len(a.Samples)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, ch, nil
}

// FitChoice returns how a model from [ChooseAccuracy] was chosen, or nil
// for any other model (one loaded from a file keeps its choice).
func FitChoice(m AccuracyModel) *AccuracyChoice {
	switch m := m.(type) {
	case *RidgeAccuracy:
		return m.choice
	case *FittedMLPAccuracy:
		return m.choice
	}
	return nil
}

// WriteText prints both fits and the choice for people.
func (c *AccuracyChoice) WriteText(w io.Writer) error {
	var b strings.Builder
	r := c.Ridge
	fmt.Fprintf(&b, "accuracy predictors fitted on %d measured subnets (%s in the CSV), scored on the same %d cross-validation folds:\n", r.Samples, r.Unit, r.Folds)
	fmt.Fprintf(&b, "  ridge  CV RMSE %s points, MAE %s, Spearman %s; train RMSE %s (penalty %g)\n",
		fmtPoints(r.CVRMSE), fmtPoints(r.CVMAE), FormatSpearman(r.CVRho), fmtPoints(r.TrainRMS), r.Lambda)
	if m := c.MLP; m != nil {
		fmt.Fprintf(&b, "  MLP    CV RMSE %s points, MAE %s, Spearman %s; train RMSE %s (OFA form %d×%d, r one-hot %v, %d epochs, batch %d)\n",
			fmtPoints(m.CVRMSE), fmtPoints(m.CVMAE), FormatSpearman(m.CVRho), fmtPoints(m.TrainRMS), m.Layers, m.Hidden, m.Resolutions, m.Epochs, m.BatchSize)
	} else {
		fmt.Fprintf(&b, "  MLP    not trained: %s\n", c.MLPSkipped)
	}
	fmt.Fprintf(&b, "chosen: %s\n", c.Reason)
	_, err := io.WriteString(w, b.String())
	return err
}
