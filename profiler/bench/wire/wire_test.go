package wire

import (
	"errors"
	"math"
	"strings"
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
	if st := Summarize(nil); st.N != 0 || st.Median != 0 {
		t.Errorf("empty: %+v", st)
	}
	st := Summarize([]float64{5})
	if st.N != 1 || st.Median != 5 || st.P10 != 5 || st.Std != 0 || st.CI95 != 0 {
		t.Errorf("one sample: %+v", st)
	}
	if st := Summarize([]float64{1, 2, 3, 4, 5}); st.CI95 != 0 {
		t.Errorf("CI with 5 samples = %v, want 0 (undefined)", st.CI95)
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

func TestNormalize(t *testing.T) {
	s, err := ModelSpec{ID: "a", Path: "a.onnx"}.Normalize()
	if err != nil || s.MinRuns != 10 || s.MaxRuns != 10 || s.Provider != "cpu" || s.Batch != 1 {
		t.Errorf("defaults: %+v %v", s, err)
	}
	s, _ = ModelSpec{ID: "a", Path: "a.onnx", TargetCI: 0.02}.Normalize()
	if s.MinRuns != 10 || s.MaxRuns != 200 {
		t.Errorf("CI defaults: %+v", s)
	}
	s, _ = ModelSpec{ID: "a", Path: "a.onnx", Runs: 7, TargetCI: 0.02, MinRuns: 3}.Normalize()
	if s.MinRuns != 7 || s.MaxRuns != 7 || s.TargetCI != 0 {
		t.Errorf("runs wins: %+v", s)
	}
}

func TestParseManifestErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"format":1,"models":[{"id":"a","path":"a.onnx"}]}`, ""},
		{`{"format":2,"models":[{"id":"a","path":"a.onnx"}]}`, "deploy the agent"},
		{`{"format":1,"models":[]}`, "no models"},
		{`{"format":1,"models":[{"id":"a","path":"a.onnx","treads":1}]}`, "unknown field"},
		{`{"format":1,"models":[{"id":"a","path":"a.onnx"},{"id":"a","path":"b.onnx"}]}`, "twice"},
		{`{"format":1,"models":[{"id":"a","path":""}]}`, "path is empty"},
		{`{"format":1,"models":[{"path":"x"}]}`, "without id"},
		{`{"format":1,"models":[{"id":"a","path":"a","target_ci":2}]}`, "fraction"},
		{`{"format":1,"models":[{"id":"a","path":"a","min_runs":20,"max_runs":5}]}`, "below min_runs"},
		{`{"format":1,"models":[{"id":"a","path":"a","input_shape":[1,0,224,224]}]}`, "below 1"},
		{`{"format":1,"models":[{"id":"a","path":"a","cpus":[-1]}]}`, "out of range"},
		{`not json`, "parse manifest"},
	}
	for _, tt := range tests {
		_, err := ParseManifest([]byte(tt.in))
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestReadResults(t *testing.T) {
	in := "cpuid_info warning: Unknown CPU vendor\n" +
		`{"id":"m1","source":"edgefit-agent","stats":{"n":3,"median_ms":1.5,"mean_ms":1.6,"min_ms":1.4}}` + "\n\n" +
		`{"id":"m2","source":"edgefit-agent","stats":{"n":3,"median_ms":2},"error":""}` + "\n" +
		`{"id":"m3","source":"edge` // cut off by a dropped connection
	var ids []string
	err := ReadResults(strings.NewReader(in), func(r Result) error { ids = append(ids, r.ID); return nil })
	if err != nil || strings.Join(ids, ",") != "m1,m2" {
		t.Fatalf("ids %v err %v", ids, err)
	}
	if err := ReadResults(strings.NewReader("{\"x\":1}\n"), func(Result) error { return nil }); err == nil {
		t.Error("object without id accepted")
	}
	if err := ReadResults(strings.NewReader("{broken\n"), func(Result) error { return nil }); err == nil {
		t.Error("broken complete line accepted")
	}
	stop := errors.New("stop")
	if err := ReadResults(strings.NewReader(in), func(Result) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error lost: %v", err)
	}
}

func TestStatsString(t *testing.T) {
	s := Stats{N: 40, Median: 4.12, P10: 4.05, P90: 4.31, CI95: 0.006}
	if got := s.String(); got != "median 4.120 ms (p10 4.050, p90 4.310, n=40, ±0.6%)" {
		t.Errorf("String = %q", got)
	}
	if got := (Stats{N: 3, Median: 1}).String(); got != "median 1.000 ms (n=3)" {
		t.Errorf("String = %q", got)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"models":[{"id":"a","path":"a.onnx","runs":5,"cpus":[0,1]}]}`))
	f.Add([]byte(`{"format":1,"models":[{"id":"a","path":"a.onnx","target_ci":0.02,"max_seconds":1e308}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		for _, s := range m.Models {
			n, err := s.Normalize()
			if err != nil || n.MinRuns < 1 || n.MaxRuns < n.MinRuns {
				t.Fatalf("accepted spec normalizes badly: %+v %v", n, err)
			}
		}
	})
}
