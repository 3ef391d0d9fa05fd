package predictor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
)

// layerSample is one measured layer latency.
type layerSample struct {
	layer supernet.Layer // Block -1
	key   string
	r     int
	ms    float64
}

// kindModel is the fitted regression of one layer kind.
type kindModel struct {
	Kind     string    `json:"kind"`
	Features []string  `json:"features"`
	Coef     []float64 `json:"coef"` // ms per unit of each feature; 0 for features left out
}

func (k *kindModel) predict(l *supernet.Layer, buf []float64) float64 {
	spec := specOf(l.Kind)
	buf = buf[:len(spec.features)]
	spec.compute(l, buf)
	return dot(k.Coef, buf)
}

// famPoint is the log ratio of measured to modelled latency of one layer
// family at one input size.
type famPoint struct {
	size  int
	logRt float64
}

// layerModel gives the latency of any layer: measured where the table has
// it, otherwise the kind's regression, corrected by how far the regression
// was off for the same layer family (same channels, kernel, stride; other
// input sizes) where the table measured that family.
type layerModel struct {
	measured  map[lutKey]float64
	byKey     map[string]float64 // mean over resolutions, for keys shared by several
	kinds     map[supernet.LayerKind]*kindModel
	families  map[supernet.Layer][]famPoint
	useFamily bool
}

type lutKey struct {
	r   int
	key string
}

// Source of a layer's latency in a prediction.
const (
	srcMeasured = iota
	srcSameShape
	srcModel
)

func family(l supernet.Layer) supernet.Layer {
	l.InSize, l.OutSize, l.Block = 0, 0, 0
	return l
}

// latency returns the latency of layer l in a network of resolution r and
// where it came from.
func (m *layerModel) latency(l supernet.Layer, r int, buf []float64) (float64, int, error) {
	key := l.Key()
	if v, ok := m.measured[lutKey{r, key}]; ok {
		return v, srcMeasured, nil
	}
	// The same shape measured inside a network of another resolution: a
	// layer's latency depends on its shape only.
	if v, ok := m.byKey[key]; ok {
		return v, srcSameShape, nil
	}
	km := m.kinds[l.Kind]
	if km == nil {
		return 0, 0, fmt.Errorf("the lookup table has no %s layer to learn its latency from: profile at least one", l.Kind.LUTName())
	}
	v := km.predict(&l, buf)
	if m.useFamily {
		v *= math.Exp(interpolate(m.families[family(l)], l.InSize))
	}
	if !(v > 0) || math.IsInf(v, 0) {
		return 0, 0, fmt.Errorf("layer %s: model gives %v ms", key, v)
	}
	return v, srcModel, nil
}

// interpolate returns the log ratio at size, linear between the nearest
// measured sizes and constant beyond them; 0 for an unmeasured family.
func interpolate(pts []famPoint, size int) float64 {
	if len(pts) == 0 {
		return 0
	}
	if size <= pts[0].size {
		return pts[0].logRt
	}
	last := pts[len(pts)-1]
	if size >= last.size {
		return last.logRt
	}
	i := sort.Search(len(pts), func(i int) bool { return pts[i].size >= size })
	a, b := pts[i-1], pts[i]
	f := float64(size-a.size) / float64(b.size-a.size)
	return a.logRt + f*(b.logRt-a.logRt)
}

// fitOptions are the knobs of the per-layer fit.
type fitParams struct {
	lambda    float64
	useFamily bool
}

