package cmd

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// TestPredictorFitEval imports OFA's Note10 table, fits a predictor through
// the CLI, then evaluates it on subnets whose "measured" latency is the
// table sum stretched by a known factor: eval must report exactly that error.
func TestPredictorFitEval(t *testing.T) {
	shared := sharedDir(t)
	dir := t.TempDir()
	lutPath := filepath.Join(dir, "note10.lut.json")
	if _, _, err := run(t, "lut", "import", "--space", "ofa-mbv3-w1.2", filepath.Join(shared, "ofa-upstream/note10"), "-o", lutPath); err != nil {
		t.Fatal(err)
	}
	predPath := filepath.Join(dir, "note10.pred.json")
	out, _, err := run(t, "predictor", "fit", lutPath, "-o", predPath, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"resolution_holdout"`) {
		t.Fatalf("fit --json lacks the held-out report:\n%.500s", out)
	}
	p, err := predictor.LoadLatencyPredictor(predPath)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lut.Load(lutPath)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := supernet.NewSpace(1.2)
	s, _ = s.WithResolutions([]int{160, 176, 192, 208, 224})
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 40 {
		c := s.RandomConfig(rng)
		f := 1.07 // within 10% but not 5%
		if i%2 == 0 {
			f = 1.02
		}
		v := p.SumMS(c) * f
		tbl.Networks = append(tbl.Networks, lut.NetworkMeasurement{Config: c, Stats: timing.Stats{Median: v, Mean: v, N: 1}})
	}
	heldout := filepath.Join(dir, "heldout.lut.json")
	if err := tbl.WriteFile(heldout); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "predictor", "eval", predPath, heldout, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m predictor.Metrics
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.N != 40 || m.Within10 != 1 || m.Within5 < 0.45 || m.Within5 > 0.55 {
		t.Fatalf("eval metrics %+v, want 40 subnets all within 10%% and half within 5%%", m)
	}
	if _, _, err := run(t, "predictor", "eval", predPath, lutPath); err == nil || !strings.Contains(err.Error(), "no measured whole subnets") {
		t.Fatalf("eval on a table without subnets: %v", err)
	}
	if _, _, err := run(t, "predictor", "fit", filepath.Join(dir, "missing.json"), "-o", predPath); err == nil {
		t.Fatal("fit of a missing table succeeded")
	}
}
