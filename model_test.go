package edgefit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
	"github.com/edgefit/edgefit/supernet/zoo"
)

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestResolve checks where the space comes from and that disagreeing
// sources are refused before anything heavy is read.
func TestResolve(t *testing.T) {
	w10, _ := supernet.NewSpace(1.0)
	w12, _ := supernet.NewSpace(1.2)
	netcfg, err := w12.NetConfig(w12.MinConfig(160))
	if err != nil {
		t.Fatal(err)
	}
	plain := writeFile(t, "subnet.json", w10.MaxConfig(224).String())
	odd := w10.MinConfig(128)
	odd.R = 300 // deployable, though never searched
	oddPath := writeFile(t, "odd.json", odd.String())
	ofa := writeFile(t, "net.config", string(netcfg))
	badKS := writeFile(t, "bad.json", strings.Replace(w10.MaxConfig(224).String(), `"ks":[7`, `"ks":[9`, 1))
	notJSON := writeFile(t, "notes.json", "ks=3")
	named := writeFile(t, "named.json", string(supernet.MarshalConfigFile("ofa-mbv3-w1.2", w12.MinConfig(160))))
	for _, tc := range []struct {
		name   string
		src    ModelSource
		space  string
		config supernet.Config
		input  bool   // the error is an InputError
		hint   bool   // the error carries a hint
		err    string // substring of the error
	}{
		{"nothing: w1.0", ModelSource{}, "ofa-mbv3-w1.0", supernet.Config{}, false, false, ""},
		{"--space", ModelSource{Space: "ofa-mbv3-w1.2"}, "ofa-mbv3-w1.2", supernet.Config{}, false, false, ""},
		{"edgefit config fits either width", ModelSource{Space: "ofa-mbv3-w1.2", Config: plain}, "ofa-mbv3-w1.2", w10.MaxConfig(224), false, false, ""},
		{"any resolution", ModelSource{Config: oddPath}, "ofa-mbv3-w1.0", odd.Canonical(w10), false, false, ""},
		{"--res overrides", ModelSource{Config: plain, Res: 160}, "ofa-mbv3-w1.0", withR(w10.MaxConfig(224), 160), false, false, ""},
		{"net.config names its space", ModelSource{Config: ofa, Res: 192}, "ofa-mbv3-w1.2", withR(w12.MinConfig(160), 192), false, false, ""},
		{"net.config needs --res", ModelSource{Config: ofa}, "", supernet.Config{}, true, false, "pass --res"},
		{"net.config against --space", ModelSource{Space: "ofa-mbv3-w1.0", Config: ofa, Res: 160}, "", supernet.Config{}, true, true, "is for ofa-mbv3-w1.2, but --space says ofa-mbv3-w1.0"},
		{"config file names its space", ModelSource{Config: named}, "ofa-mbv3-w1.2", w12.MinConfig(160), false, false, ""},
		{"config file and --space agree", ModelSource{Space: "ofa-mbv3-w1.2", Config: named}, "ofa-mbv3-w1.2", w12.MinConfig(160), false, false, ""},
		{"config file against --space", ModelSource{Space: "ofa-mbv3-w1.0", Config: named}, "", supernet.Config{}, true, true, "is for ofa-mbv3-w1.2, but --space says ofa-mbv3-w1.0"},
		{"unknown space", ModelSource{Space: "w2"}, "", supernet.Config{}, true, false, "--space"},
		{"value outside the space", ModelSource{Config: badKS}, "", supernet.Config{}, false, true, "ks[0] = 9"},
		{"resolution outside 32..1024", ModelSource{Config: plain, Res: 2000}, "", supernet.Config{}, false, true, "r = 2000"},
		{"not JSON", ModelSource{Config: notJSON}, "", supernet.Config{}, false, true, "is not JSON"},
		{"missing config", ModelSource{Config: filepath.Join(t.TempDir(), "none.json")}, "", supernet.Config{}, false, false, "none.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Resolve(tc.src)
			if tc.err != "" {
				var ie *InputError
				var h interface{ Hint() string }
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.As(err, &ie) != tc.input || errors.As(err, &h) != tc.hint {
					t.Fatalf("error %v, want one mentioning %q (input error %v, hint %v)", err, tc.err, tc.input, tc.hint)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Space.Name != tc.space || m.Config != tc.config || !m.Untrained() {
				t.Errorf("resolved %s %v, want %s %v", m.Space.Name, m.Config, tc.space, tc.config)
			}
		})
	}
}

func withR(c supernet.Config, r int) supernet.Config {
	c.R = r
	return c
}

// TestResolveCheckpoint: the checkpoint names the space, cheaply; its
// weights load only when a subnet is built.
func TestResolveCheckpoint(t *testing.T) {
	ckpt := filepath.Join(testfix.Shared(t), "fixtures", "ofa-mbv3-w1.0", "supernet.pth")
	if _, err := Resolve(ModelSource{Space: "ofa-mbv3-w1.2", Checkpoint: ckpt}); err == nil || !strings.Contains(err.Error(), "disagrees with checkpoint") {
		t.Errorf("--space against the checkpoint: %v", err)
	}
	m, err := Resolve(ModelSource{Checkpoint: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if m.Space.Name != "ofa-mbv3-w1.0" || m.Space.Classes != 1000 || m.Untrained() || m.ck != nil {
		t.Fatalf("space %s/%d, untrained %v, loaded %v", m.Space.Name, m.Space.Classes, m.Untrained(), m.ck != nil)
	}
	c := m.Space.MinConfig(160)
	net, err := m.Build(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if net.Untrained || m.ck == nil || net.Config != c {
		t.Errorf("built untrained %v, loaded %v, config %v", net.Untrained, m.ck != nil, net.Config)
	}
	if _, err := Resolve(ModelSource{Checkpoint: writeFile(t, "x.pth", "not a checkpoint")}); err == nil || !strings.Contains(err.Error(), "x.pth") {
		t.Errorf("a file that is no checkpoint: %v", err)
	}
}

// TestExportUntrained writes a model the way 'edgefit export' does and
// reads its metadata back.
func TestExportUntrained(t *testing.T) {
	w12, _ := supernet.NewSpace(1.2)
	c := w12.MinConfig(128)
	m, err := Resolve(ModelSource{Space: "ofa-mbv3-w1.2", Config: writeFile(t, "c.json", c.String())})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m.onnx")
	res, err := Export(context.Background(), m, out, ExportOptions{Seed: 3, ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	costs := w12.Costs(c)
	if !res.Untrained || res.Space != "ofa-mbv3-w1.2" || res.MACs != costs.MACs || res.PeakMemory != costs.PeakMemory || res.MaxAbsDiff != nil {
		t.Errorf("result %+v", res)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := export.ReadMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if meta[export.KeyUntrained] != "true" || meta[export.KeyPredictionPrefix+"params"] == "" || meta[export.KeyPredictionPrefix+"latency_ms"] != "" {
		t.Errorf("metadata %v", meta)
	}
}

// TestPrepareResolvesCatalogueNames: 'edgefit run --checkpoint
// ofa-mbv3-w1.0' takes the fetch cache's copy, checked before anything is
// measured, and records that file.
func TestPrepareResolvesCatalogueNames(t *testing.T) {
	shared := testfix.Shared(t)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Chdir(t.TempDir())
	opts := RunOptions{Checkpoint: "ofa-mbv3-w1.0", OutDir: t.TempDir(), Limits: search.Limits{MaxLatencyMS: 10}}
	if _, err := Prepare(opts); err == nil || !strings.Contains(err.Error(), "run 'edgefit fetch ofa-mbv3-w1.0'") {
		t.Fatalf("before fetching: %v", err)
	}
	it, _ := zoo.Lookup(zoo.SupernetW10)
	if _, err := zoo.Import(context.Background(), it, filepath.Join(shared, "fixtures/ofa-mbv3-w1.0/supernet.pth"), zoo.Options{}); err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "edgefit", "ofa", "ofa_mbv3_d234_e346_k357_w1.0.pth"); p.opts.Checkpoint != want || p.model.CheckpointPath() != want {
		t.Errorf("checkpoint %q, want the cached %q", p.opts.Checkpoint, want)
	}
}

// TestCheckModelMovesAFailedModelAside: the one check of a written model
// passes a faithful export and leaves it in place; a model that is not
// the subnet (another seed's weights) fails it and is moved aside to
// NAME.unverified.onnx, and the error names where it went.
func TestCheckModelMovesAFailedModelAside(t *testing.T) {
	testfix.Need(t, testfix.ORT, ort.Init(""))
	ctx := context.Background()
	w10, _ := supernet.NewSpace(1.0)
	c := w10.MinConfig(128)
	m, err := Resolve(ModelSource{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.onnx")
	net, err := m.Build(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := export.WriteFile(good, net, export.Metadata{}); err != nil {
		t.Fatal(err)
	}
	a, err := checkModel(ctx, good, net, nil)
	if err != nil || !a.OK() || a.MaxAbsDiff > 1e-4 || a.MaxAbsLogit <= 0 {
		t.Fatalf("a faithful export: %+v, %v", a, err)
	}
	if _, err := os.Stat(good); err != nil {
		t.Fatalf("a verified model was moved: %v", err)
	}
	bad := filepath.Join(dir, "bad.onnx")
	if err := export.WriteFile(bad, net, export.Metadata{}); err != nil {
		t.Fatal(err)
	}
	other := supernet.Init(net.Space, c, 2)
	_, err = checkModel(ctx, bad, other, nil)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Err != nil || ve.MaxAbsDiff <= ve.Limit || ve.Renamed != filepath.Join(dir, "bad.unverified.onnx") {
		t.Fatalf("a model of other weights: %v (%+v)", err, ve)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("the failed model is still at %s", bad)
	}
	if _, err := os.Stat(ve.Renamed); err != nil || !strings.Contains(ve.Error(), "bad.unverified.onnx") {
		t.Errorf("the failed model is not at %s (%v): %v", ve.Renamed, err, ve)
	}
}

// TestExportChecksRecalibratedOnItsImages: a subnet recalibrated on a few
// images is ill conditioned on random pixels (its small batch variances
// amplify float32 rounding far past the tolerance), so the one check runs
// it on its first calibration images, where ONNX Runtime and the forward
// pass agree, and a faithful export is kept as verified.
func TestExportChecksRecalibratedOnItsImages(t *testing.T) {
	testfix.Need(t, testfix.ORT, ort.Init(""))
	ctx := context.Background()
	calib := t.TempDir()
	testfix.ImageFolder(t, calib, []string{"c"}, 5, 11)
	cfg := writeFile(t, "subnet.json", `{"ks":[7,7,7,5,3,7,5,7,7,5,7,5,7,5,5,7,5,5,5,7],"e":[6,6,6,3,3,6,6,4,6,6,6,4,6,4,4,4,6,6,6,3],"d":[4,4,4,4,4],"r":128}`)
	m, err := Resolve(ModelSource{Checkpoint: testfix.SharedFile(t, "fixtures/ofa-mbv3-w1.0/supernet.pth"), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	co := &accuracy.CalibOptions{Dir: calib, Batch: 2, Images: 5}
	out := filepath.Join(t.TempDir(), "m.onnx")
	res, err := Export(ctx, m, out, ExportOptions{Verify: true, Calib: co})
	if err != nil || !res.Verified || res.Output != out {
		t.Fatalf("export of a recalibrated subnet: %v (%+v)", err, res)
	}
	// Why: on random pixels the same, faithful model is off by far more.
	cs, err := openCalibration(ctx, m, co)
	if err != nil {
		t.Fatal(err)
	}
	net, _ := m.Build(m.Config, 1)
	if net, _, err = calibrate(ctx, net, cs, nil); err != nil {
		t.Fatal(err)
	}
	random, err := export.CompareFile(ctx, out, net, export.VerifyInput(128))
	if err != nil {
		t.Fatal(err)
	}
	images, err := cs.CheckInput(ctx, 128, accuracy.CheckImages)
	if err != nil || len(images) != accuracy.CheckImages*3*128*128 {
		t.Fatalf("check input: %d values, %v", len(images), err)
	}
	onImages, err := export.CompareFile(ctx, out, net, images)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("random pixels: %+v; calibration images: %+v", random, onImages)
	if random.OK() || !onImages.OK() || onImages.MaxAbsDiff != *res.MaxAbsDiff {
		t.Errorf("random pixels %+v (ok %v), calibration images %+v (ok %v), export's %g",
			random, random.OK(), onImages, onImages.OK(), *res.MaxAbsDiff)
	}
}
