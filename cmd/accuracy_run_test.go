package cmd

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
)

// TestSelectRerank: select --rerank K measures K candidates within the
// limits, chooses the best measured, writes it to -o, and each measurement
// is what eval gives for that config.
func TestSelectRerank(t *testing.T) {
	needORT(t)
	ck := fixtureCheckpoint(t)
	space, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	pred := syntheticPredictor(t, space, 128)
	calib, val := t.TempDir(), t.TempDir()
	testfix.ImageFolder(t, calib, []string{"c"}, 6, 7)
	testfix.ImageFolder(t, val, []string{"3", "5", "9"}, 2, 8)
	out := filepath.Join(t.TempDir(), "subnet.json")
	stdout, _, err := run(t, "select", "--predictor", pred, "--checkpoint", ck, "--max-flops", "100M", "--res", "128",
		"--rerank", "3", "--calib-data", calib, "--calib-batch", "4", "--val-data", val, "--generations", "40", "-o", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "select --rerank --json", []byte(stdout), `{"space":"","predictor":"","accuracy_source":"","accuracy_is_proxy":false,"limits":{"max_macs":0},"top":[`+candidateKeys+`],"front":[`+candidateKeys+`],"candidates_scored":0,"wall_seconds":0,"generations":0,"measured_resolutions":[],"latency_extrapolated":false,"rerank":{"candidates":[`+rerankKeys+`],"chosen":`+rerankKeys+`,"calib_images":0,"calib_batch":0,"calib_list_sha256":"","val_images":0,"val_list_sha256":"","wall_seconds":0}}`, "measured_resolutions", "latency_extrapolated")
	var sel edgefit.Selection
	if err := json.Unmarshal([]byte(stdout), &sel); err != nil {
		t.Fatalf("%v in %.300s", err, stdout)
	}
	rr := sel.Rerank
	if rr == nil || len(rr.Candidates) != 3 || rr.CalibImages != 6 || rr.ValImages != 6 {
		t.Fatalf("rerank %+v", rr)
	}
	chosen := 0
	for _, e := range rr.Candidates {
		if e.Chosen {
			chosen++
		}
		if e.MeasuredTop1 > rr.Chosen.MeasuredTop1 || e.MACs > 100e6 {
			t.Errorf("candidate %+v beats the chosen one or breaks the limit", e)
		}
	}
	written, err := supernet.LoadConfigFile(out)
	if err != nil || chosen != 1 || written.Config != rr.Chosen.Config {
		t.Fatalf("%d chosen; -o holds %v (%v), want %v", chosen, written.Config, err, rr.Chosen.Config)
	}
	// eval of the chosen config gives the measured numbers.
	stdout, _, err = run(t, "eval", "--checkpoint", ck, "--config", out, "--calib-data", calib, "--calib-batch", "4", "--data", val, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ev edgefit.EvalResult
	json.Unmarshal([]byte(stdout), &ev)
	if ev.Top1 != rr.Chosen.MeasuredTop1 || ev.Top5 != rr.Chosen.MeasuredTop5 {
		t.Errorf("eval of the chosen subnet: %g/%g, rerank measured %g/%g", ev.Top1, ev.Top5, rr.Chosen.MeasuredTop1, rr.Chosen.MeasuredTop5)
	}
	// The next: hint exports the measured model: recalibrated as it was.
	text, _, err := run(t, "select", "--predictor", pred, "--checkpoint", ck, "--max-flops", "100M", "--res", "128",
		"--rerank", "3", "--calib-data", calib, "--calib-batch", "4", "--val-data", val, "--generations", "40", "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	hint := hintedCommand(t, text)
	model := filepath.Join(t.TempDir(), "hinted.onnx")
	for i, a := range hint {
		if a == "-o" {
			hint[i+1] = model
		}
	}
	if _, _, err := run(t, hint...); err != nil {
		t.Fatalf("the hinted %v: %v", hint, err)
	}
	data, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if meta, _ := export.ReadMetadata(data); meta["edgefit.bn_statistics"] != "recalibrated" || meta["edgefit.calib_images"] != "6" || meta["edgefit.calib_batch"] != "4" {
		t.Errorf("the hinted %v writes a model with metadata %v", hint, meta)
	}
	stdout, _, err = run(t, "eval", "--model", model, "--data", val, "--json")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(stdout), &ev)
	if ev.Top1 != rr.Chosen.MeasuredTop1 || ev.Top5 != rr.Chosen.MeasuredTop5 {
		t.Errorf("eval of the hinted model: %g/%g, rerank measured %g/%g", ev.Top1, ev.Top5, rr.Chosen.MeasuredTop1, rr.Chosen.MeasuredTop5)
	}
}

// TestAccuracyDatasetKilled runs the real binary, SIGKILLs it after its
// first measurements are journaled, and runs the same command again: the
// dataset completes with every subnet measured exactly once and the
// measurements made before the kill kept as they were.
func TestAccuracyDatasetKilled(t *testing.T) {
	needORT(t)
	ck := fixtureCheckpoint(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "edgefit")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/edgefit/edgefit/cmd/edgefit").CombinedOutput(); err != nil {
		t.Fatalf("build edgefit: %v\n%s", err, out)
	}
	calib, val := filepath.Join(dir, "calib"), filepath.Join(dir, "val")
	testfix.ImageFolder(t, calib, []string{"a", "b"}, 4, 9)
	testfix.ImageFolder(t, val, []string{"0", "1"}, 3, 10)
	out := filepath.Join(dir, "acc.csv")
	journal := out + accuracy.JournalSuffix
	args := []string{"accuracy-dataset", "--checkpoint", ck, "--calib-data", calib, "--calib-batch", "3", "--val-data", val,
		"--subnets", "6", "--res", "128,144", "--seed", "3", "-o", out}
	cmd := exec.Command(bin, args...)
	var logb strings.Builder
	cmd.Stderr = &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if len(journalRows(t, journal)) >= 2 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("the journal never held two measurements; log:\n%s", logb.String())
	}
	before := journalRows(t, journal)
	if len(before) >= 12 {
		t.Skipf("the run finished (%d measurements) before it could be killed", len(before))
	}
	stdout, err := exec.Command(bin, append(args, "--json")...).Output()
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	checkSchema(t, "accuracy-dataset --json", stdout, `{"output":"","journal":"","subnets":0,"measurements":0,"resumed":0,"calib_images":0,"val_images":0,
		"measurements_per_hour":0,"min_top1":0,"max_top1":0,"mean_top1":0}`)
	var sum datasetResult
	if err := json.Unmarshal(stdout, &sum); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	after := journalRows(t, journal)
	seen := map[string]bool{}
	for _, row := range after {
		if seen[row] {
			t.Errorf("measured twice: %s", row)
		}
		seen[row] = true
	}
	if len(after) != 12 || sum.Measurements != 12 || sum.Resumed < len(before) {
		t.Errorf("after the rerun: %d journal rows, %d measurements, %d resumed (%d before the kill)", len(after), sum.Measurements, sum.Resumed, len(before))
	}
	for i, row := range before {
		if after[i] != row {
			t.Errorf("measurement %d changed across the resume:\n%s\n%s", i, row, after[i])
		}
	}
	t.Logf("killed after %d of 12 measurements", len(before))
}

