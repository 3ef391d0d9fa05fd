package predictor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

func TestReportText(t *testing.T) {
	_, rep, err := Fit(note10(t), FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"latency predictor for ofa-mbv3-w1.2", "480 measured layers", "expanded_conv", "5-fold CV", "r=192 subnet sums: n=200", "no calibration: 0 measured subnets"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	t.Log("\n" + out)
}

func TestLoadAccuracyModel(t *testing.T) {
	w12, _ := supernet.NewSpace(1.2)
	w10, _ := supernet.NewSpace(1.0)
	tut := filepath.Join(sharedDir(t), "ofa-upstream", "acc_predictor.pth")
	m, err := LoadAccuracyModel(w12, tut, MLPOptions{})
	if err != nil || !strings.Contains(m.Source(), "tutorial") {
		t.Errorf("tutorial: %v, %v", m, err)
	}
	if _, err := LoadAccuracyModel(w10, tut, MLPOptions{}); err == nil || !strings.Contains(err.Error(), "trained for ofa-mbv3-w1.2") {
		t.Errorf("tutorial on w1.0: %v", err)
	}
	if m, err := LoadAccuracyModel(w10, "", MLPOptions{}); err != nil || !IsProxy(m) {
		t.Errorf("no source: %v %v", m, err)
	}
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "acc.csv")
	os.WriteFile(csvPath, samplesCSV(t, 60, true), 0o644)
	m, err = LoadAccuracyModel(w12, csvPath, MLPOptions{})
	if err != nil || !strings.Contains(m.Source(), "acc.csv") {
		t.Fatalf("csv: %v %v", m, err)
	}
	jsonPath := filepath.Join(dir, "acc.json")
	if err := m.(interface{ Save(string) error }).Save(jsonPath); err != nil { // ridge or MLP, as chosen
		t.Fatal(err)
	}
	if _, err := LoadAccuracyModel(w12, jsonPath, MLPOptions{}); err != nil {
		t.Error(err)
	}
	if _, err := LoadAccuracyModel(w10, jsonPath, MLPOptions{}); err == nil {
		t.Error("w1.2 fitted model accepted for w1.0")
	}
	if _, err := LoadAccuracyModel(w12, filepath.Join(dir, "acc.onnx"), MLPOptions{}); err == nil || !strings.Contains(err.Error(), `unknown kind ".onnx"`) {
		t.Errorf("onnx: %v", err)
	}
}
