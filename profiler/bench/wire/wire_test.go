package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/profiler/timing"
)

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

// TestResultStatsWireForm checks that a Result's statistics travel with
// the units in their keys and come back whole, min, max and ci95 included.
func TestResultStatsWireForm(t *testing.T) {
	st := timing.Stats{N: 7, Median: 1.5, Mean: 1.6, Min: 1.25, Max: 2.5, P10: 1.3, P90: 2, Std: 0.25, CoV: 0.15625, CI95: 0.04}
	var b bytes.Buffer
	if err := WriteResult(&b, Result{ID: "m", Source: SourceAgent, Threads: 1, Stats: st, LoadMS: 3}); err != nil {
		t.Fatal(err)
	}
	line := b.String()
	for _, kv := range []string{`"id":"m"`, `"threads":1`, `"load_ms":3`, `"stats":{"n":7,"median_ms":1.5,"mean_ms":1.6,"min_ms":1.25,"max_ms":2.5,"p10_ms":1.3,"p90_ms":2,"std_ms":0.25,"cov":0.15625,"ci95_rel":0.04}`} {
		if !strings.Contains(line, kv) {
			t.Errorf("result line %s lacks %s", line, kv)
		}
	}
	var got []Result
	if err := ReadResults(&b, func(r Result) error { got = append(got, r); return nil }); err != nil || len(got) != 1 {
		t.Fatalf("read back: %v %v", got, err)
	}
	if got[0].Stats != st || got[0].ID != "m" || got[0].Threads != 1 || got[0].LoadMS != 3 {
		t.Errorf("round trip gave %+v, want stats %+v", got[0], st)
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
