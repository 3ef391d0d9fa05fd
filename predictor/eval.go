package predictor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
)

// Metrics compare predicted latencies with measured ones, with the
// definitions of nn-Meter's latency_metrics: for the relative error
// δ = (pred − true)/true, RMSPE = 100·sqrt(mean δ²) and WithinX is the
// share of samples with |δ| ≤ X%.
//
// Its JSON keys carry their units: n, rmse_ms, rmspe_pct and mape_pct
// (percent), within_5pct_fraction and within_10pct_fraction (fractions
// in [0, 1]) and spearman; an undefined value is null. The keys within5
// and within10 of files written before still read.
type Metrics struct {
	N        int
	RMSE     float64 // root mean squared error, ms
	RMSPE    float64 // root mean squared percentage error, %
	MAPE     float64 // mean absolute percentage error, %
	Within5  float64 // share of samples within ±5%, 0..1
	Within10 float64 // share within ±10%, 0..1
	// Spearman is the rank correlation of predictions and truth, ties
	// given their average rank; NaN when either side is constant or N < 2.
	Spearman float64
}

type metricsJSON struct {
	N        int      `json:"n"`
	RMSE     *float64 `json:"rmse_ms"`
	RMSPE    *float64 `json:"rmspe_pct"`
	MAPE     *float64 `json:"mape_pct"`
	Within5  float64  `json:"within_5pct_fraction"`
	Within10 float64  `json:"within_10pct_fraction"`
	Spearman *float64 `json:"spearman"`
}

// MarshalJSON writes non-finite values (an undefined Spearman ρ) as null.
func (m Metrics) MarshalJSON() ([]byte, error) {
	fin := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(metricsJSON{m.N, fin(m.RMSE), fin(m.RMSPE), fin(m.MAPE), m.Within5, m.Within10, fin(m.Spearman)})
}

// UnmarshalJSON reads null as NaN, and the keys within5 and within10 of
// earlier files.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var p struct {
		metricsJSON
		Old5  *float64 `json:"within5"`
		Old10 *float64 `json:"within10"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	val := func(v *float64) float64 {
		if v == nil {
			return math.NaN()
		}
		return *v
	}
	*m = Metrics{p.N, val(p.RMSE), val(p.RMSPE), val(p.MAPE), p.Within5, p.Within10, val(p.Spearman)}
	if p.Old5 != nil {
		m.Within5 = *p.Old5
	}
	if p.Old10 != nil {
		m.Within10 = *p.Old10
	}
	return nil
}

// Compare computes the metrics of predictions pred against measurements
// truth (same length, truth positive). A prediction that is NaN counts as
// outside every tolerance and makes the error sums NaN.
func Compare(pred, truth []float64) Metrics {
	n := min(len(pred), len(truth))
	m := Metrics{N: n}
	if n == 0 {
		m.RMSE, m.RMSPE, m.MAPE, m.Spearman = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return m
	}
	var se, spe, ape float64
	var in5, in10 int
	for i := 0; i < n; i++ {
		d := pred[i] - truth[i]
		rel := d / truth[i]
		se += d * d
		spe += rel * rel
		ape += math.Abs(rel)
		// Compare with a hair of slack so that an error of exactly 10% as
		// computed in decimal counts as within 10% despite rounding.
		if math.Abs(rel) <= 0.05+1e-12 {
			in5++
		}
		if math.Abs(rel) <= 0.10+1e-12 {
			in10++
		}
	}
	fn := float64(n)
	m.RMSE = math.Sqrt(se / fn)
	m.RMSPE = 100 * math.Sqrt(spe/fn)
	m.MAPE = 100 * ape / fn
	m.Within5 = float64(in5) / fn
	m.Within10 = float64(in10) / fn
	m.Spearman = Spearman(pred[:n], truth[:n])
	return m
}

// Evaluate predicts every measured network with model and compares. The
// measured value is the median, or the mean where no median was recorded
// (OFA-style tables).
func Evaluate(model LatencyModel, nets []lut.NetworkMeasurement) Metrics {
	pred := make([]float64, len(nets))
	truth := make([]float64, len(nets))
	for i := range nets {
		pred[i] = model.LatencyMS(nets[i].Config)
		truth[i] = measured(nets[i].Stats)
	}
	return Compare(pred, truth)
}

func measured(s timing.Stats) float64 {
	if s.Median > 0 {
		return s.Median
	}
	return s.Mean
}

// Spearman returns the rank correlation of a and b: the Pearson
// correlation of their ranks, where tied values share the average of the
// ranks they span. It is NaN when fewer than two pairs are given or either
// side is constant, or when a value is NaN.
func Spearman(a, b []float64) float64 {
	n := min(len(a), len(b))
	if n < 2 {
		return math.NaN()
	}
	for i := 0; i < n; i++ {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			return math.NaN()
		}
	}
	return pearson(ranks(a[:n]), ranks(b[:n]))
}

// ranks returns 1-based ranks with ties averaged.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return x[idx[i]] < x[idx[j]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

func pearson(a, b []float64) float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return math.NaN()
	}
	return sab / math.Sqrt(saa*sbb)
}
