package predictor

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

func note10Scorer(t testing.TB) (*Scorer, *LatencyPredictor, *MLPAccuracy) {
	t.Helper()
	lat, _, err := Fit(note10(t), FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acc := tutorialMLP(t)
	s, err := lat.Space().WithResolutions([]int{160, 176, 192, 208, 224})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := NewScorer(s, lat, acc)
	if err != nil {
		t.Fatal(err)
	}
	return sc, lat, acc
}

func TestScorer(t *testing.T) {
	sc, lat, acc := note10Scorer(t)
	s := sc.Space()
	cfgs := randomConfigs(s, 3000, s.Resolutions) // above parallelMin: split in two
	out := make([]Estimate, len(cfgs))
	sc.Score(cfgs, out)
	accs := make([]float64, len(cfgs))
	acc.Accuracy(cfgs, accs)
	for i, c := range cfgs {
		want := Estimate{Accuracy: accs[i], LatencyMS: lat.LatencyMS(c), Costs: s.Costs(c)}
		if out[i] != want {
			t.Fatalf("config %d: %+v, want %+v", i, out[i], want)
		}
	}
	// Same answers one at a time, in another order, and from the cache.
	sc.WithCache(1000)
	for _, i := range []int{2999, 0, 1500, 7, 1500} {
		var one [1]Estimate
		sc.Score(cfgs[i:i+1], one[:])
		if one[0] != out[i] {
			t.Fatalf("config %d alone: %+v, in a batch %+v", i, one[0], out[i])
		}
	}
	again := make([]Estimate, len(cfgs))
	sc.Score(cfgs, again) // more than the cache holds: it is cleared on the way
	for i := range again {
		if again[i] != out[i] {
			t.Fatalf("config %d with cache: %+v, want %+v", i, again[i], out[i])
		}
	}
	if sc.AccuracyIsProxy() || !strings.Contains(sc.AccuracySource(), "tutorial") {
		t.Errorf("accuracy source %q", sc.AccuracySource())
	}
}

func TestNewScorerRefuses(t *testing.T) {
	_, lat, acc := note10Scorer(t)
	w10, _ := supernet.NewSpace(1.0)
	if _, err := NewScorer(w10, lat, nil); err == nil || !strings.Contains(err.Error(), "latency predictor was fitted for ofa-mbv3-w1.2") {
		t.Errorf("w1.2 latency on w1.0: %v", err)
	}
	w12 := lat.Space()
	if _, err := NewScorer(w12, lat, acc); err == nil || !strings.Contains(err.Error(), "resolution 240") && !strings.Contains(err.Error(), "cannot encode") {
		// w1.2's default resolutions are 128..224, all within the tutorial
		// predictor's 112..239: accepted.
		if err != nil {
			t.Errorf("w1.2 default resolutions: %v", err)
		}
	}
	wide, _ := w12.WithResolutions([]int{160, 240})
	if _, err := NewScorer(wide, lat, acc); err == nil || !strings.Contains(err.Error(), "resolution 240") {
		t.Errorf("r=240 with the tutorial predictor: %v", err)
	}
	if _, err := NewScorer(w12, nil, acc); err == nil || !strings.Contains(err.Error(), "no latency model") {
		t.Errorf("nil latency: %v", err)
	}
	// No accuracy model: the proxy, labelled as such.
	sc, err := NewScorer(w12, lat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sc.AccuracyIsProxy() || !strings.Contains(sc.AccuracySource(), "PROXY") {
		t.Errorf("fallback source %q", sc.AccuracySource())
	}
	out := make([]Estimate, 2)
	sc.Score([]supernet.Config{w12.MinConfig(128), w12.MaxConfig(224)}, out)
	if out[0].Accuracy != 0 || out[1].Accuracy != 1 || !(out[1].LatencyMS > out[0].LatencyMS) {
		t.Errorf("proxy estimates %+v", out)
	}
	bad := w12.MaxConfig(224)
	bad.KS[0] = 4
	sc.Score([]supernet.Config{bad}, out[:1])
	if !math.IsNaN(out[0].LatencyMS) {
		t.Errorf("invalid config latency %v", out[0].LatencyMS)
	}
}

func TestScorerResolutionsIntersect(t *testing.T) {
	sc, lat, _ := note10Scorer(t)
	if got := sc.Resolutions(); !slices.Equal(got, []int{160, 176, 192, 208, 224}) {
		t.Fatalf("tutorial MLP with a 128..224 latency predictor: resolutions %v, want the MLP's 160..224 step 16", got)
	}
	s, _ := supernet.NewSpace(1.2)
	proxy, err := NewScorer(s, lat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := proxy.Resolutions(); !slices.Contains(got, 128) {
		t.Fatalf("proxy accuracy should not restrict resolutions: %v", got)
	}
}
