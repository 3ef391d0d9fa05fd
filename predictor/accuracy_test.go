package predictor

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

func tutorialMLP(t testing.TB) *MLPAccuracy {
	t.Helper()
	p, err := LoadMLPAccuracy(filepath.Join(sharedDir(t), "ofa-upstream", "acc_predictor.pth"), MLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func nasMLP(t testing.TB) *MLPAccuracy {
	t.Helper()
	p, err := LoadMLPAccuracy(filepath.Join(sharedDir(t), "fixtures", "ofa-mbv3-w1.0", "acc_predictor.pth"), MLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTutorialMLPAnchors(t *testing.T) {
	p := tutorialMLP(t)
	if p.Format() != FormatOFATutorial || p.SpaceName() != "ofa-mbv3-w1.2" || !strings.Contains(p.Source(), "tutorial") {
		t.Errorf("format %s space %s source %q", p.Format(), p.SpaceName(), p.Source())
	}
	s, _ := supernet.NewSpace(1.2)
	if err := p.CheckSpace(s); err != nil {
		t.Error(err)
	}
	// docs/ofa-mbv3.md §7, printed by OFA to 4 decimals.
	cfgs := []supernet.Config{s.MaxConfig(160), s.MaxConfig(224), s.MinConfig(160), s.MinConfig(224)}
	want := []float64{0.8075, 0.8359, 0.7531, 0.7774}
	out := make([]float64, len(cfgs))
	p.Accuracy(cfgs, out)
	for i := range cfgs {
		if math.Abs(out[i]-want[i]) > 1e-4 {
			t.Errorf("config %d (r=%d): %.6f, want %.4f", i, cfgs[i].R, out[i], want[i])
		}
		if ref := p.accuracyRef(cfgs[i]); math.Abs(ref-out[i]) > 1e-6 {
			t.Errorf("config %d: batch %v, float64 reference %v", i, out[i], ref)
		}
	}
	w10, _ := supernet.NewSpace(1.0)
	if err := p.CheckSpace(w10); err == nil || !strings.Contains(err.Error(), "trained for ofa-mbv3-w1.2") {
		t.Errorf("CheckSpace(w1.0) = %v", err)
	}
	wide, _ := s.WithResolutions([]int{160, 256})
	if err := p.CheckSpace(wide); err == nil || !strings.Contains(err.Error(), "resolution 256") {
		t.Errorf("CheckSpace(r=256) = %v", err)
	}
}

// refCase is one case of the fixture's reference.json.
type refCase struct {
	Name    string          `json:"name"`
	Config  supernet.Config `json:"config"`
	PredAcc float64         `json:"pred_acc"`
}

func TestNASPredictorMatchesFixture(t *testing.T) {
	p := nasMLP(t)
	if p.Format() != FormatOFANAS || len(p.Resolutions()) != 25 {
		t.Fatalf("format %s, %d resolutions", p.Format(), len(p.Resolutions()))
	}
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "fixtures", "ofa-mbv3-w1.0", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Acc struct {
			ImageSizes []int   `json:"image_size_list"`
			BaseAcc    float64 `json:"base_acc"`
		} `json:"acc_predictor"`
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("no cases")
	}
	if math.Abs(float64(p.net.base)-ref.Acc.BaseAcc) > 1e-6 {
		t.Errorf("base_acc %v, reference %v", p.net.base, ref.Acc.BaseAcc)
	}
	// Reloading with the fixture's explicit image sizes gives the same
	// predictor.
	q, err := LoadMLPAccuracy(filepath.Join(sharedDir(t), "fixtures", "ofa-mbv3-w1.0", "acc_predictor.pth"), MLPOptions{ImageSizes: ref.Acc.ImageSizes, Space: "ofa-mbv3-w1.0"})
	if err != nil {
		t.Fatal(err)
	}
	cfgs := make([]supernet.Config, len(ref.Cases))
	for i, c := range ref.Cases {
		cfgs[i] = c.Config
	}
	for _, m := range []*MLPAccuracy{p, q} {
		out := make([]float64, len(cfgs))
		m.Accuracy(cfgs, out)
		for i, c := range ref.Cases {
			if math.Abs(out[i]-c.PredAcc) > 1e-5 {
				t.Errorf("%s: %.7f, OFA %.7f", c.Name, out[i], c.PredAcc)
			}
		}
	}
	w10, _ := supernet.NewSpace(1.0)
	if err := q.CheckSpace(w10); err != nil {
		t.Error(err)
	}
	if _, err := LoadMLPAccuracy(filepath.Join(sharedDir(t), "fixtures", "ofa-mbv3-w1.0", "acc_predictor.pth"), MLPOptions{ImageSizes: []int{160, 224}}); err == nil ||
		!strings.Contains(err.Error(), "145 inputs = 25 resolutions + 120, but 2 image sizes") {
		t.Errorf("wrong image sizes: %v", err)
	}
}

// TestMLPBatchMatchesReference compares the batched float32 path (the
// assembly kernels where available, and the portable Go path) with a
// float64 evaluation, on batches whose sizes exercise partial blocks.
func TestMLPBatchMatchesReference(t *testing.T) {
	s, _ := supernet.NewSpace(1.2)
	rng := rand.New(rand.NewPCG(9, 9))
	for _, p := range []*MLPAccuracy{tutorialMLP(t), nasMLP(t)} {
		cfgs := make([]supernet.Config, 2*blockRows+7)
		for i := range cfgs {
			cfgs[i] = s.RandomConfig(rng)
			if p.Format() == FormatOFANAS {
				cfgs[i].R = 128 + 4*rng.IntN(25)
			}
		}
		cfgs[5].KS[0] = 4 // not encodable
		cfgs[6].R = 999
		saved := useAsm
		for _, asm := range []bool{saved, false} {
			useAsm = asm
			out := make([]float64, len(cfgs))
			p.Accuracy(cfgs, out)
			for i, c := range cfgs {
				ref := p.accuracyRef(c)
				if i == 5 || i == 6 {
					if !math.IsNaN(out[i]) || !math.IsNaN(ref) {
						t.Errorf("%s: invalid config %d gave %v (ref %v)", p.Format(), i, out[i], ref)
					}
					continue
				}
				if math.Abs(out[i]-ref) > 2e-6 {
					t.Errorf("%s asm=%v: config %d: %v, reference %v", p.Format(), asm, i, out[i], ref)
				}
			}
		}
		useAsm = saved
	}
}

func TestLoadMLPAccuracyRefuses(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.pth")
	os.WriteFile(text, []byte("not a checkpoint"), 0o644)
	if _, err := LoadMLPAccuracy(text, MLPOptions{}); err == nil || !strings.Contains(err.Error(), "notes.pth") {
		t.Errorf("text file: %v", err)
	}
	if _, err := LoadMLPAccuracy(filepath.Join(dir, "missing.pth"), MLPOptions{}); err == nil {
		t.Error("missing file accepted")
	}
	// A real checkpoint of something else: the supernet.
	sup := filepath.Join(sharedDir(t), "fixtures", "ofa-mbv3-w1.0", "supernet.pth")
	if testing.Short() {
		t.Skip("skipping the 31 MB supernet checkpoint in -short mode")
	}
	if _, err := LoadMLPAccuracy(sup, MLPOptions{}); err == nil || !strings.Contains(err.Error(), "not an OFA MobileNetV3 accuracy predictor") {
		t.Errorf("supernet checkpoint: %v", err)
	}
	if _, err := newMLPAccuracy(map[string]supernet.Tensor{"0.weight": {Shape: []int{400, 100}, Data: make([]float32, 40000)}}, MLPOptions{}); err == nil || !strings.Contains(err.Error(), "want 128") {
		t.Errorf("wrong input width: %v", err)
	}
}
