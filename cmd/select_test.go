package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/supernet"
)

// note10Predictor imports OFA's Note10 tables and fits a predictor through
// the CLI, returning its path.
func note10Predictor(t *testing.T) (shared, pred string) {
	t.Helper()
	return sharedDir(t), fitPredictor(t, importNote10(t, t.TempDir()))
}

func TestSelectNote10(t *testing.T) {
	shared, pred := note10Predictor(t)
	out := filepath.Join(t.TempDir(), "subnet.json")
	stdout, _, err := run(t, "select", "--predictor", pred, "--acc", filepath.Join(shared, "ofa-upstream/acc_predictor.pth"),
		"--max-latency", "20ms", "--max-memory", "40MB", "--max-params", "7M", "--max-flops", "300M", "--top", "3", "-o", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sel edgefit.Selection
	if err := json.Unmarshal([]byte(stdout), &sel); err != nil {
		t.Fatalf("%v in %.300s", err, stdout)
	}
	if len(sel.Top) == 0 || sel.AccuracyProxy {
		t.Fatalf("selection %+v", sel)
	}
	for _, c := range sel.Top {
		if c.LatencyMS > 20 || c.PeakMemory > 40e6 || c.Params > 7e6 || c.MACs > 300e6 {
			t.Errorf("candidate breaks a limit: %+v", c)
		}
		if c.Config.R%16 != 0 || c.Config.R < 160 {
			t.Errorf("resolution %d is outside what the tutorial predictor was trained on", c.Config.R)
		}
	}
	// OFA's own evolution reached 0.8068 at 20 ms with this predictor and table.
	if sel.Top[0].Accuracy < 0.8 {
		t.Errorf("best accuracy %.4f is far below OFA's 0.8068 at 20 ms", sel.Top[0].Accuracy)
	}
	s, _ := supernet.NewSpace(1.2)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c, err := supernet.ParseConfig(s, data)
	if err != nil || c != sel.Top[0].Config {
		t.Fatalf("written config %s (%v) is not the best %v", data, err, sel.Top[0].Config)
	}
	for _, ext := range []string{".json", ".front.json", ".front.csv", ".front.png", ".front.svg"} {
		st, err := os.Stat(strings.TrimSuffix(out, ".json") + ext)
		if err != nil || st.Size() == 0 {
			t.Errorf("front file %s: %v", ext, err)
			continue
		}
		// Results are for others to read, like every file edgefit writes.
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", ext, st.Mode().Perm())
		}
	}
}

func TestSelectErrors(t *testing.T) {
	shared, pred := note10Predictor(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"infeasible", []string{"--max-latency", "1ms"}, ExitInfeasible, "latency"},
		{"bad unit", []string{"--max-latency", "20 furlongs"}, ExitUsage, "--max-latency"},
		{"no limit", nil, ExitUsage, "limit"},
		{"wrong width", []string{"--max-latency", "20ms", "--checkpoint", filepath.Join(shared, "fixtures/ofa-mbv3-w1.0/supernet.pth")}, ExitUsage, "ofa-mbv3-w1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, append([]string{"select", "--predictor", pred, "--pareto=false"}, tc.args...)...)
			if err == nil || ExitCodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v (exit %d), want exit %d mentioning %q", err, ExitCodeOf(err), tc.code, tc.want)
			}
		})
	}
}
