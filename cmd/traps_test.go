package cmd

// Tests of the traps of issue 13: each reproduces what a new user did and
// checks the outcome against numbers computed apart from the command.
// Each of them failed on the code before the fix; they use only what a
// user types and reads (command lines, printed hints, JSON by key), so
// that they run against either.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// hintedCommand returns the arguments (after "edgefit") of the command
// that output prints after "next: ".
func hintedCommand(t *testing.T, output string) []string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		_, after, ok := strings.Cut(sc.Text(), "next: ")
		if !ok {
			continue
		}
		words := shellWords(strings.TrimRight(after, ")"))
		if len(words) < 2 || words[0] != "edgefit" {
			t.Fatalf("hint %q is not an edgefit command", after)
		}
		return words[1:]
	}
	t.Fatalf("no next: hint in\n%s", output)
	return nil
}

// shellWords splits a command line as a POSIX shell does, for the
// quoting edgefit's hints use (single quotes).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				words = append(words, w.String())
				w.Reset()
			}
			in = false
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

func decodeMap(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v in\n%.600s", err, out)
	}
	return m
}

// readConfigOf reads a config file that edgefit wrote.
func readConfigOf(t *testing.T, path string) supernet.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := supernet.ReadConfigFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return f.Config
}

// importNote10 imports OFA's Note10 tables at the given resolutions (all
// five when none) into dir and returns the table's path.
func importNote10(t *testing.T, dir string, rs ...string) string {
	t.Helper()
	src := filepath.Join(sharedDir(t), "ofa-upstream/note10")
	args := []string{"lut", "import", "--space", "ofa-mbv3-w1.2"}
	if len(rs) == 0 {
		args = append(args, src)
	}
	for _, r := range rs {
		args = append(args, filepath.Join(src, r+"_lookup_table.yaml"))
	}
	path := filepath.Join(dir, "note10-"+strings.Join(rs, "-")+".lut.json")
	if _, _, err := run(t, append(args, "-o", path)...); err != nil {
		t.Fatal(err)
	}
	return path
}

func fitPredictor(t *testing.T, table string, extra ...string) string {
	t.Helper()
	pred := strings.TrimSuffix(table, ".lut.json") + strings.Join(extra, "") + ".pred.json"
	if _, _, err := run(t, append([]string{"predictor", "fit", table, "-o", pred}, extra...)...); err != nil {
		t.Fatal(err)
	}
	return pred
}

// TestTrap1HintExportsTheSelectedSubnet: after select, the export
// command it prints writes the subnet it selected, in the predictor's
// space (not w1.0 by default) and from the checkpoint given to select;
// and a config file of one space refuses the other space's checkpoint.
func TestTrap1HintExportsTheSelectedSubnet(t *testing.T) {
	testfix.Need(t, testfix.ORT, ort.Init(""))
	shared := sharedDir(t)
	dir := t.TempDir()
	table := importNote10(t, dir)
	w10, _ := supernet.NewSpace(1.0)
	w12, _ := supernet.NewSpace(1.2)
	ck := filepath.Join(shared, "fixtures/ofa-mbv3-w1.0/supernet.pth")
	for _, tc := range []struct {
		name       string
		args       []string
		space      *supernet.Space
		checkpoint string
	}{
		{"w12", []string{"--predictor", fitPredictor(t, table)}, w12, ""},
		{"w10ck", []string{"--predictor", fitPredictor(t, table, "--space", "ofa-mbv3-w1.0"), "--checkpoint", ck}, w10, ck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(dir, tc.name+".json")
			stdout, stderr, err := run(t, append([]string{"select", "--max-latency", "25ms", "--pareto=false", "-o", cfgPath}, tc.args...)...)
			if err != nil {
				t.Fatalf("select: %v\n%s", err, stderr)
			}
			args := hintedCommand(t, stdout)
			for i := range args {
				if args[i] == "-o" && i+1 < len(args) {
					args[i+1] = filepath.Join(dir, tc.name+".onnx") // not into the package directory
				}
			}
			out, stderr, err := run(t, append(args, "--json")...)
			if err != nil {
				t.Fatalf("the hinted %q failed: %v\n%s", args, err, stderr)
			}
			res := decodeMap(t, out)
			c := readConfigOf(t, cfgPath)
			want := tc.space.Costs(c)
			other := w12
			if tc.space == w12 {
				other = w10
			}
			if res["space"] != tc.space.Name || res["macs"] != float64(want.MACs) {
				t.Fatalf("the hinted export wrote a %v subnet of %v MACs; select chose a %s subnet of %d MACs (in %s it has %d)",
					res["space"], res["macs"], tc.space.Name, want.MACs, other.Name, other.Costs(c).MACs)
			}
			if tc.checkpoint != "" && (res["untrained"] != false || res["checkpoint"] != tc.checkpoint) {
				t.Fatalf("the hinted export is untrained=%v from %v; select was given --checkpoint %s", res["untrained"], res["checkpoint"], tc.checkpoint)
			}
		})
	}
	// The w1.2 subnet's config file names its space: the w1.0
	// checkpoint is refused, with both named.
	_, _, err := run(t, "export", "--config", filepath.Join(dir, "w12.json"), "--checkpoint", ck, "-o", filepath.Join(dir, "x.onnx"))
	if err == nil || ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), "ofa-mbv3-w1.2") || !strings.Contains(err.Error(), "ofa-mbv3-w1.0") || !strings.Contains(err.Error(), ck) {
		t.Fatalf("a w1.2 config with a w1.0 checkpoint: %v (exit %d), want a usage error naming both spaces and the checkpoint", err, ExitCodeOf(err))
	}
}

