package cmd

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// accuracyCSV writes n random subnets of s at resolutions rs with a
// made-up accuracy (percent) that depends on kernels, expand ratios and
// resolution, in the ks,e,d,r,accuracy form.
func accuracyCSV(t *testing.T, s *supernet.Space, n int, rs []int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	var b strings.Builder
	b.WriteString("ks,e,d,r,accuracy\n")
	join := func(v []int) string { return strings.Trim(fmt.Sprint(v), "[]") }
	for range n {
		c := s.RandomConfig(rng)
		c.R = rs[rng.IntN(len(rs))]
		c = c.Canonical(s)
		capacity := 0.0
		for st, d := range c.D {
			for j := 0; j < d; j++ {
				capacity += float64(c.KS[st*supernet.MaxDepth+j]*c.E[st*supernet.MaxDepth+j]) / 42
			}
		}
		acc := 76 + 2*math.Tanh((capacity-6)/3) + 1.5*float64(c.R-192)/32 + 0.1*rng.NormFloat64()
		fmt.Fprintf(&b, "%s,%s,%s,%d,%.2f\n", join(c.KS[:]), join(c.E[:]), join(c.D[:]), c.R, acc)
	}
	path := filepath.Join(t.TempDir(), "measured.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPredictorFitAccuracy(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	csvPath := accuracyCSV(t, s, 120, []int{160, 192, 224})
	out := filepath.Join(t.TempDir(), "acc.json")
	stdout, _, err := run(t, "predictor", "fit-accuracy", csvPath, "--space", "ofa-mbv3-w1.0", "-o", out, "--epochs", "20", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Output string                    `json:"output"`
		Source string                    `json:"accuracy_source"`
		Choice *predictor.AccuracyChoice `json:"choice"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %.300s", err, stdout)
	}
	ch := res.Choice
	if res.Output != out || ch == nil || ch.Ridge == nil || ch.MLP == nil || ch.MLP.Epochs != 20 || ch.Ridge.Samples != 120 || !ch.Ridge.Percent {
		t.Fatalf("result %s", stdout)
	}
	for _, key := range []string{`"chosen"`, `"cv_rmse_pct_points"`, `"hidden_layers"`, `"base_acc"`, `"resolutions"`} {
		if !strings.Contains(stdout, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	m, err := predictor.LoadAccuracyModel(s, out, predictor.MLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source() != res.Source || predictor.FitChoice(m).Chosen != ch.Chosen {
		t.Errorf("saved model %q (%s), reported %q (%s)", m.Source(), predictor.FitChoice(m).Chosen, res.Source, ch.Chosen)
	}

	stdout, _, err = run(t, "predictor", "fit-accuracy", csvPath, "--space", "ofa-mbv3-w1.0", "-o", out, "--epochs", "20")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ridge  CV RMSE", "MLP    CV RMSE", "chosen: ", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{csvPath, "--space", "ofa-mbv3-w1.0"}, "-o is required"},
		{[]string{csvPath, "-o", out}, "--space is required"},
		{[]string{csvPath, "--space", "resnet", "-o", out}, "unknown search space"},
	} {
		_, _, err := run(t, append([]string{"predictor", "fit-accuracy"}, tc.args...)...)
		if ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want a usage error with %q", tc.args, err, ExitCodeOf(err), tc.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("ks,e,d,r,accuracy\n"), 0o644)
	if _, _, err := run(t, "predictor", "fit-accuracy", bad, "--space", "ofa-mbv3-w1.0", "-o", out); err == nil || !strings.Contains(err.Error(), "no samples") {
		t.Errorf("empty CSV: %v", err)
	}
}

// TestSelectFitsAccuracyCSV: select with --acc on a CSV fits both models
// and reports them.
func TestSelectFitsAccuracyCSV(t *testing.T) {
	_, pred := note10Predictor(t)
	s, _ := supernet.NewSpace(1.2)
	csvPath := accuracyCSV(t, s, 60, []int{160, 176, 192, 208, 224})
	stdout, _, err := run(t, "select", "--predictor", pred, "--acc", csvPath, "--max-latency", "20ms", "--pareto=false", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sel edgefit.Selection
	if err := json.Unmarshal([]byte(stdout), &sel); err != nil {
		t.Fatalf("%v in %.300s", err, stdout)
	}
	if sel.AccuracyFit == nil || sel.AccuracyFit.Ridge == nil || sel.AccuracyFit.MLP == nil || !strings.Contains(sel.AccuracySource, "chosen") || len(sel.Top) == 0 {
		t.Fatalf("selection %.600s", stdout)
	}
}
