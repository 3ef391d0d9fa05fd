package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/imaging"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// fixtureCheckpoint is the OFA-written w1.0 supernet of ../shared.
func fixtureCheckpoint(t *testing.T) string {
	t.Helper()
	return testfix.SharedFile(t, "fixtures/ofa-mbv3-w1.0/supernet.pth")
}

func needORT(t *testing.T) {
	t.Helper()
	testfix.Need(t, testfix.ORT, ort.Init(""))
}

// preprocess applies OFA's test transform to files, in order.
func preprocess(t *testing.T, files []string, r int) []float32 {
	t.Helper()
	var out []float32
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := imaging.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 3*r*r)
		if err := imaging.TestTransform(m, r, x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x...)
	}
	return out
}

// keysOf lists every key path of a JSON document, sorted, for golden
// comparisons against literal key lists ("a", "a.b", "list[].c").
func keysOf(t *testing.T, doc []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%v in %.300s", err, doc)
	}
	seen := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				seen[p] = true
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				if _, ok := e.(map[string]any); ok {
					walk(prefix+"[]", e)
				}
			}
		}
	}
	walk("", v)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestExportCalibrated: export --calib-data writes the model OFA would
// deploy: its BatchNorm statistics are the batch-weighted averages of each
// batch's statistics, computed here independently with the plain Go
// forward pass, and ONNX Runtime on the file agrees with the reference
// forward pass of the net holding them to 1e-4; the metadata records the
// calibration.
func TestExportCalibrated(t *testing.T) {
	needORT(t)
	ck := fixtureCheckpoint(t)
	calib := t.TempDir()
	files := testfix.ImageFolder(t, calib, []string{"a", "b"}, 5, 1)
	space, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	cfg := space.RandomConfig(rand.New(rand.NewPCG(8, 8)))
	cfg.R = 128
	cfgPath := writeConfig(t, cfg)
	out := filepath.Join(t.TempDir(), "model.onnx")
	stdout, _, err := run(t, "export", "--checkpoint", ck, "--config", cfgPath, "--calib-data", calib, "--calib-batch", "4", "--calib-images", "9", "-o", out, "--verify", "--json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bn_statistics", "calibration", "calibration.batch_size", "calibration.batches", "calibration.dir", "calibration.images",
		"calibration.list_sha256", "calibration.wall_seconds", "checkpoint", "checkpoint_sha256", "config", "config.d", "config.e", "config.ks", "config.r", "macs", "output", "params",
		"peak_memory_bytes", "space", "untrained", "verified", "verify_max_abs_diff", "verify_tolerance"}
	if got := keysOf(t, []byte(stdout)); !slices.Equal(got, want) {
		t.Errorf("export --json keys\n got %q\nwant %q", got, want)
	}
	model, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := export.ReadMetadata(model)
	if err != nil {
		t.Fatal(err)
	}
	if meta["edgefit.bn_statistics"] != "recalibrated" || meta["edgefit.calib_images"] != "9" || meta["edgefit.calib_batch"] != "4" || len(meta["edgefit.calib_list_sha256"]) != 64 {
		t.Errorf("metadata %v", meta)
	}
	// The reference: batches of 4, 4 and 1 of the first 9 images.
	c, err := supernet.LoadCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	net, err := supernet.Extract(c, cfg.Canonical(space))
	if err != nil {
		t.Fatal(err)
	}
	data := preprocess(t, files[:9], 128)
	per := 3 * 128 * 128
	var rs []supernet.RunningStats
	for lo := 0; lo < 9; lo += 4 {
		hi := min(lo+4, 9)
		bs, err := export.ForwardBatchStats(net, data[lo*per:hi*per])
		if err != nil {
			t.Fatal(err)
		}
		if rs == nil {
			rs = make([]supernet.RunningStats, len(bs))
		}
		for i, s := range bs {
			if rs[i].Mean == nil {
				rs[i] = supernet.RunningStats{Mean: make([]float32, len(s.Mean)), Var: make([]float32, len(s.Var))}
			}
			for ch := range s.Mean {
				rs[i].Mean[ch] += float32(float64(hi-lo) / 9 * s.Mean[ch])
				rs[i].Var[ch] += float32(float64(hi-lo) / 9 * s.Var[ch])
			}
		}
	}
	ref, err := net.WithRunningStats(rs)
	if err != nil {
		t.Fatal(err)
	}
	// The statistics edgefit computed, through the library the command
	// uses, agree with the reference ones (as vectors, to 1e-5).
	cs, err := accuracy.OpenCalibration(context.Background(), accuracy.CalibOptions{Dir: calib, Batch: 4, Images: 9})
	if err != nil {
		t.Fatal(err)
	}
	mine, _, err := cs.Recalibrate(context.Background(), net, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, nb := range mine.BatchNorms() {
		r := ref.BatchNorms()[i].BN
		var dm, nm, dv, nv float64
		for ch := range r.Mean {
			dm += math.Pow(float64(nb.BN.Mean[ch]-r.Mean[ch]), 2)
			nm += float64(r.Var[ch])
			dv += math.Pow(float64(nb.BN.Var[ch]-r.Var[ch]), 2)
			nv += math.Pow(float64(r.Var[ch]), 2)
		}
		if math.Sqrt(dm/nm) > 1e-5 || math.Sqrt(dv/nv) > 1e-5 {
			t.Errorf("%s: means off by %.2e, variances by %.2e of the reference (limit 1e-5)", nb.Name, math.Sqrt(dm/nm), math.Sqrt(dv/nv))
		}
	}
	// The exported file equals the reference forward pass of the net with
	// those statistics to 1e-4, relative to the logits' scale (small
	// recalibrated variances make large logits): on calibration images,
	// and with the statistics computed here on random input too, where
	// any difference of statistics would be amplified.
	logitsDiff := func(net *supernet.Net, input []float32, n int) (float64, float64) {
		want, err := export.Forward(net, input)
		if err != nil {
			t.Fatal(err)
		}
		got, err := export.RunModel(context.Background(), model, input, n)
		if err != nil {
			t.Fatal(err)
		}
		d, scale := 0.0, 1.0
		for i := range got {
			d = max(d, math.Abs(float64(got[i])-float64(want[i])))
			scale = max(scale, math.Abs(float64(want[i])))
		}
		return d, scale
	}
	for _, tc := range []struct {
		name  string
		net   *supernet.Net
		input []float32
		n     int
	}{
		{"reference statistics, calibration images", ref, data, 9},
		{"edgefit's statistics, calibration images", mine, data, 9},
		{"edgefit's statistics, random input", mine, export.VerifyInput(128), 1},
	} {
		if d, scale := logitsDiff(tc.net, tc.input, tc.n); d > 1e-4*scale {
			t.Errorf("%s: the exported model differs from the forward pass by %.3g at logit scale %.3g (limit 1e-4 of it)", tc.name, d, scale)
		}
	}
	// Without calibration the model says its statistics are the supernet's.
	plain := filepath.Join(t.TempDir(), "plain.onnx")
	if _, _, err := run(t, "export", "--checkpoint", ck, "--config", cfgPath, "-o", plain); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(plain)
	if m, _ := export.ReadMetadata(b); m["edgefit.bn_statistics"] != "supernet (not recalibrated)" || m["edgefit.calib_images"] != "" {
		t.Errorf("metadata without calibration: %v", m)
	}
}

// TestEvalJSON checks eval's keys (literal list) and that a model exported
// and one evaluated straight from the checkpoint give the same numbers.
func TestEvalJSON(t *testing.T) {
	needORT(t)
	ck := fixtureCheckpoint(t)
	calib, val := t.TempDir(), t.TempDir()
	testfix.ImageFolder(t, calib, []string{"x"}, 6, 2)
	testfix.ImageFolder(t, val, []string{"0", "1", "7"}, 3, 3)
	space, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	cfg := space.MinConfig(128)
	cfgPath := writeConfig(t, cfg)
	stdout, _, err := run(t, "eval", "--checkpoint", ck, "--config", cfgPath, "--calib-data", calib, "--calib-batch", "3", "--data", val, "--json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bn_statistics", "calibration", "calibration.batch_size", "calibration.batches", "calibration.dir", "calibration.images",
		"calibration.list_sha256", "calibration.wall_seconds", "classes", "config", "config.d", "config.e", "config.ks", "config.r", "data", "data_list_sha256", "images", "images_per_second",
		"labelling", "resolution", "top1", "top1_hits", "top5", "top5_hits", "wall_seconds"}
	if got := keysOf(t, []byte(stdout)); !slices.Equal(got, want) {
		t.Errorf("eval --json keys\n got %q\nwant %q", got, want)
	}
	var direct struct {
		Images, Top1Hits, Top5Hits int
	}
	json.Unmarshal([]byte(stdout), &direct)
	model := filepath.Join(t.TempDir(), "m.onnx")
	if _, _, err := run(t, "export", "--checkpoint", ck, "--config", cfgPath, "--calib-data", calib, "--calib-batch", "3", "-o", model); err != nil {
		t.Fatal(err)
	}
	stdout2, _, err := run(t, "eval", "--model", model, "--data", val, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var fromFile struct {
		Images, Top1Hits, Top5Hits int
		BNStatistics               string `json:"bn_statistics"`
	}
	json.Unmarshal([]byte(stdout2), &fromFile)
	if direct.Images != 9 || fromFile.Images != 9 || direct.Top1Hits != fromFile.Top1Hits || direct.Top5Hits != fromFile.Top5Hits || fromFile.BNStatistics != "recalibrated" {
		t.Errorf("eval of the subnet %+v, of its exported model %+v", direct, fromFile)
	}
}

// TestAccuracyBadInput: each bad input fails with a clear error, exit 2,
// before any work, and writes nothing.
func TestAccuracyBadInput(t *testing.T) {
	ck := fixtureCheckpoint(t)
	good := t.TempDir()
	testfix.ImageFolder(t, good, []string{"0", "1"}, 2, 4)
	empty := t.TempDir()
	noImages := t.TempDir()
	os.WriteFile(filepath.Join(noImages, "notes.txt"), []byte("x"), 0o644)
	corrupt := t.TempDir()
	testfix.ImageFolder(t, corrupt, []string{"0"}, 2, 5)
	os.WriteFile(filepath.Join(corrupt, "0", "broken.jpg"), []byte("not a jpeg at all"), 0o644)
	named := t.TempDir()
	testfix.ImageFolder(t, named, []string{"cat", "dog"}, 1, 6)
	labels := filepath.Join(t.TempDir(), "labels.txt")
	names := []string{"cat"}
	for i := 1; i < 1000; i++ {
		names = append(names, fmt.Sprintf("bird%d", i))
	}
	os.WriteFile(labels, []byte(strings.Join(names, "\n")+"\n"), 0o644)
	space, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	cfg := writeConfig(t, space.MinConfig(128))
	out := filepath.Join(t.TempDir(), "model.onnx")
	export := func(extra ...string) []string {
		return append([]string{"export", "--checkpoint", ck, "--config", cfg, "-o", out}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"empty calibration folder", export("--calib-data", empty), empty},
		{"calibration folder without images", export("--calib-data", noImages), noImages},
		{"corrupt image", export("--calib-data", corrupt), "broken.jpg"},
		{"no calibration images", export("--calib-data", good, "--calib-images", "0"), "--calib-images 0 must be at least 1"},
		{"calibration flags without data", export("--calib-batch", "10"), "--calib-batch needs --calib-data"},
		{"folders of no class scheme", []string{"eval", "--checkpoint", ck, "--config", cfg, "--data", named}, "cat"},
		{"labels file without a folder's name", []string{"eval", "--checkpoint", ck, "--config", cfg, "--data", named, "--labels", labels}, "dog"},
		{"checkpoint of the other width", []string{"eval", "--checkpoint", ck, "--space", "ofa-mbv3-w1.2", "--config", cfg, "--data", good}, "ofa-mbv3-w1.2"},
		{"eval without data", []string{"eval", "--checkpoint", ck, "--config", cfg}, "--data is required"},
		{"rerank without val-data", []string{"select", "--predictor", "p.json", "--max-latency", "20ms", "--rerank", "3", "--calib-data", good}, "--rerank needs --val-data"},
		{"val-data without rerank", []string{"select", "--predictor", "p.json", "--max-latency", "20ms", "--val-data", good}, "--val-data is used by --rerank"},
		{"dataset without subnets", []string{"accuracy-dataset", "--checkpoint", ck, "--calib-data", good, "--val-data", good, "-o", out}, "--subnets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if code := ExitCodeOf(err); code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
	// The errors about unreadable images name the flag that skips them:
	// one refused from its header before any work, and one whose header
	// is fine but whose data ends early, met while evaluating.
	truncated := t.TempDir()
	testfix.ImageFolder(t, truncated, []string{"0"}, 2, 7)
	jpegs, _ := filepath.Glob(filepath.Join(truncated, "0", "*"))
	if len(jpegs) == 0 {
		t.Fatal("no images made")
	}
	whole, err := os.ReadFile(jpegs[len(jpegs)-1])
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(jpegs[len(jpegs)-1], whole[:len(whole)*2/3], 0o644)
	for _, args := range [][]string{
		export("--calib-data", corrupt),
		{"eval", "--checkpoint", ck, "--config", cfg, "--data", truncated},
	} {
		_, _, err := run(t, args...)
		hints := hintsOf(err)
		if err == nil || !slices.ContainsFunc(hints, func(h string) bool { return strings.Contains(h, "--skip-bad-images") }) {
			t.Errorf("%s: error %v with hints %q, want a hint naming --skip-bad-images", args[0], err, hints)
		}
	}

	// --skip-bad-images counts and skips the corrupt image.
	needORT(t)
	stdout, _, err := run(t, export("--calib-data", corrupt, "--skip-bad-images", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Calibration struct {
			Images  int `json:"images"`
			Skipped int `json:"skipped_images"`
		} `json:"calibration"`
	}
	json.Unmarshal([]byte(stdout), &res)
	if res.Calibration.Images != 2 || res.Calibration.Skipped != 1 {
		t.Errorf("--skip-bad-images: %s", stdout)
	}
}

// syntheticPredictor fits a latency predictor for space at r from a table
// whose layer latencies are proportional to their MACs, so that a search
// has a real latency trade-off without profiling.
func syntheticPredictor(t *testing.T, space *supernet.Space, r int) string {
	t.Helper()
	tbl := &lut.LUT{Version: lut.Version, Space: space.Name, Target: "synthetic", Source: "test: latency = MACs/100M ms",
		Runtime: lut.Runtime{Name: "onnxruntime", Threads: 1, Batch: 1, Provider: "cpu"}, Unit: "ms", Stat: lut.StatMedian}
	for _, l := range space.DistinctLayers(r) {
		ms := 0.01 + layerWork(l)/1e8
		tbl.Entries = append(tbl.Entries, lut.NewEntry(l, r, timing.Stats{Median: ms, Mean: ms, Std: ms / 100, N: 10}))
	}
	dir := t.TempDir()
	lutPath := filepath.Join(dir, "synthetic.lut.json")
	if err := tbl.WriteFile(lutPath); err != nil {
		t.Fatal(err)
	}
	pred := filepath.Join(dir, "synthetic.pred.json")
	if _, _, err := run(t, "predictor", "fit", lutPath, "-o", pred); err != nil {
		t.Fatal(err)
	}
	return pred
}

// layerWork is a rough multiply count of a layer, for synthetic latencies.
func layerWork(l supernet.Layer) float64 {
	in, out := float64(l.InSize*l.InSize), float64(l.OutSize*l.OutSize)
	switch l.Kind {
	case supernet.KindBlock:
		return float64(l.In*l.Mid)*in + float64(l.Mid*l.Kernel*l.Kernel)*out + float64(l.Mid*l.Out)*out
	case supernet.KindAvgPool:
		return float64(l.In) * in
	}
	return float64(l.In*l.Out*max(l.Kernel, 1)*max(l.Kernel, 1)) * out
}