// journalRows returns the measurement lines of an accuracy journal with
// their config and top-1 (the rest carries timing), skipping the header.
func journalRows(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var rows []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for line := 0; sc.Scan(); line++ {
		if line == 0 {
			continue
		}
		var r struct {
			Config json.RawMessage `json:"config"`
			Top1   float64         `json:"top1"`
			Rec    string          `json:"recorded"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			b, _ := json.Marshal(r)
			rows = append(rows, string(b))
		}
	}
	return rows
}

// TestRunRecalibrates: run with --calib-data and --rerank exports the best
// measured candidate with recalibrated statistics, and its report shows
// the predicted and measured accuracy side by side.
func TestRunRecalibrates(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles with the real agent; skipped in -short mode")
	}
	needORT(t)
	ck := fixtureCheckpoint(t)
	calib, val := t.TempDir(), t.TempDir()
	testfix.ImageFolder(t, calib, []string{"c"}, 5, 11)
	testfix.ImageFolder(t, val, []string{"0", "1"}, 2, 12)
	rep, dir, err := runPipeline(t, "local", "--agent", needAgent(t), "--checkpoint", ck, "--max-flops", "150M",
		"--calib-data", calib, "--calib-batch", "2", "--val-data", val, "--rerank", "2")
	if err != nil && ExitCodeOf(err) != ExitMismatch {
		t.Fatal(err)
	}
	last := rep.Last()
	t.Logf("run: %v; verified %v, max abs diff %g, limit %g, config %+v", err, rep.Verified, rep.VerifyDiff, rep.VerifyLimit, last.Chosen.Config)
	if rep.BNStatistics != export.BNRecalibrated || rep.Calibration == nil || rep.Calibration.Images != 5 || last.Rerank == nil ||
		last.Chosen.Config != last.Rerank.Chosen.Config {
		t.Fatalf("run result: bn %q, calibration %+v, rerank %+v, chosen %v", rep.BNStatistics, rep.Calibration, last.Rerank, last.Chosen.Config)
	}
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if meta, _ := export.ReadMetadata(model); meta["edgefit.bn_statistics"] != "recalibrated" || meta["edgefit.calib_images"] != "5" {
		t.Errorf("model metadata %v", meta)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"measured top-1", "Recalibrated as OFA's `set_running_statistics`", "chosen",
		"--calib-data " + calib + " --calib-batch 2 --calib-images 5 -o model.onnx"} { // the export command that reproduces the model
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}