// TestTrap2NoSilentExtrapolation: from a table measured at r=160 only,
// select stays at 160 unless told otherwise, refuses --res outside the
// measured range, naming it and the flag, and says so when allowed.
func TestTrap2NoSilentExtrapolation(t *testing.T) {
	dir := t.TempDir()
	pred := fitPredictor(t, importNote10(t, dir, "160"))
	base := []string{"select", "--predictor", pred, "--max-latency", "100ms", "--top", "5"}
	out, stderr, err := run(t, append(base, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	sel := decodeMap(t, out)
	for _, key := range []string{"top", "front"} {
		list, _ := sel[key].([]any)
		if key == "top" && len(list) == 0 {
			t.Fatalf("no subnets in %.300s", out)
		}
		for _, c := range list {
			if r := c.(map[string]any)["config"].(map[string]any)["r"]; r != 160.0 {
				t.Errorf("%s holds a subnet at r=%v: its latency is extrapolated from a table measured at r=160 only", key, r)
			}
		}
	}
	for _, r := range []string{"300", "100", "176"} {
		_, _, err := run(t, append(base, "--res", r)...)
		if err == nil || ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), "160") || !strings.Contains(err.Error(), "--allow-extrapolation") {
			t.Errorf("--res %s outside the measured 160: %v (exit %d), want a usage error naming 160 and --allow-extrapolation", r, err, ExitCodeOf(err))
		}
	}
	// Allowed, every output says so.
	out, _, err = run(t, append(base, "--allow-extrapolation", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if sel := decodeMap(t, out); sel["latency_extrapolated"] != true {
		t.Errorf("select --allow-extrapolation --json does not say latency_extrapolated: %.400s", out)
	}
	out, _, err = run(t, append(base, "--allow-extrapolation")...)
	if err != nil || !strings.Contains(out, "EXTRAPOLATED") {
		t.Errorf("select --allow-extrapolation does not say so in its table (%v):\n%s", err, out)
	}
}

// TestTrap4DemoLimitBindsOnAFastDevice: 'make demo' searches under the
// Makefile's DEMO_ARGS. On a device where even the largest subnet is
// fast (OFA's Note10 table at a fiftieth of its latencies), the demo's
// limit must still bind: below the largest subnet's predicted latency,
// and the choice is not the largest subnet.
func TestTrap4DemoLimitBindsOnAFastDevice(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(testfix.RepoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var demo []string
	for _, line := range strings.Split(string(mk), "\n") {
		if v, ok := strings.CutPrefix(line, "DEMO_ARGS ?="); ok {
			demo = strings.Fields(v)
		}
	}
	var limits []string
	for i := 0; i+1 < len(demo); i++ {
		if strings.HasPrefix(demo[i], "--max-") {
			limits = append(limits, demo[i], demo[i+1])
		}
	}
	if len(limits) != 2 || limits[0] != "--max-latency" {
		t.Fatalf("DEMO_ARGS %q: want one latency limit", demo)
	}
	dir := t.TempDir()
	tbl, err := lut.Load(importNote10(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	for i := range tbl.Entries {
		tbl.Entries[i].Stats = scaleStats(tbl.Entries[i].Stats, 0.02)
	}
	fast := filepath.Join(dir, "fast.lut.json")
	if err := tbl.WriteFile(fast); err != nil {
		t.Fatal(err)
	}
	pred := fitPredictor(t, fast, "--space", "ofa-mbv3-w1.0") // the demo's space
	p, err := predictor.LoadLatencyPredictor(pred)
	if err != nil {
		t.Fatal(err)
	}
	w10, _ := supernet.NewSpace(1.0)
	largest := w10.MaxConfig(224)
	largestMS := p.LatencyMS(largest)
	limitMS := largestMS * 0.6
	if v, ok := strings.CutSuffix(limits[1], "ms"); ok {
		if err := json.Unmarshal([]byte(v), &limitMS); err != nil {
			t.Fatal(err)
		}
	} else if limits[1] != "60%" {
		t.Fatalf("the test knows 60%% and absolute ms limits, not %q", limits[1])
	}
	if limitMS >= largestMS {
		t.Fatalf("the demo's %s %s does not bind on a fast device: the largest subnet is predicted at %.2f ms", limits[0], limits[1], largestMS)
	}
	out, stderr, err := run(t, append([]string{"select", "--predictor", pred, "--pareto=false", "--json"}, limits...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	sel := decodeMap(t, out)
	best := sel["top"].([]any)[0].(map[string]any)
	if ms := best["latency_ms"].(float64); ms > limitMS*(1+1e-9) {
		t.Errorf("the choice is predicted at %.3f ms, over the limit %.3f ms", ms, limitMS)
	}
	if got := sel["limits"].(map[string]any)["max_latency_ms"]; got == nil || math.Abs(got.(float64)-limitMS) > 1e-9*limitMS {
		t.Errorf("the resolved limit is %v, want %.6f ms (60%% of %.4f ms)", got, limitMS, largestMS)
	}
	var c supernet.Config
	b, _ := json.Marshal(best["config"])
	if err := json.Unmarshal(b, &c); err != nil || c == largest {
		t.Errorf("the demo chose the largest subnet (%v)", err)
	}
}

func scaleStats(s timing.Stats, f float64) timing.Stats {
	s.Median, s.Mean, s.P10, s.P90, s.Std = f*s.Median, f*s.Mean, f*s.P10, f*s.P90, f*s.Std
	return s
}

// synthTable writes a lookup table of space at resolution r whose
// latencies grow with each layer's size (made up: for runs that must not
// profile) and returns its path.
func synthTable(t *testing.T, space *supernet.Space, r int) string {
	t.Helper()
	tbl := &lut.LUT{Version: lut.Version, Space: space.Name, Target: "synthetic", Unit: "ms", Stat: lut.StatMedian,
		Runtime: lut.Runtime{Name: "onnxruntime", Batch: 1}}
	for _, l := range space.DistinctLayers(r) {
		ms := 1e-7 * float64(l.InSize*l.InSize*(l.In+l.Out+l.Mid+1))
		tbl.Entries = append(tbl.Entries, lut.NewEntry(l, r, timing.Stats{Median: ms, Mean: ms, N: 5}))
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%s-r%d.lut.json", space.Name, r))
	if err := tbl.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildEdgefit builds the edgefit binary into a temporary directory.
func buildEdgefit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgefit")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/edgefit/edgefit/cmd/edgefit").CombinedOutput(); err != nil {
		t.Fatalf("build edgefit: %v\n%s", err, out)
	}
	return bin
}

// TestTrap5UncheckedModelIsNotLeftAsGood: when the ONNX Runtime check
// cannot run (here: the host's library is missing), neither export
// --verify nor run leaves a file named like a good model; run still
// writes its report, which says so.
func TestTrap5UncheckedModelIsNotLeftAsGood(t *testing.T) {
	ag := needAgent(t)
	lib, err := ortlib.DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	bin := buildEdgefit(t)
	dir := t.TempDir()
	env := append(os.Environ(), ortlib.Env+"="+filepath.Join(dir, "no-such-libonnxruntime.so.1"))
	w10, _ := supernet.NewSpace(1.0)

	out := filepath.Join(dir, "m.onnx")
	c := exec.Command(bin, "export", "--config", writeConfig(t, w10.MinConfig(128)), "-o", out, "--verify")
	c.Env = env
	log, err := c.CombinedOutput()
	if err == nil {
		t.Fatalf("export --verify without ONNX Runtime succeeded:\n%s", log)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("export --verify whose check could not run left %s:\n%s", out, log)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.unverified.onnx")); err != nil || !strings.Contains(string(log), "m.unverified.onnx") {
		t.Errorf("export --verify does not keep and name m.unverified.onnx (%v):\n%s", err, log)
	}

	odir := filepath.Join(dir, "run")
	c = exec.Command(bin, append([]string{"run", "local", "--agent", ag, "--ort-lib", lib, "--lut", synthTable(t, w10, 128), "-o", odir,
		"--max-latency", "1s"}, quickRunArgs...)...)
	c.Env = env
	log, err = c.CombinedOutput()
	if err == nil {
		t.Fatalf("run without ONNX Runtime on the host succeeded:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(odir, "model.onnx")); err == nil {
		t.Errorf("run whose check could not run left model.onnx:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(odir, "model.unverified.onnx")); err != nil {
		t.Errorf("run does not keep model.unverified.onnx (%v):\n%s", err, log)
	}
	if md, err := os.ReadFile(filepath.Join(odir, "report.md")); err != nil || !strings.Contains(string(md), "unverified") {
		t.Errorf("run's report does not say the model is unverified (%v):\n%s", err, md)
	}
}

// TestTrap5RunAndExportCheckAlike: run's check of its model and export
// --verify's check of the same subnet reach the same verdict with the
// same numbers. The subnet is the largest untrained w1.2 one at r=320,
// whose logits are large enough (about 68) that float32 rounding alone
// makes them differ from the reference by more than 1e-4.
func TestTrap5RunAndExportCheckAlike(t *testing.T) {
	ag := needAgent(t)
	w12, _ := supernet.NewSpace(1.2)
	table := synthTable(t, w12, 320)
	rep, _, runErr := runPipeline(t, "local", "--agent", ag, "--space", w12.Name, "--lut", table, "--max-latency", "60s")
	var reported map[string]any
	b, _ := json.Marshal(rep)
	_ = json.Unmarshal(b, &reported)
	last := rep.Attempts[len(rep.Attempts)-1]
	cfg := filepath.Join(t.TempDir(), "subnet.json")
	if err := os.WriteFile(cfg, []byte(last.Chosen.Config.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, expErr := run(t, "export", "--space", w12.Name, "--config", cfg, "-o", filepath.Join(t.TempDir(), "m.onnx"), "--verify", "--json")
	if ExitCodeOf(runErr) != ExitCodeOf(expErr) {
		t.Fatalf("run's check of its model ends with exit %d (%v), export --verify of the same subnet with exit %d (%v)",
			ExitCodeOf(runErr), runErr, ExitCodeOf(expErr), expErr)
	}
	if expErr == nil {
		if d := decodeMap(t, out)["verify_max_abs_diff"]; d != reported["verify_max_abs_diff"] {
			t.Errorf("export --verify measured %v, run %v, for the same subnet", d, reported["verify_max_abs_diff"])
		}
	}
	t.Logf("run: %v, largest logit difference %v; export --verify: %v", runErr, reported["verify_max_abs_diff"], expErr)
	if last.Chosen.Config != w12.MaxConfig(320) {
		t.Errorf("with the MACs proxy and no binding limit, run chose %v, not the largest subnet", last.Chosen.Config)
	}
}
