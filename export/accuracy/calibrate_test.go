package accuracy

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/dataset"
	"github.com/edgefit/edgefit/internal/imaging"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
)

// TestCalibrateBatchesWeightsBySize checks OFA's AverageMeter semantics
// against statistics computed independently per batch by the Go reference
// forward pass: mean = Σ n_b·mean_b / Σ n_b and var = Σ n_b·var_b / Σ n_b
// (a mean of batch variances, not the pooled variance), last partial batch
// included.
func TestCalibrateBatchesWeightsBySize(t *testing.T) {
	for _, engine := range []Engine{EngineNative, EngineORT} {
		t.Run(string(engine), func(t *testing.T) {
			if engine == EngineORT {
				needORT(t)
			}
			calibrateWeightsBySize(t, engine)
		})
	}
}

func calibrateWeightsBySize(t *testing.T, engine Engine) {
	ck := checkpoint(t)
	net, err := supernet.Extract(ck, randomConfig(ck.Space, 128, 1))
	if err != nil {
		t.Fatal(err)
	}
	const n, batch = 11, 4 // batches of 4, 4 and 3
	per := 3 * 128 * 128
	data := make([]float32, 0, n*per)
	for i := range n {
		data = append(data, smoothImage(128, uint64(i))...)
	}
	got, images, err := CalibrateBatches(context.Background(), net, &sliceSource{data: data, per: per, batch: batch}, CalibrateOptions{Engine: engine, Threads: 1, MaxBatch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if images != n {
		t.Fatalf("%d images seen, want %d", images, n)
	}
	// The reference: each batch through ForwardBatchStats, then weighted.
	want := make([]export.BatchStats, len(got))
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		bs, err := export.ForwardBatchStats(net, data[lo*per:hi*per])
		if err != nil {
			t.Fatal(err)
		}
		w := float64(hi-lo) / n
		for i, s := range bs {
			if want[i].Mean == nil {
				want[i] = export.BatchStats{Mean: make([]float64, len(s.Mean)), Var: make([]float64, len(s.Var))}
			}
			for c := range s.Mean {
				want[i].Mean[c] += w * s.Mean[c]
				want[i].Var[c] += w * s.Var[c]
			}
		}
	}
	// And the pooled variance, which OFA does not compute, must differ.
	pooledDiffers := false
	for i := range got {
		if got[i].Name != net.BatchNorms()[i].Name {
			t.Fatalf("statistics %d are for %s, want %s", i, got[i].Name, net.BatchNorms()[i].Name)
		}
		m, v := relErr(got[i].Mean, got[i].Var, want[i])
		if m > 1e-5 || v > 1e-5 {
			t.Errorf("%s: relative error of the means %.2e, of the variances %.2e (limit 1e-5)", got[i].Name, m, v)
		}
	}
	all, err := export.ForwardBatchStats(net, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, v := relErr(got[0].Mean, got[0].Var, all[0]); v > 1e-4 {
		pooledDiffers = true
	}
	if !pooledDiffers {
		t.Error("the batch-weighted variance equals the variance of one batch of all images: the test images do not tell the two apart")
	}
}

// relErr is the error of means and variances as vectors: ‖Δmean‖/‖std‖
// and ‖Δvar‖/‖var‖.
func relErr(mean, variance []float64, ref export.BatchStats) (float64, float64) {
	var dm, nm, dv, nv float64
	for c := range ref.Mean {
		dm += (mean[c] - ref.Mean[c]) * (mean[c] - ref.Mean[c])
		nm += ref.Var[c]
		dv += (variance[c] - ref.Var[c]) * (variance[c] - ref.Var[c])
		nv += ref.Var[c] * ref.Var[c]
	}
	return math.Sqrt(dm / nm), math.Sqrt(dv / nv)
}

// smoothImage is one r×r image tensor made by the real preprocessing of a
// generated picture.
func smoothImage(r int, seed uint64) []float32 {
	m := imaging.NewRGB(r+17, r+5)
	for i := range m.Pix {
		x, y := (i/3)%m.W, (i/3)/m.W
		m.Pix[i] = uint8(127 + 100*math.Sin(float64(x)*float64(seed%7+1)/40+float64(y*(i%3+1))/30+float64(seed)))
	}
	dst := make([]float32, 3*r*r)
	if err := imaging.TestTransform(m, r, dst); err != nil {
		panic(err)
	}
	return dst
}

// TestRecalibrateFolder checks the folder path end to end against the
// tensor path: the folder's images, preprocessed one by one in the order
// torchvision's ImageFolder lists them and batched by hand, must give the
// same statistics; the metadata record names the images used; a second
// pass over kept crops gives identical statistics.
func TestRecalibrateFolder(t *testing.T) {
	needORT(t)
	ck := checkpoint(t)
	cfg := randomConfig(ck.Space, 128, 2)
	net, err := supernet.Extract(ck, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := testfix.ImageFolder(t, dir, []string{"0", "1", "2"}, 5, 7)
	ctx := context.Background()
	cs, err := OpenCalibration(ctx, CalibOptions{Dir: dir, Batch: 4, Images: 13})
	if err != nil {
		t.Fatal(err)
	}
	cs.KeepCrops()
	rec, cal, err := cs.Recalibrate(ctx, net, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Images != 13 || cal.Batches != 4 || cal.BatchSize != 4 {
		t.Errorf("calibration record %+v, want 13 images in 4 batches of 4", cal)
	}
	var used []dataset.Image
	for _, f := range files[:13] {
		rel, _ := filepath.Rel(dir, f)
		used = append(used, dataset.Image{Path: f, Rel: filepath.ToSlash(rel)})
	}
	if want := dataset.Digest(used); cal.ListSHA256 != want {
		t.Errorf("list digest %s, want %s (the first 13 files in ImageFolder order)", cal.ListSHA256, want)
	}
	per := 3 * 128 * 128
	var data []float32
	for _, f := range files[:13] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := imaging.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, per)
		if err := imaging.TestTransform(m, 128, x); err != nil {
			t.Fatal(err)
		}
		data = append(data, x...)
	}
	want, _, err := CalibrateBatches(ctx, net, &sliceSource{data: data, per: per, batch: 4}, CalibrateOptions{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := cs.Recalibrate(ctx, net, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, nb := range rec.BatchNorms() {
		for c := range nb.BN.Mean {
			if nb.BN.Mean[c] != float32(want[i].Mean[c]) || nb.BN.Var[c] != float32(want[i].Var[c]) {
				t.Fatalf("%s channel %d: folder gives %g/%g, tensors %g/%g", nb.Name, c, nb.BN.Mean[c], nb.BN.Var[c], want[i].Mean[c], want[i].Var[c])
			}
		}
		a := again.BatchNorms()[i].BN
		if !slices.Equal(a.Mean, nb.BN.Mean) || !slices.Equal(a.Var, nb.BN.Var) {
			t.Fatalf("%s: the pass over kept crops differs from the first", nb.Name)
		}
	}
	// The original net keeps its supernet statistics.
	if slices.Equal(net.BatchNorms()[0].BN.Mean, rec.BatchNorms()[0].BN.Mean) {
		t.Error("recalibration left the statistics unchanged or changed the input net")
	}
}

func TestCalibOptionsErrors(t *testing.T) {
	dir := t.TempDir()
	testfix.ImageFolder(t, dir, []string{"0"}, 2, 1)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts CalibOptions
		want string
	}{
		{"no folder", CalibOptions{Batch: 200, Images: 2000}, "--calib-data"},
		{"zero images", CalibOptions{Dir: dir, Batch: 200, Images: 0}, "--calib-images 0 must be at least 1"},
		{"zero batch", CalibOptions{Dir: dir, Batch: 0, Images: 10}, "--calib-batch 0 must be at least 1"},
		{"missing folder", CalibOptions{Dir: filepath.Join(dir, "nope"), Batch: 2, Images: 10}, "nope"},
		{"empty folder", CalibOptions{Dir: t.TempDir(), Batch: 2, Images: 10}, "calibration data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenCalibration(ctx, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
