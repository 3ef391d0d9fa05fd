package predictor

import (
	"encoding/json"
	"math"
	"testing"
)

func TestCompareHandComputed(t *testing.T) {
	m := Compare([]float64{110, 95, 100, 130}, []float64{100, 100, 100, 100})
	// Relative errors 0.10, -0.05, 0, 0.30.
	want := Metrics{N: 4, RMSE: math.Sqrt((100 + 25 + 0 + 900) / 4.0), RMSPE: 100 * math.Sqrt((0.01+0.0025+0+0.09)/4),
		MAPE: 100 * (0.1 + 0.05 + 0 + 0.3) / 4, Within5: 0.5, Within10: 0.75}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"RMSE", m.RMSE, want.RMSE}, {"RMSPE", m.RMSPE, want.RMSPE}, {"MAPE", m.MAPE, want.MAPE},
		{"Within5", m.Within5, want.Within5}, {"Within10", m.Within10, want.Within10}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if m.N != 4 || !math.IsNaN(m.Spearman) {
		t.Errorf("N %d, Spearman %v (truth is constant: want NaN)", m.N, m.Spearman)
	}
	// Metrics with NaN survive JSON as null.
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Metrics
	if err := json.Unmarshal(b, &back); err != nil || !math.IsNaN(back.Spearman) || back.RMSPE != m.RMSPE {
		t.Errorf("JSON round trip: %s -> %+v, %v", b, back, err)
	}
}

func TestSpearman(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		{"identical order", []float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		{"monotone but not linear", []float64{1, 2, 3, 4, 5}, []float64{1, 4, 9, 16, 1000}, 1},
		// Ranks of a are 1, 2.5, 2.5, 4: ρ = 4.5/sqrt(4.5·5).
		{"ties", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}, 4.5 / math.Sqrt(22.5)},
		// d = rank differences 1,-1,1,-1 on 4 items: 1 - 6·4/(4·15) = 0.6.
		{"swapped pairs", []float64{1, 2, 3, 4}, []float64{2, 1, 4, 3}, 0.6},
	} {
		if got := Spearman(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: Spearman = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range [][2][]float64{{{1}, {2}}, {{1, 1}, {1, 2}}, {{1, math.NaN()}, {1, 2}}} {
		if got := Spearman(tc[0], tc[1]); !math.IsNaN(got) {
			t.Errorf("Spearman(%v, %v) = %v, want NaN", tc[0], tc[1], got)
		}
	}
	if r := ranks([]float64{3, 1, 3, 2, 3}); r[0] != 4 || r[1] != 1 || r[2] != 4 || r[3] != 2 || r[4] != 4 {
		t.Errorf("ranks = %v", r)
	}
}
