package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/supernet"
)

func TestBenchCommand(t *testing.T) {
	ag := needAgent(t)
	sp, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	model := filepath.Join(t.TempDir(), "min.onnx")
	if err := export.WriteFile(model, supernet.Init(sp, sp.MinConfig(96), 1), export.Metadata{}); err != nil {
		t.Fatal(err)
	}
	quick := []string{"--agent", ag, "--min-runs", "5", "--max-runs", "20", "--max-time", "300ms"}
	stdout, stderr, err := run(t, append([]string{"bench", "local", model, "--layers", "--json"}, quick...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res profiler.BenchResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	// Interleaved rounds keep only the samples near the fastest: N counts
	// those, at least the fastest.
	if !(res.Stats.Median > 0) || res.Stats.N < 1 || res.Stop != "rounds" || res.Layers == nil || len(res.Layers.Nodes) < 20 {
		t.Errorf("result: stats %+v, layers %v", res.Stats, res.Layers != nil)
	}

	stdout, _, err = run(t, append([]string{"bench", "local", model, "--layers", "--top", "5"}, quick...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "median") || !strings.Contains(stdout, "Conv") || strings.Count(stdout, "CPU") < 5 {
		t.Errorf("table output:\n%s", stdout)
	}

	bad := filepath.Join(t.TempDir(), "bad.onnx")
	os.WriteFile(bad, []byte("not onnx"), 0o644)
	if _, _, err := run(t, append([]string{"bench", "local", bad}, quick...)...); err == nil {
		t.Error("a file that is not ONNX was measured")
	}
	if _, _, err := run(t, "bench", "local"); ExitCodeOf(err) != ExitUsage {
		t.Errorf("missing model: %v", err)
	}
}
