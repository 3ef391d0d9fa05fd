package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

// initORT loads ONNX Runtime ($EDGEFIT_ORT_LIB or the `make ort` cache) or
// skips with what to do.
func initORT(t testing.TB) {
	t.Helper()
	testfix.Need(t, testfix.ORT, ort.Init(""))
}

func tinynet(t testing.TB) string {
	p, err := filepath.Abs(filepath.Join("testdata", "tinynet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMeasure(t *testing.T) {
	initORT(t)
	res, err := Measure(context.Background(), wire.ModelSpec{ID: "tiny", Path: tinynet(t), Runs: 20, Warmup: 2, Threads: 1, Outputs: -1}, "")
	if err != nil || res.Error != "" {
		t.Fatalf("measure: %v %s", err, res.Error)
	}
	st := res.Stats
	if st.N != 20 || res.Stop != wire.StopRuns {
		t.Errorf("n = %d stop = %q, want 20 runs", st.N, res.Stop)
	}
	if !(st.Min > 0 && st.Min <= st.P10 && st.P10 <= st.Median && st.Median <= st.P90 && st.P90 <= st.Max) {
		t.Errorf("stats out of order: %+v", st)
	}
	if res.LoadMS <= 0 || res.FirstRunMS <= 0 || res.PeakRSSBytes <= 0 {
		t.Errorf("load %v first %v rss %v", res.LoadMS, res.FirstRunMS, res.PeakRSSBytes)
	}
	if res.Provider != "CPUExecutionProvider" || res.Threads != 1 || res.Batch != 1 || res.Source != wire.SourceAgent {
		t.Errorf("result header = %+v", res)
	}
	if len(res.Outputs) != 1 || res.Outputs[0].Name != "logits" || !slices.Equal(res.Outputs[0].Shape, []int64{1, 10}) || len(res.Outputs[0].Values) != 10 {
		t.Fatalf("outputs = %+v", res.Outputs)
	}
	var sum float64
	for _, v := range res.Outputs[0].Values {
		sum += float64(v)
	}
	if math.Abs(sum-res.Outputs[0].Sum) > 1e-9 || res.Outputs[0].AbsSum == 0 {
		t.Errorf("sum %v vs values %v", res.Outputs[0].Sum, sum)
	}
}

func TestMeasureInputsDeterministic(t *testing.T) {
	initORT(t)
	run := func(seed uint64, shape []int64, batch int) wire.Result {
		res, err := Measure(context.Background(), wire.ModelSpec{ID: "d", Path: tinynet(t), Runs: 1, Outputs: -1, Seed: seed, InputShape: shape, Batch: batch}, "")
		if err != nil || res.Error != "" {
			t.Fatalf("measure: %v %s", err, res.Error)
		}
		return res
	}
	a, b, c := run(1, nil, 0), run(1, nil, 0), run(2, nil, 0)
	if !slices.Equal(a.Outputs[0].Values, b.Outputs[0].Values) {
		t.Error("same seed, different outputs")
	}
	if slices.Equal(a.Outputs[0].Values, c.Outputs[0].Values) {
		t.Error("different seeds, same outputs")
	}
	if r := run(1, nil, 3); !slices.Equal(r.Outputs[0].Shape, []int64{3, 10}) {
		t.Errorf("batch 3 output shape %v", r.Outputs[0].Shape)
	}
	if r := run(1, []int64{2, 3, 64, 64}, 0); !slices.Equal(r.Outputs[0].Shape, []int64{2, 10}) {
		t.Errorf("input_shape [2,3,64,64] output shape %v", r.Outputs[0].Shape)
	}
}

func TestMeasureStoppingRules(t *testing.T) {
	initORT(t)
	tests := []struct {
		name string
		spec wire.ModelSpec
		stop string
		n    func(int) bool
	}{
		{"loose CI stops early", wire.ModelSpec{TargetCI: 0.9, MinRuns: 6, MaxRuns: 500}, wire.StopCI, func(n int) bool { return n < 500 }},
		{"impossible CI hits max runs", wire.ModelSpec{TargetCI: 1e-12, MinRuns: 6, MaxRuns: 15}, wire.StopMaxRuns, func(n int) bool { return n == 15 }},
		{"time cap", wire.ModelSpec{TargetCI: 1e-12, MinRuns: 6, MaxRuns: 1000000, MaxSeconds: 0.05}, wire.StopMaxTime, func(n int) bool { return n >= 6 && n < 1000000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.ID, spec.Path = "s", tinynet(t)
			res, err := Measure(context.Background(), spec, "")
			if err != nil || res.Error != "" {
				t.Fatalf("%v %s", err, res.Error)
			}
			if res.Stop != tt.stop || !tt.n(res.Stats.N) {
				t.Errorf("stop %q after %d runs, want %q", res.Stop, res.Stats.N, tt.stop)
			}
			if tt.stop == wire.StopCI && !(res.Stats.CI95 > 0 && res.Stats.CI95 <= 0.9) {
				t.Errorf("stopped on CI with ci95 %v", res.Stats.CI95)
			}
		})
	}
}

func TestStopRule(t *testing.T) {
	flat := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = 1 + float64(i%3)*1e-4
		}
		return s
	}
	wide := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(1 + i)
		}
		return s
	}
	tests := []struct {
		rule    stopRule
		samples []float64
		timed   time.Duration
		want    string
	}{
		{stopRule{minRuns: 5, maxRuns: 5}, flat(4), 0, ""},
		{stopRule{minRuns: 5, maxRuns: 5}, flat(5), 0, wire.StopRuns},
		{stopRule{minRuns: 10, maxRuns: 100, targetCI: 0.01}, flat(9), 0, ""},
		{stopRule{minRuns: 10, maxRuns: 100, targetCI: 0.01}, flat(10), 0, wire.StopCI},
		{stopRule{minRuns: 10, maxRuns: 100, targetCI: 0.01}, wide(10), 0, ""},
		{stopRule{minRuns: 10, maxRuns: 100, targetCI: 0.01}, wide(100), 0, wire.StopMaxRuns},
		{stopRule{minRuns: 10, maxRuns: 100, targetCI: 0.01, maxTime: time.Second}, wide(20), 2 * time.Second, wire.StopMaxTime},
		{stopRule{minRuns: 10, maxRuns: 100, targetCI: 0.01, maxTime: time.Second}, wide(5), 2 * time.Second, ""}, // min runs first
		{stopRule{minRuns: 2, maxRuns: 100, targetCI: 0.5}, wide(3), 0, ""},                                       // no CI below 6 samples
	}
	for i, tt := range tests {
		if got := tt.rule.check(tt.samples, tt.timed); got != tt.want {
			t.Errorf("case %d: %+v with %d samples: %q, want %q", i, tt.rule, len(tt.samples), got, tt.want)
		}
	}
}

