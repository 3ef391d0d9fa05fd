package timing

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestSummarize(t *testing.T) {
	// Reference values from numpy (median, percentile linear, std ddof=1).
	x := []float64{3.1, 2.9, 3.0, 3.3, 2.8, 3.05, 3.2, 2.95, 3.15, 3.4, 2.85, 3.0}
	st := Summarize(x)
	want := Stats{N: 12, Median: 3.025, Mean: 3.058333333333333, Min: 2.8, Max: 3.4, P10: 2.855, P90: 3.29,
		Std: 0.18069730255738503, CI95: 0.07438016528925616}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"median", st.Median, want.Median}, {"mean", st.Mean, want.Mean}, {"min", st.Min, want.Min}, {"max", st.Max, want.Max},
		{"p10", st.P10, want.P10}, {"p90", st.P90, want.P90}, {"std", st.Std, want.Std}, {"ci95", st.CI95, want.CI95},
		{"cov", st.CoV, want.Std / want.Mean},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if st.N != 12 {
		t.Errorf("n = %d", st.N)
	}
	if x[0] != 3.1 {
		t.Error("Summarize reordered its input")
	}
}

func TestSummarizeSmall(t *testing.T) {
	if (Summarize(nil) != Stats{}) {
		t.Errorf("stats of no samples are not zero")
	}
	st := Summarize([]float64{5})
	if st.N != 1 || st.Median != 5 || st.P10 != 5 || st.Std != 0 || st.CI95 != 0 {
		t.Errorf("one sample: %+v", st)
	}
	if st := Summarize([]float64{1, 2, 3, 4, 5}); st.CI95 != 0 {
		t.Errorf("CI with 5 samples = %v, want 0 (undefined)", st.CI95)
	}
	// 1..5: numpy gives p10 1.4 and p90 4.6, std (ddof=1) sqrt(2.5).
	st = Summarize([]float64{4, 1, 3, 2, 5})
	want := Stats{Median: 3, Mean: 3, P10: 1.4, P90: 4.6, Std: math.Sqrt(2.5), N: 5, CoV: math.Sqrt(2.5) / 3, Min: 1, Max: 5}
	if !near(st.P10, want.P10) || !near(st.P90, want.P90) {
		t.Errorf("percentiles %v %v, want %v %v", st.P10, st.P90, want.P10, want.P90)
	}
	st.P10, st.P90, want.P10, want.P90 = 0, 0, 0, 0
	if st != want {
		t.Errorf("Summarize = %+v, want %+v", st, want)
	}
}

func TestPercentilesOrdered(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	xs := make([]float64, 101)
	for i := range xs {
		xs[i] = rng.Float64()
	}
	st := Summarize(xs)
	if !(st.Min <= st.P10 && st.P10 <= st.Median && st.Median <= st.P90 && st.P90 <= st.Max) {
		t.Errorf("percentiles out of order: %+v", st)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{7}, 7}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	in := []float64{3, 1, 2}
	Median(in)
	if in[0] != 3 {
		t.Error("Median reordered its input")
	}
}

func TestMedianCI95Shrinks(t *testing.T) {
	// A fixed spread: more samples give a tighter interval.
	mk := func(n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = 10 + float64(i%7)*0.1
		}
		return x
	}
	prev := math.Inf(1)
	for _, n := range []int{10, 40, 160, 640} {
		ci := Summarize(mk(n)).CI95
		if !(ci <= prev) {
			t.Errorf("n=%d: ci %v did not shrink from %v", n, ci, prev)
		}
		prev = ci
	}
}

// TestStatsJSON pins the JSON form: units in the keys; the old form
// without them still reads.
func TestStatsJSON(t *testing.T) {
	s := Stats{Median: 1.5, Mean: 1.6, P10: 1.2, P90: 2, Std: 0.25, N: 9, CoV: 0.15625, Min: 1, Max: 3, CI95: 0.1}
	b, err := json.Marshal(s)
	if want := `{"median_ms":1.5,"mean_ms":1.6,"p10_ms":1.2,"p90_ms":2,"std_ms":0.25,"n":9,"cov":0.15625}`; err != nil || string(b) != want {
		t.Fatalf("%s, %v; want %s", b, err, want)
	}
	s.Min, s.Max, s.CI95 = 0, 0, 0
	for _, in := range []string{string(b), `{"median":1.5,"mean":1.6,"p10":1.2,"p90":2,"std":0.25,"n":9,"cov":0.15625}`} {
		var back Stats
		if err := json.Unmarshal([]byte(in), &back); err != nil || back != s {
			t.Errorf("%s read as %+v, %v", in, back, err)
		}
	}
	if b, _ := json.Marshal(Stats{Median: 1, Mean: 1, N: 3, Timed: 12}); string(b) != `{"median_ms":1,"mean_ms":1,"std_ms":0,"n":3,"timed_runs":12}` {
		t.Errorf("stats of kept samples: %s", b)
	}
	for _, in := range []string{`{"median_ms":1,"median":2,"n":1}`, `{"median_ms":1,"n":1,"p50":1}`} {
		var back Stats
		if err := json.Unmarshal([]byte(in), &back); err == nil {
			t.Errorf("%s accepted as %+v", in, back)
		}
	}
}
