package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/supernet"
)

// quickRunArgs keep 'edgefit run' short: one resolution, few whole subnets,
// brief timing.
var quickRunArgs = []string{"--res", "128", "--networks", "3", "--warmup", "1", "--min-runs", "5", "--max-runs", "10",
	"--max-time", "200ms", "--drift", "30", "--max-cooldown", "0", "--generations", "60", "--no-progress"}

func runPipeline(t *testing.T, target string, extra ...string) (*edgefit.RunResult, string, error) {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"run", target, "-o", out, "--json", "--lut-cache", filepath.Join(out, "cache")}, quickRunArgs...)
	stdout, stderr, err := run(t, append(args, extra...)...)
	var rep edgefit.RunResult
	if stdout != "" {
		if jerr := json.Unmarshal([]byte(stdout), &rep); jerr != nil {
			t.Fatalf("run --json output: %v\n%.400s\nstderr:\n%s", jerr, stdout, stderr)
		}
	}
	if err != nil && ExitCodeOf(err) != ExitMismatch {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr)
	}
	return &rep, out, err
}

// checkRunOutputs checks what every run leaves in its directory.
func checkRunOutputs(t *testing.T, rep *edgefit.RunResult, dir string) {
	t.Helper()
	for _, f := range []string{"model.onnx", "subnet.json", "device.lut.json", "device.pred.json", "report.md", "report.json", "pareto.front.png", "pareto.front.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		} else if st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", f, st.Mode().Perm())
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"## Chosen subnet", "## Pareto front", "![Pareto front", "## Latency predictor", "## Device and settings", "Untrained weights", "proxy"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if !rep.Verified || rep.VerifyDiff > rep.VerifyLimit {
		t.Errorf("exported model differs from the subnet by %g", rep.VerifyDiff)
	}
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := export.ReadMetadata(model)
	if err != nil {
		t.Fatal(err)
	}
	last := rep.Attempts[len(rep.Attempts)-1]
	s, _ := supernet.NewSpace(1.0)
	if c, err := supernet.ParseConfig(s, []byte(meta[export.KeyConfig])); err != nil || c != last.Chosen.Config {
		t.Errorf("model metadata config %s (%v), want %v", meta[export.KeyConfig], err, last.Chosen.Config)
	}
	if meta[export.KeyPredictionPrefix+"latency_ms"] == "" {
		t.Errorf("model metadata lacks the predicted latency: %v", meta)
	}
}

func TestRunLocal(t *testing.T) {
	ag := needAgent(t)
	rep, dir, err := runPipeline(t, "local", "--agent", ag, "--max-latency", "40ms", "--max-memory", "60MB")
	if err != nil {
		t.Fatalf("run missed a generous limit: %v", err)
	}
	checkRunOutputs(t, rep, dir)
	w10, _ := supernet.NewSpace(1.0)
	maxCfg := w10.MaxConfig(128)
	if rep.Attempts[0].Chosen.Config != maxCfg {
		t.Fatalf("with a generous limit run should pick the largest subnet, got %v", rep.Attempts[0].Chosen.Config)
	}
	if rep.LUTReused || len(rep.Attempts) != 1 || !rep.Attempts[0].Met || !rep.Untrained || !rep.AccuracyProxy {
		t.Errorf("report %+v", rep)
	}
	a := rep.Attempts[0]
	if a.Chosen.PeakMemory > 60e6 || a.Chosen.LatencyMS > 40 || a.MeasuredMS <= 0 {
		t.Errorf("chosen %+v measured %.2f ms", a.Chosen, a.MeasuredMS)
	}

	// The same device and settings reuse the cached table.
	args := append([]string{"run", "local", "-o", dir, "--json", "--lut-cache", filepath.Join(dir, "cache"), "--agent", ag, "--max-latency", "40ms"}, quickRunArgs...)
	stdout, stderr, err := run(t, args...)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	var again edgefit.RunResult
	if err := json.Unmarshal([]byte(stdout), &again); err != nil {
		t.Fatal(err)
	}
	if !again.LUTReused || !strings.Contains(stderr, "reusing the lookup table") {
		t.Errorf("second run did not reuse the cached table (reused=%v):\n%s", again.LUTReused, stderr)
	}

	// A predictor that thinks the device is much faster than it is picks
	// a subnet that misses the limit on the device: run must select again
	// under a tighter limit, and say so.
	// The limit sits 20% below the predicted latency of the largest
	// subnet at this resolution (from the table, so load on the machine
	// cannot move it), so a predictor halving every latency picks a subnet
	// that is too slow on the device.
	limit := 0.8 * a.Chosen.LatencyMS
	args = append([]string{"run", "local", "-o", t.TempDir(), "--json", "--lut", again.LUT, "--agent", ag,
		"--max-latency", strings.TrimRight(strings.TrimRight(jsonFloat(limit), "0"), ".") + "ms", "--latency-scale", "0.5"}, quickRunArgs...)
	stdout, stderr, err = run(t, args...)
	var biased edgefit.RunResult
	if jerr := json.Unmarshal([]byte(stdout), &biased); jerr != nil {
		t.Fatalf("biased run: %v / %v\n%s", jerr, err, stderr)
	}
	if len(biased.Attempts) < 2 {
		t.Fatalf("a measured miss did not trigger a second selection: %+v\n%s", biased.Attempts, stderr)
	}
	if biased.Attempts[0].Met || biased.Attempts[1].Limits.MaxLatencyMS >= biased.Attempts[0].Limits.MaxLatencyMS {
		t.Errorf("attempts %+v: the first should miss and the second search under a tighter limit", biased.Attempts)
	}
	if !strings.Contains(stderr, "selecting again under") {
		t.Errorf("run did not say it selects again:\n%s", stderr)
	}
}

func jsonFloat(f float64) string { b, _ := json.Marshal(f); return string(b) }

func TestRunSSH(t *testing.T) {
	ag := needAgent(t)
	sshd := devicetest.StartSSHD(t)
	rep, dir, err := runPipeline(t, sshd.URL, "--agent", ag, "--identity", sshd.Options.Identity,
		"--known-hosts", sshd.Options.KnownHosts, "--ssh-config", "none", "--max-latency", "40ms")
	if err != nil {
		t.Fatalf("run over ssh: %v", err)
	}
	checkRunOutputs(t, rep, dir)
	if rep.Target != sshd.URL || rep.Bench == nil || rep.Bench.Target != sshd.URL {
		t.Errorf("report target %q, bench %+v", rep.Target, rep.Bench)
	}
}

func TestRunBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "local", "--max-latency", "10ms"}, ExitUsage, "-o is required"},
		{[]string{"run", "local", "-o", t.TempDir()}, ExitUsage, "no limit"},
		{[]string{"run", "local", "-o", t.TempDir(), "--max-latency", "10ms", "--space", "w2"}, ExitUsage, "unknown search space"},
		{[]string{"run", "ssh://nobody@127.0.0.1:1", "-o", t.TempDir(), "--max-latency", "10ms", "--ssh-config", "none", "--known-hosts", filepath.Join(t.TempDir(), "kh")}, ExitFailure, "127.0.0.1:1"},
	} {
		_, _, err := run(t, tc.args...)
		if err == nil || ExitCodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v (exit %d), want exit %d mentioning %q", tc.args, err, ExitCodeOf(err), tc.code, tc.want)
		}
	}
}
