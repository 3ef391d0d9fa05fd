package predictor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
)

// LatencyFormat and LatencyVersion identify a saved latency predictor.
const (
	LatencyFormat  = "edgefit-latency-predictor"
	LatencyVersion = 2 // 1: the keys before edgefit's one JSON schema (ms, b, within5), still read
)

// maxChoices bounds the kernel and expand choices per block the tables
// hold (OFA MobileNetV3 has 3 of each).
const maxChoices = 4

// maxResolution is the largest input size the predictor answers for.
const maxResolution = 1024

// LatencyPredictor predicts subnet latency on one device from a lookup
// table: the sum of the latencies of the subnet's layers (what OFA does),
// where layers the table lacks come from per-kind regression models, and
// optionally a calibration a·Σ + b fitted on whole measured subnets.
//
// Prediction costs a table look-up per active block: the per-layer sums are
// precomputed per resolution as integer-indexed arrays, so LatencyMS builds
// no strings and consults no maps. A LatencyPredictor is safe for
// concurrent use.
type LatencyPredictor struct {
	space  *supernet.Space
	meta   latencyMeta
	layers *layerModel
	calib  *Calibration
	report *FitReport

	kIdx, eIdx [16]int8 // choice value -> index, -1 when not a choice

	tables []atomic.Pointer[resTable] // by resolution; built on first use
	mu     sync.Mutex                 // serializes table building
}

// resTable holds, for one resolution, the latency of the fixed layers and
// of each elastic block at each kernel and expand choice.
type resTable struct {
	fixed  float64
	blocks [supernet.NumBlocks][maxChoices][maxChoices]float64
	// modelled counts the block/fixed entries that came from the
	// regression rather than the table, for reports.
	modelled int
}

// latencyMeta is what a predictor records about where it came from.
type latencyMeta struct {
	Space          string      `json:"space"`     // the space it predicts for
	LUTSpace       string      `json:"lut_space"` // the space the table was measured for
	Target         string      `json:"target"`
	Runtime        lut.Runtime `json:"runtime"`
	Statistic      string      `json:"statistic"`
	LUTSource      string      `json:"lut_source,omitempty"`
	LUTResolutions []int       `json:"lut_resolutions"` // resolutions the table measured
	Resolutions    []int       `json:"resolutions"`     // resolutions prebuilt at load
	FamilyCorr     bool        `json:"family_correction"`
	Lambda         float64     `json:"lambda"`
}

// Calibration maps the layer sum Σ of a subnet to its end-to-end latency:
// A·Σ + B. It accounts for what per-layer measurements miss (graph
// start-up, memory effects between layers, fusion across layer borders).
type Calibration struct {
	A        float64 `json:"a"`
	B        float64 `json:"b_ms"`     // milliseconds ("b" in version 1 files)
	Networks int     `json:"networks"` // measured subnets it was fitted on
}

// UnmarshalJSON reads the calibration, under version 1's key "b" too.
func (c *Calibration) UnmarshalJSON(b []byte) error {
	type plain Calibration
	var p struct {
		plain
		OldB json.RawMessage `json:"b"` // version 1's name of b_ms, read only
	}
	err := decodeCalibration(b, &p, &p.OldB, &p.B)
	*c = Calibration(p.plain)
	return err
}

// decodeCalibration decodes b into v, a struct embedding a calibration or
// its report beside version 1's key "b" (*old; the intercept, b_ms since),
// refusing unknown keys. A value under "b" then replaces b_ms.
func decodeCalibration(b []byte, v any, old *json.RawMessage, bMS *float64) error {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] != '{' && t[0] != 'n' {
		// Neither an object nor null: the unprefixed error a map of
		// keys gives, as this has always answered.
		return json.Unmarshal(b, new(map[string]json.RawMessage))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// Name a bad field as it is in the calibration itself, not by
		// its path through the unnamed struct around it.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if f, ok := strings.CutPrefix(te.Field, "plain."); ok {
				te.Field = f
				if te.Struct == "" {
					te.Struct = "plain"
				}
			}
		}
		return fmt.Errorf("calibration: %w", err)
	}
	if *old != nil {
		return json.Unmarshal(*old, bMS)
	}
	return nil
}

