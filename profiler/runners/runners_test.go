package runners

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/timing"
)

func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

type want struct {
	stats        timing.Stats
	load, first  float64
	rss          int64
	extra        map[string]float64
	errorPresent bool
}

func check(t *testing.T, r wire.Result, w want) {
	t.Helper()
	s, ws := r.Stats, w.stats
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"median", s.Median, ws.Median}, {"mean", s.Mean, ws.Mean}, {"min", s.Min, ws.Min}, {"max", s.Max, ws.Max},
		{"p10", s.P10, ws.P10}, {"p90", s.P90, ws.P90}, {"std", s.Std, ws.Std}, {"cov", s.CoV, ws.CoV},
		{"load", r.LoadMS, w.load}, {"first", r.FirstRunMS, w.first},
	} {
		if !approx(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if s.N != ws.N {
		t.Errorf("n = %d, want %d", s.N, ws.N)
	}
	if r.PeakRSSBytes != w.rss {
		t.Errorf("peak rss = %d, want %d", r.PeakRSSBytes, w.rss)
	}
	for k, v := range w.extra {
		if got, ok := r.Extra[k]; !ok || !approx(got, v) {
			t.Errorf("extra[%s] = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if (r.Error != "") != w.errorPresent {
		t.Errorf("error = %q", r.Error)
	}
}

func TestParseTrtexec(t *testing.T) {
	t.Run("8.6", func(t *testing.T) {
		r, err := ParseTrtexec(sample(t, "trtexec-8.6.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Source != wire.SourceTrtexec {
			t.Errorf("source %q", r.Source)
		}
		check(t, r, want{
			stats: timing.Stats{N: 2439, Median: 1.20703, Mean: 1.20948, Min: 1.19141, Max: 1.53516, P10: 1.20117, P90: 1.21777, CoV: 0.0104731},
			extra: map[string]float64{"throughput_qps": 812.345, "host_latency_median_ms": 1.23438, "gpu_compute_median_ms": 1.20703,
				"enqueue_median_ms": 0.00292969, "h2d_median_ms": 0.0192871, "d2h_median_ms": 0.00561523, "p95_ms": 1.22266, "p99_ms": 1.30273,
				"walltime_s": 3.00366, "gpu_compute_total_s": 2.94992, "cov_percent": 1.04731},
		})
	})
	t.Run("7.1 blocks", func(t *testing.T) {
		r, err := ParseTrtexec(sample(t, "trtexec-7.1.txt"))
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, want{
			stats: timing.Stats{N: 1715, Median: 1.59003, Mean: 1.62536, Min: 1.52893, Max: 4.1438},
			extra: map[string]float64{"host_latency_median_ms": 1.80273, "p99_ms": 2.21362, "enqueue_median_ms": 0.547852, "walltime_s": 3.00547, "gpu_compute_total_s": 2.78907},
		})
		if _, ok := r.Extra["throughput_qps"]; ok {
			t.Error("a reported throughput of 0 qps should be left out")
		}
	})
	t.Run("host latency only", func(t *testing.T) {
		out := "[I] Latency: min = 2 ms, max = 4 ms, mean = 2.5 ms, median = 2.4 ms, percentile(99%) = 3.9 ms\n"
		r, err := ParseTrtexec(out)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, want{stats: timing.Stats{Median: 2.4, Mean: 2.5, Min: 2, Max: 4}, extra: map[string]float64{"p99_ms": 3.9}})
	})
	t.Run("failed", func(t *testing.T) {
		_, err := ParseTrtexec(sample(t, "trtexec-failed.txt"))
		if !errors.Is(err, ErrNoSummary) || !strings.Contains(err.Error(), "Failed to parse onnx file") {
			t.Errorf("err = %v, want ErrNoSummary quoting trtexec's errors", err)
		}
	})
}

func TestParsePerfTest(t *testing.T) {
	t.Run("1.17", func(t *testing.T) {
		r, err := ParsePerfTest(sample(t, "perf_test-1.17.txt"))
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, want{
			stats: timing.Stats{N: 1000, Median: 1.31513, Mean: 1.34589, Min: 1.26754, Max: 3.99185, P90: 1.39567},
			load:  43.2216, first: 7, rss: 63225856,
			extra: map[string]float64{"p95_ms": 1.44879, "p99_ms": 1.85398, "p999_ms": 3.37553, "throughput_qps": 739.473, "cpu_percent": 49},
		})
	})
	t.Run("cost total", func(t *testing.T) {
		r, err := ParsePerfTest(sample(t, "perf_test-total.txt"))
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, want{
			stats: timing.Stats{N: 200, Median: 12.2943, Mean: 12.4085, Min: 11.8301, Max: 17.1112, P90: 13.1029},
			load:  512, first: 31, rss: 151019520,
			extra: map[string]float64{"p999_ms": 17.1112},
		})
	})
	t.Run("old", func(t *testing.T) {
		r, err := ParsePerfTest(sample(t, "perf_test-old.txt"))
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, want{
			stats: timing.Stats{N: 1000, Median: 1.31, Mean: 1.36, P90: 1.4},
			load:  36.1,
			extra: map[string]float64{"p95_ms": 1.46, "p99_ms": 1.89, "p999_ms": 3.38},
		})
	})
	t.Run("failed", func(t *testing.T) {
		_, err := ParsePerfTest("Error: [ONNXRuntimeError] : 3 : NO_SUCHFILE : Load model from x.onnx failed:File doesn't exist\n")
		if !errors.Is(err, ErrNoSummary) || !strings.Contains(err.Error(), "NO_SUCHFILE") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestArgv(t *testing.T) {
	got := TrtexecArgv("trtexec", "m.onnx", TrtexecOptions{FP16: true, Shapes: "input:1x3x224x224", DurationS: 5, ExportLayers: "p.json"})
	for _, w := range []string{"--onnx=m.onnx", "--useSpinWait", "--useCudaGraph", "--avgRuns=1", "--percentile=10,90,95,99", "--fp16", "--shapes=input:1x3x224x224", "--duration=5", "--separateProfileRun", "--exportProfile=p.json"} {
		if !slices.Contains(got, w) {
			t.Errorf("trtexec argv %v lacks %s", got, w)
		}
	}
	got = PerfTestArgv("onnxruntime_perf_test", "m.onnx", PerfTestOptions{Threads: 1, Provider: "nnapi"})
	if strings.Join(got, " ") != "onnxruntime_perf_test -I -m times -r 100 -e nnapi -s -y 1 -c 1 -x 1 m.onnx" {
		t.Errorf("perf_test argv %v", got)
	}
}

// fuzzCheck holds for every parse that succeeds: numbers are finite and
// the result marshals.
func fuzzCheck(t *testing.T, r wire.Result) {
	for _, v := range []float64{r.Stats.Median, r.Stats.Mean, r.Stats.Min, r.Stats.Max, r.Stats.P10, r.Stats.P90, r.Stats.Std, r.Stats.CoV, r.LoadMS, r.FirstRunMS} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite statistic in %+v", r)
		}
	}
	for k, v := range r.Extra {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite extra %s", k)
		}
	}
	if r.Stats.Median == 0 && r.Stats.Mean == 0 {
		t.Fatalf("parse succeeded without a median or mean: %+v", r)
	}
}

func FuzzParseTrtexec(f *testing.F) {
	for _, n := range []string{"trtexec-8.6.txt", "trtexec-7.1.txt", "trtexec-failed.txt"} {
		f.Add(sample(f, n))
	}
	f.Add("GPU Compute Time: median = 1e309 ms\nLatency: median = 1 ms")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := ParseTrtexec(out)
		if err == nil {
			fuzzCheck(t, r)
		}
	})
}

func FuzzParsePerfTest(f *testing.F) {
	for _, n := range []string{"perf_test-1.17.txt", "perf_test-total.txt", "perf_test-old.txt"} {
		f.Add(sample(f, n))
	}
	f.Fuzz(func(t *testing.T, out string) {
		r, err := ParsePerfTest(out)
		if err == nil {
			fuzzCheck(t, r)
		}
	})
}
