package accuracy

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/dataset"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
)

// TestAgainstUpstreamOFA recalibrates a subnet of the fixture on generated
// JPEG and PNG folders and compares every BatchNorm statistic, and the
// recalibrated model's logits on other images, with upstream OFA's own
// set_running_statistics (scripts/ofa-reference/recalibrate.py). It is a
// developer's check, not part of CI, which has no OFA checkout: it runs
// only when EDGEFIT_OFA_SRC names a checkout of mit-han-lab/once-for-all
// (and EDGEFIT_TORCH_PYTHON, default /usr/bin/python3, has torch and
// torchvision).
func TestAgainstUpstreamOFA(t *testing.T) {
	src := os.Getenv("EDGEFIT_OFA_SRC")
	if src == "" {
		t.Skip("set EDGEFIT_OFA_SRC to a checkout of mit-han-lab/once-for-all to compare with upstream OFA")
	}
	needORT(t)
	py := os.Getenv("EDGEFIT_TORCH_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	ck := checkpoint(t)
	cfg := randomConfig(ck.Space, 160, 4)
	net, err := supernet.Extract(ck, cfg)
	if err != nil {
		t.Fatal(err)
	}
	calib, val := t.TempDir(), t.TempDir()
	testfix.ImageFolder(t, calib, []string{"0", "1", "2"}, 12, 1)
	testfix.ImageFolder(t, val, []string{"0", "1", "2"}, 7, 2)
	cs, err := OpenCalibration(context.Background(), CalibOptions{Dir: calib, Batch: 8, Images: 30})
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := cs.Recalibrate(context.Background(), net, nil)
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(t.TempDir(), "cfg.json")
	os.WriteFile(cfgPath, cj, 0o644)
	out := filepath.Join(t.TempDir(), "ofa.json")
	script := filepath.Join(testfix.RepoRoot(t), "scripts", "ofa-reference", "recalibrate.py")
	cmd := exec.Command(py, script, ck.Path, cfgPath, calib, "160", "8", "30", val, out)
	cmd.Env = append(os.Environ(), "EDGEFIT_OFA_SRC="+src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("upstream OFA: %v\n%s", err, b)
	}
	var ref struct {
		BN        map[string]struct{ Mean, Var []float64 }
		ValLogits []float64 `json:"val_logits"`
	}
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	worstM, worstV := 0.0, 0.0
	for _, nb := range rec.BatchNorms() {
		r, ok := ref.BN[nb.Name]
		if !ok || len(r.Mean) != len(nb.BN.Mean) {
			t.Fatalf("upstream OFA has no statistics of %d channels for %s", len(nb.BN.Mean), nb.Name)
		}
		var dm, nm, dv, nv float64
		for c := range r.Mean {
			dm += math.Pow(float64(nb.BN.Mean[c])-r.Mean[c], 2)
			nm += r.Var[c]
			dv += math.Pow(float64(nb.BN.Var[c])-r.Var[c], 2)
			nv += r.Var[c] * r.Var[c]
		}
		worstM, worstV = max(worstM, math.Sqrt(dm/nm)), max(worstV, math.Sqrt(dv/nv))
	}
	t.Logf("%d BatchNorms against upstream OFA: worst relative error of the means %.2e, of the variances %.2e", len(rec.BatchNorms()), worstM, worstV)
	if worstM > 1e-5 || worstV > 1e-5 {
		t.Errorf("statistics differ from upstream OFA's by more than 1e-5")
	}
	model, err := export.Marshal(rec, export.Metadata{CheckpointSHA256: ck.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	set, err := dataset.ListLabelled(val, dataset.LabelOptions{NumClasses: 1000})
	if err != nil {
		t.Fatal(err)
	}
	l, err := dataset.NewLoader(context.Background(), set.Images, dataset.LoaderOptions{Resolution: 160, BatchSize: len(set.Images)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	batch, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	logits, err := export.RunModel(context.Background(), model, batch.Data, batch.Len())
	if err != nil {
		t.Fatal(err)
	}
	d, scale := 0.0, 1.0
	for i := range logits {
		d = max(d, math.Abs(float64(logits[i])-ref.ValLogits[i]))
		scale = max(scale, math.Abs(ref.ValLogits[i]))
	}
	t.Logf("logits of the recalibrated model against upstream OFA's on %d images: max difference %.2e at scale %.3g", batch.Len(), d, scale)
	if d > 1e-4*scale {
		t.Errorf("logits differ from upstream OFA's recalibrated subnet by more than 1e-4 of their scale")
	}
}
