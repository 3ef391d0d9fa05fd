package cmd

import (
	"encoding/json"
	"github.com/edgefit/edgefit"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSelectRL: --method rl reports like evolution (top list, front
// files) and stops at the prediction cap.
func TestSelectRL(t *testing.T) {
	shared, pred := note10Predictor(t)
	acc := filepath.Join(shared, "ofa-upstream/acc_predictor.pth")
	rlArgs := []string{"--method", "rl", "--rl-hidden", "32", "--rl-batch", "25", "--max-predictions", "600",
		"--max-latency", "25ms", "--max-memory", "40MB", "--top", "3"}
	stdout, _, err := run(t, append([]string{"select", "--predictor", pred, "--acc", acc, "--pareto=false", "--json"}, rlArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	var sel edgefit.Selection
	if err := json.Unmarshal([]byte(stdout), &sel); err != nil {
		t.Fatalf("%v in %.300s", err, stdout)
	}
	if len(sel.Top) != 3 || sel.Scored > 600 || sel.Scored < 100 {
		t.Fatalf("%d top subnets from %d predictions (cap 600)", len(sel.Top), sel.Scored)
	}
	for _, c := range sel.Top {
		if c.LatencyMS > 25 || c.PeakMemory > 40e6 {
			t.Errorf("candidate breaks a limit: %+v", c)
		}
	}
	// With the front (the default), the same files as evolution's.
	out := filepath.Join(t.TempDir(), "subnet.json")
	stdout, _, err = run(t, append([]string{"select", "--predictor", pred, "--acc", acc, "-o", out}, rlArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "Pareto front (") {
		t.Errorf("no front reported in\n%s", stdout)
	}
	for _, ext := range []string{".front.json", ".front.csv", ".front.png", ".front.svg"} {
		if st, err := os.Stat(strings.TrimSuffix(out, ".json") + ext); err != nil || st.Size() == 0 {
			t.Errorf("front file %s: %v", ext, err)
		}
	}
}

// TestSelectRLErrors: an infeasible limit ends --method rl exactly as it
// ends evolution (exit 3, the smallest latency named); bad rl settings are
// usage errors.
func TestSelectRLErrors(t *testing.T) {
	_, pred := note10Predictor(t)
	args := []string{"select", "--predictor", pred, "--pareto=false", "--max-latency", "1ms", "--max-memory", "40MB"}
	_, _, evoErr := run(t, args...)
	_, _, rlErr := run(t, append(args, "--method", "rl")...)
	if rlErr == nil || ExitCodeOf(rlErr) != ExitInfeasible || !strings.Contains(rlErr.Error(), "the smallest latency under the other limits is") {
		t.Fatalf("rl: error %v (exit %d), want exit %d naming the smallest latency", rlErr, ExitCodeOf(rlErr), ExitInfeasible)
	}
	if evoErr == nil || rlErr.Error() != evoErr.Error() {
		t.Errorf("rl: %v\nevolution: %v", rlErr, evoErr)
	}
	for _, tc := range []struct{ flag, want string }{
		{"--rl-lr=-1", "rl learning rate -1"},
		{"--rl-batch=-2", "rl samples per update -2"},
		{"--max-predictions=-5", "prediction cap -5"},
		{"--method=annealing", `unknown search method "annealing"`},
	} {
		_, _, err := run(t, "select", "--predictor", pred, "--max-latency", "20ms", "--method", "rl", tc.flag)
		if err == nil || ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v (exit %d), want exit %d mentioning %q", tc.flag, err, ExitCodeOf(err), ExitUsage, tc.want)
		}
	}
}