func TestMeasureErrors(t *testing.T) {
	initORT(t)
	tests := []struct {
		spec wire.ModelSpec
		want string
	}{
		{wire.ModelSpec{ID: "m", Path: "/nonexistent/model.onnx"}, "no such file"},
		{wire.ModelSpec{ID: "m", Path: tinynet(t), Provider: "nnapi"}, "NnapiExecutionProvider"},
		{wire.ModelSpec{ID: "m", Path: tinynet(t), Provider: "xnnpack"}, "XnnpackExecutionProvider"},
		{wire.ModelSpec{ID: "m", Path: tinynet(t), Provider: "tpu"}, "tpu"},
		{wire.ModelSpec{ID: "m", Path: tinynet(t), InputShape: []int64{1, 4, 64, 64}}, "input"},
		{wire.ModelSpec{ID: "m", Path: tinynet(t), CPUs: []int{4095}}, "online cpus"},
		{wire.ModelSpec{ID: "m", Path: tinynet(t), Optimization: "max"}, "max"},
	}
	for _, tt := range tests {
		res, err := Measure(context.Background(), tt.spec, "")
		if err != nil {
			t.Errorf("%+v: returned error %v; model problems belong in Result.Error", tt.spec, err)
		}
		if res.Error == "" || !strings.Contains(res.Error, tt.want) {
			t.Errorf("%+v: error %q, want it to mention %q", tt.spec, res.Error, tt.want)
		}
	}
}

func TestMeasurePinning(t *testing.T) {
	initORT(t)
	res, err := Measure(context.Background(), wire.ModelSpec{ID: "p", Path: tinynet(t), Runs: 3, CPUs: []int{0}}, "")
	if err != nil || res.Error != "" {
		t.Fatalf("%v %s", err, res.Error)
	}
	if !slices.Equal(res.CPUs, []int{0}) {
		t.Errorf("result cpus %v, want [0]", res.CPUs)
	}
	// The pinned thread died with its goroutine: this one is not pinned.
	if cpus, _ := threadCPUs(); runtime.NumCPU() > 1 && len(cpus) < 2 {
		t.Errorf("pinning leaked to another thread: %v", cpus)
	}
}

// TestPinningReachesORTThreads checks that ONNX Runtime's worker threads,
// created from the pinned thread, carry its CPU mask.
func TestPinningReachesORTThreads(t *testing.T) {
	initORT(t)
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	done := make(chan error, 1)
	var pinnedThreads int
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		if err := pinThread([]int{1}); err != nil {
			done <- err
			return
		}
		before := threadsPinnedTo("1")
		sess, err := ort.OpenFile(tinynet(t), ort.Options{IntraOpThreads: 2})
		if err != nil {
			done <- err
			return
		}
		pinnedThreads = threadsPinnedTo("1") - before
		sess.Close()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if pinnedThreads < 1 {
		t.Errorf("ONNX Runtime started %d threads pinned to cpu 1, want its worker", pinnedThreads)
	}
}

