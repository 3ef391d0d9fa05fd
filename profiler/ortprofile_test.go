package profiler

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/supernet"
)

func ev(cat, name string, ts, dur int, args string) string {
	if args == "" {
		args = "{}"
	}
	return `{"cat":"` + cat + `","pid":1,"tid":2,"dur":` + itoa(dur) + `,"ts":` + itoa(ts) + `,"ph":"X","name":"` + name + `","args":` + args + `}`
}

func itoa(v int) string { return strconv.Itoa(v) }

const convArgs = `{"op_name":"Conv","provider":"CPUExecutionProvider","node_index":"3","input_type_shape":[{"float":[1,3,8,8]},{"float":[4,3,3,3]}],"output_type_shape":[{"float":[1,4,8,8]}]}`
const reluArgs = `{"op_name":"Relu","provider":"CPUExecutionProvider","node_index":4}`

// threeRuns is a profile of three runs of a two-node model; the first run
// is slow (allocations) and must not count.
var threeRuns = "[\n" + strings.Join([]string{
	ev("Session", "model_loading_array", 0, 100, ""),
	ev("Session", "session_initialization", 100, 100, ""),
	ev("Node", "conv_kernel_time", 1000, 900, convArgs),
	ev("Node", "conv_fence_before", 1000, 0, convArgs),
	ev("Node", "relu_kernel_time", 1900, 500, reluArgs),
	ev("Session", "model_run", 990, 1500, ""),
	ev("Node", "conv_kernel_time", 3000, 100, convArgs),
	ev("Node", "relu_kernel_time", 3100, 20, reluArgs),
	ev("Session", "model_run", 2990, 200, ""),
	ev("Node", "conv_kernel_time", 4000, 300, convArgs),
	ev("Node", "relu_kernel_time", 4300, 40, reluArgs),
	ev("Session", "model_run", 3990, 400, ""),
}, ",\n") + "\n]\n"

func TestParseORTProfile(t *testing.T) {
	p, err := ParseORTProfile(strings.NewReader(threeRuns))
	if err != nil {
		t.Fatal(err)
	}
	if p.Runs != 3 || p.Truncated {
		t.Errorf("runs %d truncated %v, want 3 false", p.Runs, p.Truncated)
	}
	if len(p.Nodes) != 2 {
		t.Fatalf("got %d nodes, want 2", len(p.Nodes))
	}
	conv, relu := p.Nodes[0], p.Nodes[1]
	if conv.Name != "conv" || conv.Op != "Conv" || conv.Provider != "CPUExecutionProvider" || conv.Index != 3 {
		t.Errorf("conv node = %+v", conv)
	}
	if len(conv.InputShapes) != 2 || conv.InputShapes[1][0] != 4 || conv.OutputShapes[0][1] != 4 {
		t.Errorf("conv shapes = %v -> %v", conv.InputShapes, conv.OutputShapes)
	}
	// First run skipped: conv medians over 0.1 and 0.3 ms.
	if conv.Stats.N != 2 || !near(conv.Stats.Median, 0.2) {
		t.Errorf("conv stats = %+v, want n=2 median 0.2", conv.Stats)
	}
	if relu.Index != 4 || !near(relu.Stats.Median, 0.03) {
		t.Errorf("relu = %+v", relu)
	}
	if !near(p.Run.Median, 0.3) || p.Run.N != 2 {
		t.Errorf("run stats = %+v", p.Run)
	}
	if !near(conv.Share+relu.Share, 1) || !near(p.Total(), 0.23) {
		t.Errorf("shares %v %v total %v", conv.Share, relu.Share, p.Total())
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestParseORTProfileTruncated(t *testing.T) {
	// Cut inside the last model_run event: what came before is kept.
	cut := threeRuns[:strings.LastIndex(threeRuns, `"model_run"`)]
	p, err := ParseORTProfile(strings.NewReader(cut))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Truncated || len(p.Nodes) != 2 || p.Runs != 2 {
		t.Errorf("truncated=%v nodes=%d runs=%d", p.Truncated, len(p.Nodes), p.Runs)
	}
	// Missing only the closing bracket.
	p, err = ParseORTProfile(strings.NewReader(strings.TrimSuffix(threeRuns, "]\n")))
	if err != nil || !p.Truncated {
		t.Errorf("no closing bracket: %v, %+v", err, p)
	}
}

func TestParseORTProfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"object", `{"cat":"Node"}`, "not a JSON array"},
		{"no nodes", "[" + ev("Session", "model_run", 0, 1, "") + "]", "no node events"},
		{"bad event", `[{"cat":3}]`, "event 1"},
		{"negative dur", "[" + ev("Node", "a_kernel_time", 0, -5, "") + "]", "bad ts or dur"},
		{"garbage after", "[" + ev("Node", "a_kernel_time", 0, 5, "") + "] x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseORTProfile(strings.NewReader(tc.in))
			if tc.want == "" {
				return // must simply not panic
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestParseORTProfileReal profiles a layer micro-model with the real ONNX
// Runtime and checks the breakdown against the runs it recorded.
func TestParseORTProfileReal(t *testing.T) {
	requireORT(t)
	sp, err := supernet.SpaceByName("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	l := sp.DistinctLayers(160)[20]
	model, err := export.LayerModel(l, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := ort.Open(model, ort.Options{IntraOpThreads: 1, ProfilePrefix: filepath.Join(dir, "prof")})
	if err != nil {
		t.Fatal(err)
	}
	const runs = 6
	for range runs {
		if err := s.RunInPlace(); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	f, err := os.Open(s.ProfileFile())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ParseORTProfile(f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Runs != runs || p.Truncated {
		t.Errorf("runs = %d (truncated %v), want %d", p.Runs, p.Truncated, runs)
	}
	ops := map[string]bool{}
	for _, n := range p.Nodes {
		ops[n.Op] = true
		if n.Stats.N != runs-1 {
			t.Errorf("node %s has %d kept runs, want %d", n.Name, n.Stats.N, runs-1)
		}
		if n.Provider != "CPUExecutionProvider" {
			t.Errorf("node %s provider %q", n.Name, n.Provider)
		}
	}
	if !ops["Conv"] && !ops["FusedConv"] {
		t.Errorf("no convolution among executed ops %v", ops)
	}
	// The kernels cannot take longer than the runs that contain them: per
	// run their sum is at most the run, so the same holds for the means.
	var sumMeans float64
	for _, n := range p.Nodes {
		sumMeans += n.Stats.Mean
	}
	if sumMeans <= 0 || sumMeans > p.Run.Mean*1.0001 {
		t.Errorf("sum of node means %.4f ms vs run mean %.4f ms", sumMeans, p.Run.Mean)
	}
}

func FuzzParseORTProfile(f *testing.F) {
	f.Add([]byte(threeRuns))
	f.Add([]byte(threeRuns[:len(threeRuns)/2]))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"cat":"Node","name":"x_kernel_time","args":{"input_type_shape":[{"float":[1,2]}]}}]`))
	if b, err := os.ReadFile("testdata/ort_profile_layer.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseORTProfile(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(p.Nodes) == 0 {
			t.Fatal("success without nodes")
		}
		var share float64
		for _, n := range p.Nodes {
			if n.Stats.N == 0 || n.Stats.Median < 0 || !finite(n.Stats.Median) {
				t.Fatalf("node %q stats %+v", n.Name, n.Stats)
			}
			share += n.Share
		}
		if p.Total() > 0 && (share < 0.999 || share > 1.001) {
			t.Fatalf("shares sum to %v", share)
		}
	})
}