// fitKind fits one kind's regression on samples (all of that kind) and
// returns the model.
func fitKind(spec *kindSpec, samples []layerSample, lambda float64) (*kindModel, error) {
	p := len(spec.features)
	x := make([][]float64, len(samples))
	y := make([]float64, len(samples))
	w := make([]float64, len(samples))
	distinct := map[string]bool{}
	for i := range samples {
		x[i] = make([]float64, p)
		spec.compute(&samples[i].layer, x[i])
		y[i] = samples[i].ms
		w[i] = 1 / (y[i] * y[i]) // minimize relative error
		distinct[fmt.Sprint(x[i])] = true
	}
	// With fewer distinct layers than features, keep the features that
	// matter most for extrapolation (work before overhead), so that a
	// kind measured at a single shape scales in proportion to its work.
	keep := len(distinct)
	active := make([]bool, p)
	for _, j := range priority(spec) {
		if keep == 0 {
			break
		}
		active[j] = true
		keep--
	}
	xa := make([][]float64, len(x))
	var cols []int
	for j := range active {
		if active[j] {
			cols = append(cols, j)
		}
	}
	penal := make([]bool, len(cols))
	for i, j := range cols {
		penal[i] = spec.features[j] != "const"
	}
	for i := range x {
		xa[i] = make([]float64, len(cols))
		for c, j := range cols {
			xa[i][c] = x[i][j]
		}
	}
	f := newLinearFit(xa, y, w, lambda, penal)
	b, err := f.nonNegative()
	if err != nil {
		return nil, fmt.Errorf("fit %s layers: %w", spec.kind.LUTName(), err)
	}
	coef := make([]float64, p)
	for c, j := range cols {
		coef[j] = b[c]
	}
	return &kindModel{Kind: spec.kind.LUTName(), Features: slices.Clone(spec.features), Coef: coef}, nil
}

// priority lists a kind's features from most to least needed: the work
// counts first, the per-layer constant last.
func priority(spec *kindSpec) []int {
	var out []int
	for j, f := range spec.features {
		if f != "const" {
			out = append(out, j)
		}
	}
	for j, f := range spec.features {
		if f == "const" {
			out = append(out, j)
		}
	}
	return out
}

// fitLayerModel fits every kind present in samples and the family
// corrections.
func fitLayerModel(samples []layerSample, fp fitParams) (*layerModel, error) {
	m := &layerModel{measured: map[lutKey]float64{}, byKey: map[string]float64{},
		kinds: map[supernet.LayerKind]*kindModel{}, families: map[supernet.Layer][]famPoint{}, useFamily: fp.useFamily}
	byKind := map[supernet.LayerKind][]layerSample{}
	keySum := map[string][2]float64{}
	for _, s := range samples {
		m.measured[lutKey{s.r, s.key}] = s.ms
		byKind[s.layer.Kind] = append(byKind[s.layer.Kind], s)
		ks := keySum[s.key]
		keySum[s.key] = [2]float64{ks[0] + s.ms, ks[1] + 1}
	}
	for k, v := range keySum {
		m.byKey[k] = v[0] / v[1]
	}
	for _, spec := range kindSpecs {
		ss := byKind[spec.kind]
		if len(ss) == 0 {
			continue
		}
		km, err := fitKind(&spec, ss, fp.lambda)
		if err != nil {
			return nil, err
		}
		m.kinds[spec.kind] = km
	}
	m.buildFamilies(samples)
	return m, nil
}

// buildFamilies records, per layer family and input size, how far the
// regression is from the measurement (averaged in log space).
func (m *layerModel) buildFamilies(samples []layerSample) {
	type acc struct {
		sum float64
		n   int
	}
	sums := map[supernet.Layer]map[int]*acc{}
	buf := make([]float64, 16)
	for _, s := range samples {
		km := m.kinds[s.layer.Kind]
		pred := km.predict(&s.layer, buf)
		if !(pred > 0) {
			continue
		}
		f := family(s.layer)
		if sums[f] == nil {
			sums[f] = map[int]*acc{}
		}
		a := sums[f][s.layer.InSize]
		if a == nil {
			a = &acc{}
			sums[f][s.layer.InSize] = a
		}
		a.sum += math.Log(s.ms / pred)
		a.n++
	}
	m.families = map[supernet.Layer][]famPoint{}
	for f, bySize := range sums {
		var pts []famPoint
		for size, a := range bySize {
			pts = append(pts, famPoint{size, a.sum / float64(a.n)})
		}
		slices.SortFunc(pts, func(a, b famPoint) int { return a.size - b.size })
		m.families[f] = pts
	}
}

// samplesOf reads the measured layers of a table.
func samplesOf(tbl *lut.LUT) ([]layerSample, error) {
	out := make([]layerSample, 0, len(tbl.Entries))
	for i := range tbl.Entries {
		e := &tbl.Entries[i]
		l, err := lut.ParseKey(e.Key)
		if err != nil {
			return nil, fmt.Errorf("lookup table entry %d: %w", i, err)
		}
		out = append(out, layerSample{layer: l, key: e.Key, r: e.Resolution, ms: tbl.Latency(e)})
	}
	return out, nil
}

