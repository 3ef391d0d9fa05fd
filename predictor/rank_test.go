package predictor

import (
	"math"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// TestKendall checks τ-b on cases worked out by hand.
func TestKendall(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		{"same order", []float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// b ranks item 4 first: of the 10 pairs, (1,4), (2,4) and
		// (3,4) are discordant, the other 7 concordant: τ = 4/10.
		{"one swap", []float64{1, 2, 3, 4, 5}, []float64{2, 3, 4, 1, 5}, 0.4},
		// a ties the pair (1,2): concordant (1,3) (2,3), ties in a 1,
		// in b none: τ-b = 2/√(2·3).
		{"tie", []float64{1, 1, 2}, []float64{1, 2, 3}, 2 / math.Sqrt(6)},
	} {
		if got := Kendall(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: τ = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, bad := range [][2][]float64{{{1}, {2}}, {{1, 1}, {1, 2}}, {{1, math.NaN()}, {1, 2}}} {
		if got := Kendall(bad[0], bad[1]); !math.IsNaN(got) {
			t.Errorf("Kendall(%v, %v) = %v, want NaN", bad[0], bad[1], got)
		}
	}
}

// labelled is an accuracy model from outside the package that says
// whether it is a proxy.
type labelled struct{ proxy bool }

func (l labelled) Accuracy(cfgs []supernet.Config, out []float64) {
	for i := range cfgs {
		out[i] = 0.5
	}
}
func (l labelled) Source() string        { return "test model" }
func (l labelled) AccuracyIsProxy() bool { return l.proxy }

// TestProxyLabelled: a model that labels itself a proxy is reported as
// one by IsProxy and the Scorer, one that does not (or says false) is not.
func TestProxyLabelled(t *testing.T) {
	_, lat, _ := note10Scorer(t)
	for _, tc := range []struct {
		m    AccuracyModel
		want bool
	}{{labelled{true}, true}, {labelled{false}, false}, {tutorialMLP(t), false}, {nil, true}} {
		sc, err := NewScorer(lat.Space(), lat, tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.AccuracyIsProxy(); got != tc.want {
			t.Errorf("%T: AccuracyIsProxy %v, want %v", tc.m, got, tc.want)
		}
		if tc.m != nil && IsProxy(tc.m) != tc.want {
			t.Errorf("%T: IsProxy %v, want %v", tc.m, !tc.want, tc.want)
		}
	}
}