// threadsPinnedTo counts this process's threads whose allowed CPU list is list.
func threadsPinnedTo(list string) int {
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	n := 0
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok && strings.TrimSpace(v) == list {
				n++
			}
		}
	}
	return n
}

func TestMeasureProfile(t *testing.T) {
	initORT(t)
	dir := t.TempDir()
	res, err := Measure(context.Background(), wire.ModelSpec{ID: "prof/1", Path: tinynet(t), Runs: 3, Profile: true}, dir)
	if err != nil || res.Error != "" {
		t.Fatalf("%v %s", err, res.Error)
	}
	if filepath.Dir(res.ProfileFile) != dir || !strings.HasPrefix(filepath.Base(res.ProfileFile), "profile-prof_1") {
		t.Fatalf("profile file %q, want one in %s", res.ProfileFile, dir)
	}
	b, err := os.ReadFile(res.ProfileFile)
	if err != nil || !bytes.Contains(b, []byte("_kernel_time")) {
		t.Errorf("profile %s lacks kernel events (%v)", res.ProfileFile, err)
	}
}

func TestMeasureCancelled(t *testing.T) {
	initORT(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Measure(ctx, wire.ModelSpec{ID: "c", Path: tinynet(t), Runs: 1000}, "")
	if err == nil || res.Error == "" {
		t.Fatalf("cancelled measure: %v %+v", err, res)
	}
}

func writeManifest(t *testing.T, dir string, models ...wire.ModelSpec) string {
	t.Helper()
	b, err := json.Marshal(wire.Manifest{Format: wire.FormatVersion, Models: models})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMainRunAndResume(t *testing.T) {
	initORT(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.onnx")
	b, _ := os.ReadFile(tinynet(t))
	os.WriteFile(model, b, 0o644)
	manifest := writeManifest(t, dir,
		wire.ModelSpec{ID: "a", Path: "tiny.onnx", Runs: 3},
		wire.ModelSpec{ID: "b", Path: "tiny.onnx", Runs: 3, Batch: 2},
		wire.ModelSpec{ID: "broken", Path: "missing.onnx", Runs: 3},
	)
	out := filepath.Join(dir, "results.jsonl")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"run", "--out", out, manifest}, &stdout, &stderr)
	if code != ExitModelFailed {
		t.Fatalf("exit %d, want %d (one model fails): %s", code, ExitModelFailed, stderr.String())
	}
	var ids []string
	wire.ReadResults(&stdout, func(r wire.Result) error {
		ids = append(ids, r.ID)
		if (r.Error != "") != (r.ID == "broken") {
			t.Errorf("result %s error %q", r.ID, r.Error)
		}
		return nil
	})
	if strings.Join(ids, ",") != "a,b,broken" {
		t.Errorf("streamed ids %v", ids)
	}
	// A rerun skips what succeeded and retries the failure.
	stdout.Reset()
	Main(context.Background(), []string{"run", "--out", out, manifest}, &stdout, &stderr)
	ids = nil
	wire.ReadResults(&stdout, func(r wire.Result) error { ids = append(ids, r.ID); return nil })
	if strings.Join(ids, ",") != "broken" {
		t.Errorf("rerun measured %v, want only the failed model", ids)
	}
	f, _ := os.Open(out)
	defer f.Close()
	n := 0
	wire.ReadResults(f, func(wire.Result) error { n++; return nil })
	if n != 4 {
		t.Errorf("results file holds %d lines, want 4", n)
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"run"}, {"run", "a", "b"}, {"info", "x"}, {"--nope"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
		if !strings.Contains(stderr.String(), "usage") && !strings.Contains(stderr.String(), "flag provided") {
			t.Errorf("%v: stderr %q lacks usage", args, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m.json"), []byte(`{"format":1,"models":[{"id":"a","path":"x","thread":1}]}`), 0o644)
	initORT(t)
	if code := Main(context.Background(), []string{"run", filepath.Join(dir, "m.json")}, &stdout, &stderr); code != ExitFatal || !strings.Contains(stderr.String(), "unknown field") {
		t.Errorf("bad manifest: exit %d, %s", code, stderr.String())
	}
}

func TestMainInfo(t *testing.T) {
	initORT(t)
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"info"}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var info wire.Info
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.ORTVersion != ort.Version() || info.Format != wire.FormatVersion || !slices.Contains(info.Providers, "CPUExecutionProvider") || info.GOARCH != runtime.GOARCH {
		t.Errorf("info = %+v", info)
	}
}

func BenchmarkTinynetRun(b *testing.B) {
	initORT(b)
	sess, err := ort.OpenFile(tinynet(b), ort.Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	for b.Loop() {
		if err := sess.RunInPlace(); err != nil {
			b.Fatal(err)
		}
	}
}