// KindReport describes the fit of one layer kind's regression.
type KindReport struct {
	Kind     string    `json:"kind"`
	Samples  int       `json:"samples"`  // measured layers of this kind
	Distinct int       `json:"distinct"` // distinct shapes among them
	Features []string  `json:"features"`
	Coef     []float64 `json:"coef"`
	Train    Metrics   `json:"train"`        // in-sample
	CV       *Metrics  `json:"cv,omitempty"` // k-fold cross-validation; nil with too few shapes
	Folds    int       `json:"folds,omitempty"`
	// ChannelCV refits without each channel configuration (input,
	// output channels and stride) in turn and predicts it: how well the
	// model extrapolates to widths the table never measured, as when a
	// w1.0 table predicts w1.2. Nil with fewer than three configurations.
	ChannelCV *Metrics `json:"channel_cv,omitempty"`
	Groups    int      `json:"groups,omitempty"`
}

// kindReports fits each kind and measures it in-sample and by k-fold
// cross-validation over distinct shapes.
func kindReports(samples []layerSample, fp fitParams, folds int, seed uint64) ([]KindReport, error) {
	var out []KindReport
	buf := make([]float64, 16)
	for _, spec := range kindSpecs {
		var ss []layerSample
		for _, s := range samples {
			if s.layer.Kind == spec.kind {
				ss = append(ss, s)
			}
		}
		if len(ss) == 0 {
			continue
		}
		km, err := fitKind(&spec, ss, fp.lambda)
		if err != nil {
			return nil, err
		}
		rep := KindReport{Kind: spec.kind.LUTName(), Samples: len(ss), Features: km.Features, Coef: km.Coef}
		pred, truth := make([]float64, len(ss)), make([]float64, len(ss))
		keys := map[string]bool{}
		for i := range ss {
			pred[i], truth[i] = km.predict(&ss[i].layer, buf), ss[i].ms
			keys[ss[i].key] = true
		}
		rep.Distinct = len(keys)
		rep.Train = Compare(pred, truth)
		// Folds split distinct keys, so that a shape measured at two
		// resolutions is never on both sides.
		k := min(folds, len(keys))
		if k >= 3 && len(keys) >= 2*len(spec.features) {
			names := make([]string, 0, len(keys))
			for key := range keys {
				names = append(names, key)
			}
			slices.Sort(names)
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
			fold := map[string]int{}
			for i, key := range names {
				fold[key] = i % k
			}
			cvPred := make([]float64, len(ss))
			for f := 0; f < k; f++ {
				var train []layerSample
				for _, s := range ss {
					if fold[s.key] != f {
						train = append(train, s)
					}
				}
				fm, err := fitKind(&spec, train, fp.lambda)
				if err != nil {
					return nil, err
				}
				for i := range ss {
					if fold[ss[i].key] == f {
						cvPred[i] = fm.predict(&ss[i].layer, buf)
					}
				}
			}
			cv := Compare(cvPred, truth)
			rep.CV, rep.Folds = &cv, k
		}
		type group struct{ in, out, stride int }
		groups := map[group]bool{}
		for _, s := range ss {
			groups[group{s.layer.In, s.layer.Out, s.layer.Stride}] = true
		}
		if len(groups) >= 3 {
			gPred := make([]float64, len(ss))
			for g := range groups {
				var train []layerSample
				for _, s := range ss {
					if (group{s.layer.In, s.layer.Out, s.layer.Stride}) != g {
						train = append(train, s)
					}
				}
				gm, err := fitKind(&spec, train, fp.lambda)
				if err != nil {
					return nil, err
				}
				for i := range ss {
					if (group{ss[i].layer.In, ss[i].layer.Out, ss[i].layer.Stride}) == g {
						gPred[i] = gm.predict(&ss[i].layer, buf)
					}
				}
			}
			gcv := Compare(gPred, truth)
			rep.ChannelCV, rep.Groups = &gcv, len(groups)
		}
		out = append(out, rep)
	}
	return out, nil
}