// FitOptions tune [Fit]. The zero value is ready to use.
type FitOptions struct {
	// Space is the space to predict for; empty means the table's. A
	// table of one width (w1.0) can thus predict the other (w1.2): every
	// layer then comes from the regression models.
	Space string
	// Resolutions to precompute; empty means the space's resolutions and
	// the table's. Others are computed on first use.
	Resolutions []int
	// Lambda is the ridge penalty on standardized features (default 1e-4).
	Lambda float64
	// Folds for the per-kind cross-validation (default 5).
	Folds int
	// NoFamilyCorrection turns off the correction of regression
	// predictions by the residuals of the same layer family measured at
	// other input sizes.
	NoFamilyCorrection bool
	// MinNetworks is the number of measured subnets needed before a
	// calibration is fitted (default 10).
	MinNetworks int
	// Holdout is the share of measured subnets held out to judge the
	// calibration (default 0.3).
	Holdout float64
	// HoldoutSubnets is the number of random subnets per held-out
	// resolution in the resolution cross-validation (default 200).
	HoldoutSubnets int
	// Seed fixes the random splits (default 1).
	Seed uint64
}

func (o *FitOptions) defaults() {
	if o.Lambda == 0 {
		o.Lambda = 1e-4
	}
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.MinNetworks == 0 {
		o.MinNetworks = 10
	}
	if o.Holdout == 0 {
		o.Holdout = 0.3
	}
	if o.HoldoutSubnets == 0 {
		o.HoldoutSubnets = 200
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// FitReport tells how well the predictor fits its data.
type FitReport struct {
	Space          string       `json:"space"`
	LUTSpace       string       `json:"lut_space"`
	Target         string       `json:"target"`
	Entries        int          `json:"entries"`         // measured layers used
	LUTResolutions []int        `json:"lut_resolutions"` // measured
	Resolutions    []int        `json:"resolutions"`     // precomputed
	Kinds          []KindReport `json:"kinds"`
	// ResolutionHoldout refits without each measured resolution in turn
	// (when there are at least three) and predicts that resolution's
	// layers and the layer sums of random subnets there: how well the
	// predictor generalizes to resolutions the table lacks.
	ResolutionHoldout []ResolutionHoldout `json:"resolution_holdout,omitempty"`
	Calibration       *CalibrationReport  `json:"calibration,omitempty"`
	// Networks compares the final predictor with every measured subnet
	// (in-sample when those subnets calibrated it).
	Networks *Metrics `json:"networks,omitempty"`
}

// ResolutionHoldout is the accuracy at a resolution left out of the fit.
type ResolutionHoldout struct {
	R       int     `json:"r"`
	Layers  Metrics `json:"layers"`            // the resolution's measured layers
	Subnets Metrics `json:"subnets,omitempty"` // layer sums of random subnets
}

// CalibrationReport describes the network-level calibration.
type CalibrationReport struct {
	Networks int     `json:"networks"` // measured subnets available
	Used     bool    `json:"used"`
	Reason   string  `json:"reason"`
	Train    int     `json:"train,omitempty"`
	Holdout  int     `json:"holdout,omitempty"`
	A        float64 `json:"a,omitempty"`
	B        float64 `json:"b_ms,omitempty"`
	// Raw and Calibrated compare the held-out subnets with the plain
	// layer sum and with the calibration fitted on the others.
	Raw        *Metrics `json:"raw,omitempty"`
	Calibrated *Metrics `json:"calibrated,omitempty"`
}

// UnmarshalJSON reads the report, under version 1's key "b" too.
func (c *CalibrationReport) UnmarshalJSON(b []byte) error {
	type plain CalibrationReport
	var p struct {
		plain
		OldB json.RawMessage `json:"b"` // version 1's name of b_ms, read only
	}
	err := decodeCalibration(b, &p, &p.OldB, &p.B)
	*c = CalibrationReport(p.plain)
	return err
}

// Fit builds a latency predictor from a lookup table and reports how well
// it fits. The table is validated first.
func Fit(tbl *lut.LUT, opts FitOptions) (*LatencyPredictor, *FitReport, error) {
	opts.defaults()
	if err := tbl.Validate(); err != nil {
		return nil, nil, fmt.Errorf("fit latency predictor: %w", err)
	}
	lutSpace, err := tbl.SpaceOf()
	if err != nil {
		return nil, nil, err
	}
	space := lutSpace
	if opts.Space != "" {
		if space, err = supernet.SpaceByName(opts.Space); err != nil {
			return nil, nil, fmt.Errorf("fit latency predictor: %w", err)
		}
	}
	samples, err := samplesOf(tbl)
	if err != nil {
		return nil, nil, err
	}
	fp := fitParams{lambda: opts.Lambda, useFamily: !opts.NoFamilyCorrection}
	lm, err := fitLayerModel(samples, fp)
	if err != nil {
		return nil, nil, fmt.Errorf("fit latency predictor: %w", err)
	}
	rs := opts.Resolutions
	if len(rs) == 0 {
		rs = append(slices.Clone(space.Resolutions), tbl.Resolutions()...)
	}
	slices.Sort(rs)
	rs = slices.Compact(rs)
	meta := latencyMeta{Space: space.Name, LUTSpace: tbl.Space, Target: tbl.Target, Runtime: tbl.Runtime, Statistic: tbl.Stat,
		LUTSource: tbl.Source, LUTResolutions: tbl.Resolutions(), Resolutions: rs, FamilyCorr: fp.useFamily, Lambda: fp.lambda}
	p, err := newLatencyPredictor(space, meta, lm, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fit latency predictor: %w", err)
	}
	rep := &FitReport{Space: space.Name, LUTSpace: tbl.Space, Target: tbl.Target, Entries: len(samples),
		LUTResolutions: meta.LUTResolutions, Resolutions: rs}
	if rep.Kinds, err = kindReports(samples, fp, opts.Folds, opts.Seed); err != nil {
		return nil, nil, err
	}
	if space.Name == tbl.Space {
		if rep.ResolutionHoldout, err = resolutionHoldout(tbl, space, samples, fp, opts); err != nil {
			return nil, nil, err
		}
	}
	// Calibration on whole measured subnets of the space predicted for.
	var nets []lut.NetworkMeasurement
	if space.Name == tbl.Space {
		nets = tbl.Networks
	}
	truth := make([]float64, len(nets))
	for i := range nets {
		truth[i] = tbl.NetworkLatency(&nets[i])
	}
	rep.Calibration = p.calibrate(nets, truth, opts)
	if len(nets) > 0 {
		pred := make([]float64, len(nets))
		for i := range nets {
			pred[i] = p.LatencyMS(nets[i].Config)
		}
		m := Compare(pred, truth)
		rep.Networks = &m
	}
	p.report = rep
	return p, rep, nil
}

func newLatencyPredictor(space *supernet.Space, meta latencyMeta, lm *layerModel, cal *Calibration) (*LatencyPredictor, error) {
	if len(space.KernelSizes) > maxChoices || len(space.Expands) > maxChoices {
		return nil, fmt.Errorf("space %s has more than %d kernel or expand choices", space.Name, maxChoices)
	}
	p := &LatencyPredictor{space: space, meta: meta, layers: lm, calib: cal,
		tables: make([]atomic.Pointer[resTable], maxResolution+1)}
	for i := range p.kIdx {
		p.kIdx[i], p.eIdx[i] = -1, -1
	}
	for i, k := range space.KernelSizes {
		if k >= len(p.kIdx) {
			return nil, fmt.Errorf("kernel size %d is too large", k)
		}
		p.kIdx[k] = int8(i)
	}
	for i, e := range space.Expands {
		if e >= len(p.eIdx) {
			return nil, fmt.Errorf("expand ratio %d is too large", e)
		}
		p.eIdx[e] = int8(i)
	}
	for _, r := range meta.Resolutions {
		if _, err := p.table(r); err != nil {
			return nil, fmt.Errorf("resolution %d: %w", r, err)
		}
	}
	return p, nil
}

// table returns the precomputed sums for resolution r, building them on
// first use.
func (p *LatencyPredictor) table(r int) (*resTable, error) {
	if r < 32 || r > maxResolution {
		return nil, fmt.Errorf("resolution %d is outside 32..%d", r, maxResolution)
	}
	if t := p.tables[r].Load(); t != nil {
		return t, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.tables[r].Load(); t != nil {
		return t, nil
	}
	t, err := buildTable(p.space, p.layers, r)
	if err != nil {
		return nil, err
	}
	p.tables[r].Store(t)
	return t, nil
}

func buildTable(s *supernet.Space, lm *layerModel, r int) (*resTable, error) {
	t := &resTable{}
	buf := make([]float64, 16)
	var layers []supernet.Layer
	layers = s.Layers(s.MinConfig(r), layers)
	for _, l := range layers {
		if l.Kind == supernet.KindBlock && l.Block >= 0 {
			continue
		}
		v, src, err := lm.latency(l, r, buf)
		if err != nil {
			return nil, err
		}
		t.fixed += v
		if src == srcModel {
			t.modelled++
		}
	}
	for ki, k := range s.KernelSizes {
		for ei, e := range s.Expands {
			c := s.MaxConfig(r)
			for i := range supernet.NumBlocks {
				c.KS[i], c.E[i] = k, e
			}
			layers = s.Layers(c, layers)
			for _, l := range layers {
				if l.Block < 0 {
					continue
				}
				v, src, err := lm.latency(l, r, buf)
				if err != nil {
					return nil, err
				}
				t.blocks[l.Block][ki][ei] = v
				if src == srcModel {
					t.modelled++
				}
			}
		}
	}
	return t, nil
}

// SumMS returns the sum of the layer latencies of c, without calibration:
// what OFA's lookup-table estimator computes. It returns NaN for a config
// outside the space (unknown kernel, expand ratio or depth, or a
// resolution outside 32..1024).
func (p *LatencyPredictor) SumMS(c supernet.Config) float64 {
	if uint(c.R) > maxResolution {
		return math.NaN()
	}
	t := p.tables[c.R].Load()
	if t == nil {
		var err error
		if t, err = p.table(c.R); err != nil {
			return math.NaN()
		}
	}
	sum := t.fixed
	for st := 0; st < supernet.NumStages; st++ {
		d := c.D[st]
		if uint(d) > supernet.MaxDepth {
			return math.NaN()
		}
		for j := 0; j < d; j++ {
			i := st*supernet.MaxDepth + j
			k, e := c.KS[i], c.E[i]
			if uint(k) >= uint(len(p.kIdx)) || uint(e) >= uint(len(p.eIdx)) {
				return math.NaN()
			}
			ki, ei := p.kIdx[k], p.eIdx[e]
			if ki < 0 || ei < 0 {
				return math.NaN()
			}
			sum += t.blocks[i][ki][ei]
		}
	}
	return sum
}

// LatencyMS predicts the latency of c in milliseconds: the layer sum,
// calibrated when the predictor has a calibration. It is NaN for a config
// outside the space; use [LatencyPredictor.Predict] to get an error
// instead.
func (p *LatencyPredictor) LatencyMS(c supernet.Config) float64 {
	s := p.SumMS(c)
	if p.calib != nil {
		return p.calib.A*s + p.calib.B
	}
	return s
}

// Predict is LatencyMS with the config validated first.
func (p *LatencyPredictor) Predict(c supernet.Config) (float64, error) {
	if err := p.space.ValidateAnyResolution(c); err != nil {
		// A resolution no space runs at is not this space's fault.
		if ce := (*supernet.ConfigError)(nil); !errors.As(err, &ce) {
			return 0, fmt.Errorf("predict latency: %w", err)
		}
		return 0, fmt.Errorf("predict latency on %s: %w", p.space.Name, err)
	}
	if _, err := p.table(c.R); err != nil {
		return 0, fmt.Errorf("predict latency at r=%d: %w", c.R, err)
	}
	return p.LatencyMS(c), nil
}

// LayerMS returns the latency the predictor uses for layer l in a network
// of resolution r, and whether the table measured it (false: regression).
func (p *LatencyPredictor) LayerMS(l supernet.Layer, r int) (ms float64, measured bool, err error) {
	v, src, err := p.layers.latency(l, r, make([]float64, 16))
	return v, src != srcModel, err
}

// SpaceName returns the name of the space the predictor was fitted for.
func (p *LatencyPredictor) SpaceName() string { return p.space.Name }

// Space returns the space the predictor was fitted for.
func (p *LatencyPredictor) Space() *supernet.Space { return p.space }

// CheckSpace returns an error unless the predictor was fitted for s.
func (p *LatencyPredictor) CheckSpace(s *supernet.Space) error {
	if s.Name != p.space.Name {
		return fmt.Errorf("latency predictor was fitted for %s, not %s: fit one for %s (edgefit predictor fit --space %s)",
			p.space.Name, s.Name, s.Name, s.Name)
	}
	return nil
}

// Target returns the device the table was measured on.
func (p *LatencyPredictor) Target() string { return p.meta.Target }

// Runtime returns the runtime the table was measured with.
func (p *LatencyPredictor) Runtime() lut.Runtime { return p.meta.Runtime }

// Resolutions returns the precomputed resolutions; MeasuredResolutions
// those the table measured. Between and beyond them layers are predicted.
func (p *LatencyPredictor) Resolutions() []int { return slices.Clone(p.meta.Resolutions) }

// MeasuredResolutions returns the resolutions the lookup table measured.
func (p *LatencyPredictor) MeasuredResolutions() []int { return slices.Clone(p.meta.LUTResolutions) }

// Calibration returns the network-level calibration, or nil.
func (p *LatencyPredictor) Calibration() *Calibration {
	if p.calib == nil {
		return nil
	}
	c := *p.calib
	return &c
}

// Report returns the fit report (also stored in the predictor file).
func (p *LatencyPredictor) Report() *FitReport { return p.report }

// calibrate fits A·Σ + B on measured subnets when there are enough,
// judging it on a held-out share first; it is kept only if it beats the
// plain sum there. The final coefficients use every subnet.
// truth holds the measured latency of each network under the table's
// statistic.
func (p *LatencyPredictor) calibrate(nets []lut.NetworkMeasurement, truth []float64, opts FitOptions) *CalibrationReport {
	rep := &CalibrationReport{Networks: len(nets)}
	if len(nets) < opts.MinNetworks {
		rep.Reason = fmt.Sprintf("%d measured subnets; a calibration needs at least %d (profile more whole subnets)", len(nets), opts.MinNetworks)
		return rep
	}
	sums := make([]float64, len(nets))
	for i := range nets {
		sums[i] = p.SumMS(nets[i].Config)
	}
	idx := make([]int, len(nets))
	for i := range idx {
		idx[i] = i
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0xca1))
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	nh := max(1, int(math.Round(opts.Holdout*float64(len(nets)))))
	hold, train := idx[:nh], idx[nh:]
	a, b, ok := fitAffine(sums, truth, train)
	rep.Train, rep.Holdout = len(train), len(hold)
	if !ok {
		rep.Reason = "the layer sums do not determine a positive slope (subnets too alike?)"
		return rep
	}
	var hs, hc, ht []float64
	for _, i := range hold {
		hs = append(hs, sums[i])
		hc = append(hc, a*sums[i]+b)
		ht = append(ht, truth[i])
	}
	raw, cal := Compare(hs, ht), Compare(hc, ht)
	rep.Raw, rep.Calibrated = &raw, &cal
	if !(cal.RMSPE <= raw.RMSPE) {
		rep.Reason = fmt.Sprintf("calibration did not improve held-out RMSPE (%.2f%% vs %.2f%% uncalibrated)", cal.RMSPE, raw.RMSPE)
		return rep
	}
	a, b, ok = fitAffine(sums, truth, idx)
	if !ok {
		rep.Reason = "the layer sums do not determine a positive slope"
		return rep
	}
	p.calib = &Calibration{A: a, B: b, Networks: len(nets)}
	rep.Used, rep.A, rep.B = true, a, b
	rep.Reason = fmt.Sprintf("held-out RMSPE %.2f%% calibrated vs %.2f%% uncalibrated", cal.RMSPE, raw.RMSPE)
	return rep
}

// fitAffine fits truth ≈ a·x + b over rows idx, minimizing relative
// error; ok is false when the slope is not positive and finite.
func fitAffine(x, truth []float64, idx []int) (a, b float64, ok bool) {
	rows := make([][]float64, 0, len(idx))
	var y, w []float64
	for _, i := range idx {
		if math.IsNaN(x[i]) {
			continue
		}
		rows = append(rows, []float64{x[i], 1})
		y = append(y, truth[i])
		w = append(w, 1/(truth[i]*truth[i]))
	}
	if len(rows) < 2 {
		return 0, 0, false
	}
	f := newLinearFit(rows, y, w, 0, []bool{false, false})
	beta, err := f.all()
	if err != nil || !(beta[0] > 0) || math.IsInf(beta[0], 0) || math.IsNaN(beta[1]) || math.IsInf(beta[1], 0) {
		return 0, 0, false
	}
	return beta[0], beta[1], true
}

// resolutionHoldout refits without each measured resolution and predicts
// it; only with three or more measured resolutions.
func resolutionHoldout(tbl *lut.LUT, space *supernet.Space, samples []layerSample, fp fitParams, opts FitOptions) ([]ResolutionHoldout, error) {
	rs := tbl.Resolutions()
	if len(rs) < 3 {
		return nil, nil
	}
	full := &layerModel{measured: map[lutKey]float64{}}
	for _, s := range samples {
		full.measured[lutKey{s.r, s.key}] = s.ms
	}
	var out []ResolutionHoldout
	for _, r := range rs {
		var train, test []layerSample
		for _, s := range samples {
			if s.r == r {
				test = append(test, s)
			} else {
				train = append(train, s)
			}
		}
		lm, err := fitLayerModel(train, fp)
		if err != nil {
			return nil, err
		}
		// Keys shared with other resolutions (the 1x1 head) would be
		// looked up, not predicted; that is also what a real fit does.
		buf := make([]float64, 16)
		var pred, truth []float64
		for _, s := range test {
			v, _, err := lm.latency(s.layer, r, buf)
			if err != nil {
				return nil, err
			}
			pred = append(pred, v)
			truth = append(truth, s.ms)
		}
		h := ResolutionHoldout{R: r, Layers: Compare(pred, truth)}
		if miss, err := tbl.Missing(r); err == nil && len(miss) == 0 && space.Name == tbl.Space {
			predT, err1 := buildTable(space, lm, r)
			trueT, err2 := buildTable(space, full, r)
			if err1 == nil && err2 == nil {
				rng := rand.New(rand.NewPCG(opts.Seed, uint64(r)))
				var ps, ts []float64
				for range opts.HoldoutSubnets {
					c := space.RandomConfig(rng)
					c.R = r
					ps = append(ps, tableSum(space, predT, c))
					ts = append(ts, tableSum(space, trueT, c))
				}
				h.Subnets = Compare(ps, ts)
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// tableSum sums t for c (c valid).
func tableSum(s *supernet.Space, t *resTable, c supernet.Config) float64 {
	sum := t.fixed
	for i := range supernet.NumBlocks {
		if c.Active(i) {
			sum += t.blocks[i][slices.Index(s.KernelSizes, c.KS[i])][slices.Index(s.Expands, c.E[i])]
		}
	}
	return sum
}

// predictorFile is the JSON form of a saved predictor.
type predictorFile struct {
	Format      string         `json:"format"`
	Version     int            `json:"version"`
	Meta        latencyMeta    `json:"predictor"`
	Models      []kindModel    `json:"models"`
	Measured    []measuredItem `json:"measured"`
	Calibration *Calibration   `json:"calibration,omitempty"`
	Report      *FitReport     `json:"report,omitempty"`
}

type measuredItem struct {
	R     int      `json:"r"`
	Key   string   `json:"key"`
	MS    float64  `json:"latency_ms"`
	OldMS *float64 `json:"ms,omitempty"` // version 1's name, read only
}

// upgrade moves the values of version 1's keys to the current ones.
func (f *predictorFile) upgrade() {
	for i := range f.Measured {
		if m := &f.Measured[i]; m.OldMS != nil {
			m.MS, m.OldMS = *m.OldMS, nil
		}
	}
}

// Write encodes the predictor as JSON.
func (p *LatencyPredictor) Write(w io.Writer) error {
	f := predictorFile{Format: LatencyFormat, Version: LatencyVersion, Meta: p.meta, Calibration: p.calib, Report: p.report}
	for _, spec := range kindSpecs {
		if km := p.layers.kinds[spec.kind]; km != nil {
			f.Models = append(f.Models, *km)
		}
	}
	for k, v := range p.layers.measured {
		f.Measured = append(f.Measured, measuredItem{R: k.r, Key: k.key, MS: v})
	}
	slices.SortFunc(f.Measured, func(a, b measuredItem) int {
		if a.R != b.R {
			return a.R - b.R
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// Save writes the predictor to path atomically.
func (p *LatencyPredictor) Save(path string) error {
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		return fmt.Errorf("save latency predictor: %w", err)
	}
	if err := atomicfile.WriteFile(path, b.Bytes()); err != nil {
		return fmt.Errorf("save latency predictor: %w", err)
	}
	return nil
}

// ReadLatencyPredictor decodes and checks a predictor written by Write.
func ReadLatencyPredictor(r io.Reader) (*LatencyPredictor, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f predictorFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("latency predictor: %w", err)
	}
	if f.Format != LatencyFormat {
		return nil, fmt.Errorf("not a latency predictor (format %q, want %q): fit one with edgefit predictor fit", f.Format, LatencyFormat)
	}
	if f.Version != LatencyVersion && f.Version != 1 {
		return nil, fmt.Errorf("latency predictor version %d is not supported (this edgefit reads 1 and %d): refit it", f.Version, LatencyVersion)
	}
	f.upgrade()
	space, err := supernet.SpaceByName(f.Meta.Space)
	if err != nil {
		return nil, fmt.Errorf("latency predictor: %w", err)
	}
	if space.Name != f.Meta.Space {
		return nil, fmt.Errorf("latency predictor: space %q must be spelled %q", f.Meta.Space, space.Name)
	}
	lm := &layerModel{measured: map[lutKey]float64{}, byKey: map[string]float64{},
		kinds: map[supernet.LayerKind]*kindModel{}, useFamily: f.Meta.FamilyCorr}
	for i := range f.Models {
		km := &f.Models[i]
		var spec *kindSpec
		for j := range kindSpecs {
			if kindSpecs[j].kind.LUTName() == km.Kind {
				spec = &kindSpecs[j]
			}
		}
		if spec == nil {
			return nil, fmt.Errorf("latency predictor: unknown layer kind %q in models", km.Kind)
		}
		if !slices.Equal(km.Features, spec.features) || len(km.Coef) != len(spec.features) {
			return nil, fmt.Errorf("latency predictor: the %s model uses features %v, this edgefit uses %v: refit the predictor", km.Kind, km.Features, spec.features)
		}
		for _, c := range km.Coef {
			if !(c >= 0) || math.IsInf(c, 0) {
				return nil, fmt.Errorf("latency predictor: %s model has coefficient %v; coefficients are finite and >= 0", km.Kind, c)
			}
		}
		if lm.kinds[spec.kind] != nil {
			return nil, fmt.Errorf("latency predictor: two models for %s", km.Kind)
		}
		lm.kinds[spec.kind] = km
	}
	var samples []layerSample
	for i, m := range f.Measured {
		l, err := lut.ParseKey(m.Key)
		if err != nil {
			return nil, fmt.Errorf("latency predictor: measured layer %d: %w", i, err)
		}
		if !(m.MS > 0) || math.IsInf(m.MS, 0) {
			return nil, fmt.Errorf("latency predictor: measured layer %d (%s) has latency %v", i, m.Key, m.MS)
		}
		if m.R < 32 || m.R > maxResolution {
			return nil, fmt.Errorf("latency predictor: measured layer %d has resolution %d", i, m.R)
		}
		if lm.kinds[l.Kind] == nil {
			return nil, fmt.Errorf("latency predictor: measured layer %s has no %s model", m.Key, l.Kind.LUTName())
		}
		samples = append(samples, layerSample{layer: l, key: m.Key, r: m.R, ms: m.MS})
	}
	// A predictor fitted on a table whose keys belong to another space
	// than it names (which older versions accepted) predicts the wrong
	// network's latency.
	if f.Meta.LUTSpace != "" {
		if err := lut.CheckKeySpace(f.Meta.LUTSpace, len(f.Measured), func(i int) (int, string) { return f.Measured[i].R, f.Measured[i].Key }); err != nil {
			return nil, fmt.Errorf("latency predictor fitted on a table for %s: %w; refit it on a table of the right space", f.Meta.LUTSpace, err)
		}
	}
	// Rebuild the derived state exactly as Fit did.
	keySum := map[string][2]float64{}
	for _, s := range samples {
		lm.measured[lutKey{s.r, s.key}] = s.ms
		ks := keySum[s.key]
		keySum[s.key] = [2]float64{ks[0] + s.ms, ks[1] + 1}
	}
	for k, v := range keySum {
		lm.byKey[k] = v[0] / v[1]
	}
	lm.buildFamilies(samples)
	if c := f.Calibration; c != nil && (!(c.A > 0) || math.IsInf(c.A, 0) || math.IsNaN(c.B) || math.IsInf(c.B, 0)) {
		return nil, fmt.Errorf("latency predictor: calibration a=%v b=%v is not usable: refit", c.A, c.B)
	}
	for _, r := range f.Meta.Resolutions {
		if r < 32 || r > maxResolution {
			return nil, fmt.Errorf("latency predictor: resolution %d is outside 32..%d", r, maxResolution)
		}
	}
	p, err := newLatencyPredictor(space, f.Meta, lm, f.Calibration)
	if err != nil {
		return nil, fmt.Errorf("latency predictor: %w", err)
	}
	p.report = f.Report
	return p, nil
}

// LoadLatencyPredictor reads a predictor saved with Save.
func LoadLatencyPredictor(path string) (*LatencyPredictor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load latency predictor: %w", err)
	}
	defer f.Close()
	p, err := ReadLatencyPredictor(f)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return p, nil
}

// LoadLatencyPredictorFor loads a predictor and checks it was fitted for
// space.
func LoadLatencyPredictorFor(path string, space *supernet.Space) (*LatencyPredictor, error) {
	p, err := LoadLatencyPredictor(path)
	if err != nil {
		return nil, err
	}
	if err := p.CheckSpace(space); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return p, nil
}
