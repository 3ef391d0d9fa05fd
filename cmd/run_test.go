package cmd

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/predictor"
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
	if err != nil && ExitCodeOf(err) != ExitMismatch {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr)
	}
	return runResultOf(t, stdout, err), out, err
}

// runResultOf decodes what 'run --json' printed: the result, or, for a
// run that failed with one, the error's report holding it.
func runResultOf(t *testing.T, stdout string, err error) *edgefit.RunResult {
	t.Helper()
	var rep edgefit.RunResult
	doc := []byte(stdout)
	if err != nil {
		var e struct {
			Error    string          `json:"error"`
			ExitCode int             `json:"exit_code"`
			Result   json.RawMessage `json:"result"`
		}
		if jerr := json.Unmarshal(doc, &e); jerr != nil || e.ExitCode != ExitCodeOf(err) || e.Error != err.Error() {
			t.Fatalf("run --json failed (%v) and printed %.400s (%v)", err, stdout, jerr)
		}
		doc = e.Result
	}
	if len(doc) > 0 {
		if jerr := json.Unmarshal(doc, &rep); jerr != nil {
			t.Fatalf("run --json output: %v\n%.400s", jerr, stdout)
		}
	}
	return &rep
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
	for _, want := range []string{"## Chosen subnet", "## Pareto front", "![Pareto front", "## Latency predictor", "## Device and settings", "Untrained weights", "proxy",
		"Search: evolution (seed 1), ", "edgefit export --config subnet.json"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if rep.Untrained && (strings.Contains(string(md), "supernet's BatchNorm statistics") || !strings.Contains(string(md), "statistics are those of its seeded initialization")) {
		t.Errorf("report.md of an untrained run says the model keeps a supernet's statistics:\n%s", md)
	}
	// People read it: no Go values ("map[...]", "[128 160]", "<nil>"), no empty fields.
	if m := regexp.MustCompile(`map\[|\[\d+ \d+|<nil>| ,|, ,`).FindString(string(md)); m != "" {
		t.Errorf("report.md shows %q:\n%s", m, md)
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
	// A latency limit that no load on this machine makes the largest
	// subnet at r=128 miss.
	rep, dir, err := runPipeline(t, "local", "--agent", ag, "--max-latency", "1s", "--max-memory", "60MB")
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
	if a.Chosen.PeakMemory > 60e6 || a.Chosen.LatencyMS > 1000 || a.MeasuredMS <= 0 {
		t.Errorf("chosen %+v measured %.2f ms", a.Chosen, a.MeasuredMS)
	}

	// The same device and settings reuse the cached table.
	args := append([]string{"run", "local", "-o", dir, "--json", "--lut-cache", filepath.Join(dir, "cache"), "--agent", ag, "--max-latency", "1s"}, quickRunArgs...)
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
	// The device runs the largest subnet k times as slowly as its table
	// predicts (layer sums over-predict a whole network: k is often 0.7;
	// load raises it). With the limit at 40% of the table's latency, the
	// first choice misses unless k < 0.4, and a second selection finds a
	// subnet when k < 1.5 (the smallest subnet is predicted at about 27%
	// of the largest); with the limit at a tenth and the predictor twenty
	// times too fast, none is found unless k < 0.36.
	checkReselection(t, ag, again.LUT, a.Chosen.LatencyMS, 0.35, 0.4)
	checkReselection(t, ag, again.LUT, a.Chosen.LatencyMS, 0.05, 0.1)
}

// checkReselection runs with a predictor that thinks the device is 1/scale
// times as fast as its table says, under a limit of share times the
// largest subnet's table latency (the table's, so that load cannot move
// it), share above scale: the scaled predictor picks a subnet the device
// runs too slowly, so run must select again under a tighter limit, and
// say so. How much tighter follows from what the device measured, which
// load on the machine moves: the test computes each next limit from the
// attempts reported, and whether some subnet is predicted to meet it;
// when none is, run must keep the last model and still write its report.
func checkReselection(t *testing.T, ag, table string, largestMS, scale, share float64) {
	t.Helper()
	limit := share * largestMS
	dir := t.TempDir()
	args := append([]string{"run", "local", "-o", dir, "--json", "--lut", table, "--agent", ag,
		"--max-latency", strings.TrimRight(strings.TrimRight(jsonFloat(limit), "0"), ".") + "ms", "--latency-scale", jsonFloat(scale)}, quickRunArgs...)
	stdout, stderr, err := run(t, args...)
	biased := runResultOf(t, stdout, err)
	limit = biased.Limits.MaxLatencyMS // as parsed
	at := biased.Attempts
	if len(at) == 0 || at[0].Met || at[0].MeasuredMS <= limit {
		t.Fatalf("the first choice, predicted %v times too fast, met the limit %.3f ms: %+v", scale, limit, at)
	}
	if !strings.Contains(stderr, "selecting again under") {
		t.Errorf("run did not say it selects again:\n%s", stderr)
	}
	p, perr := predictor.LoadLatencyPredictor(filepath.Join(dir, "device.pred.json"))
	if perr != nil {
		t.Fatal(perr)
	}
	w10, _ := supernet.NewSpace(1.0)
	smallest := scale * p.LatencyMS(w10.MinConfig(128)) // the smallest prediction of any subnet there
	for i := range at {
		if at[i].Chosen.LatencyMS > at[i].Limits.MaxLatencyMS {
			t.Errorf("attempt %d chose a subnet predicted at %.3f ms under its limit %.3f ms", i, at[i].Chosen.LatencyMS, at[i].Limits.MaxLatencyMS)
		}
		if at[i].Met || i == len(at)-1 {
			continue
		}
		next := 0.98 * min(at[i].Limits.MaxLatencyMS, limit*at[i].Chosen.LatencyMS/at[i].MeasuredMS)
		if got := at[i+1].Limits.MaxLatencyMS; math.Abs(got-next) > 1e-9*next {
			t.Errorf("attempt %d searched under %.4f ms; after predicted %.3f ms and measured %.3f ms it should be %.4f ms", i+1, got, at[i].Chosen.LatencyMS, at[i].MeasuredMS, next)
		}
	}
	last := at[len(at)-1]
	if last.Met || len(at) == 3 { // retries (2) used up, or met
		return
	}
	// Run stopped early: the next limit must be one no subnet is
	// predicted to meet (5% slack: the regression need not make the
	// smallest subnet the fastest exactly), and the outcome is written.
	next := 0.98 * min(last.Limits.MaxLatencyMS, limit*last.Chosen.LatencyMS/last.MeasuredMS)
	if next > 1.05*smallest {
		t.Fatalf("run stopped after %d attempt(s), yet the next limit %.4f ms is above the smallest subnet's %.4f ms:\n%s", len(at), next, smallest, stderr)
	}
	if ExitCodeOf(err) != ExitMismatch || !strings.Contains(err.Error(), "no subnet is predicted to meet the tighter limit") {
		t.Errorf("run that could not select again ends with %v (exit %d)", err, ExitCodeOf(err))
	}
	md, rerr := os.ReadFile(filepath.Join(dir, "report.md"))
	if rerr != nil || !strings.Contains(string(md), "no subnet is predicted to meet the tighter limit") || !strings.Contains(string(md), "**misses**") {
		t.Errorf("the report of a run that could not select again (%v):\n%s", rerr, md)
	}
	t.Logf("measured %.2f ms against %.2f ms predicted: no subnet is predicted under the next limit %.4f ms (smallest %.4f ms)", last.MeasuredMS, last.Chosen.LatencyMS, next, smallest)
}

func jsonFloat(f float64) string { b, _ := json.Marshal(f); return string(b) }

func TestRunSSH(t *testing.T) {
	ag := needAgent(t)
	sshd := devicetest.StartSSHD(t)
	rep, dir, err := runPipeline(t, sshd.URL, "--agent", ag, "--identity", sshd.Options.Identity,
		"--known-hosts", sshd.Options.KnownHosts, "--ssh-config", "none", "--max-latency", "1s")
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
