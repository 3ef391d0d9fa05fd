package accuracy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

func TestSampleSubnets(t *testing.T) {
	s, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	a := SampleSubnets(s, 200, 1)
	seen := map[supernet.Config]bool{}
	for _, c := range a {
		if c.R != 0 || c != c.Canonical(s) || seen[c] {
			t.Fatalf("subnet %s: resolution set, not canonical or drawn twice", c)
		}
		seen[c] = true
	}
	if b := SampleSubnets(s, 200, 1); b[199] != a[199] {
		t.Error("the same seed drew other subnets")
	}
	if b := SampleSubnets(s, 200, 2); b[0] == a[0] && b[1] == a[1] {
		t.Error("another seed drew the same subnets")
	}
}

func TestBuildDatasetResumesWithoutMeasuringTwice(t *testing.T) {
	needORT(t)
	ck := checkpoint(t)
	calib, val := t.TempDir(), t.TempDir()
	testfix.ImageFolder(t, calib, []string{"0", "1"}, 3, 11)
	testfix.ImageFolder(t, val, []string{"0", "1", "2"}, 2, 12)
	out := filepath.Join(t.TempDir(), "acc.csv")
	opts := DatasetOptions{
		Subnets: 3, Resolutions: []int{128}, Seed: 4,
		Calib:  CalibOptions{Dir: calib, Batch: 4, Images: 6},
		Eval:   EvalOptions{Dir: val},
		Output: out,
	}
	// A run stopped after its first measurement.
	ctx, cancel := context.WithCancel(context.Background())
	opts.Progress = func(p DatasetProgress) {
		if p.Done == 1 {
			cancel()
		}
	}
	if _, err := BuildDataset(ctx, ck, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run returned %v, want context.Canceled", err)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), "# 1 of 3 measurements") {
		t.Fatalf("CSV after the stop:\n%s", first)
	}
	// The resumed run measures the other two only.
	var measured int
	opts.Progress = func(p DatasetProgress) {
		if p.Last != nil {
			measured++
		}
	}
	res, err := BuildDataset(context.Background(), ck, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 1 || measured != 2 || len(res.Rows) != 3 {
		t.Fatalf("resumed %d, measured %d now, %d rows; want 1, 2, 3", res.Resumed, measured, len(res.Rows))
	}
	// Each row is what measuring that subnet directly gives.
	cs, _ := OpenCalibration(context.Background(), opts.Calib)
	es, _ := OpenEvaluation(context.Background(), EvalOptions{Dir: val, Batch: DefaultEvalBatch}, ck.Space.Classes)
	direct, err := measure(context.Background(), ck, res.Rows[2].Config, cs, es)
	if err != nil {
		t.Fatal(err)
	}
	if direct.Top1 != res.Rows[2].Top1 || direct.Top5 != res.Rows[2].Top5 || direct.Images != 6 {
		t.Errorf("row %+v, measured directly %+v", res.Rows[2], direct)
	}
	// The CSV is what --acc reads.
	samples, err := predictor.LoadAccuracyCSV(ck.Space, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples.Samples) != 3 || samples.Samples[2].Config != res.Rows[2].Config || samples.Samples[2].Accuracy != res.Rows[2].Top1 {
		t.Fatalf("CSV read back as %+v", samples.Samples)
	}
	// A finished dataset is not measured again.
	measured = 0
	if _, err := BuildDataset(context.Background(), ck, opts); err != nil || measured != 0 {
		t.Fatalf("re-run of a finished dataset: %v, %d measured", err, measured)
	}
	// Other settings are refused, naming what changed.
	opts.Seed = 5
	if _, err := BuildDataset(context.Background(), ck, opts); err == nil || !strings.Contains(err.Error(), "--seed 4") {
		t.Fatalf("resume with another seed: %v", err)
	}
}

func TestDatasetOptionsErrors(t *testing.T) {
	ck := checkpoint(t)
	dir := t.TempDir()
	testfix.ImageFolder(t, dir, []string{"0"}, 1, 1)
	base := DatasetOptions{Subnets: 2, Resolutions: []int{128}, Calib: CalibOptions{Dir: dir, Batch: 2, Images: 2}, Eval: EvalOptions{Dir: dir}, Output: filepath.Join(t.TempDir(), "a.csv")}
	for _, tc := range []struct {
		name string
		edit func(*DatasetOptions)
		want string
	}{
		{"no subnets", func(o *DatasetOptions) { o.Subnets = 0 }, "--subnets 0"},
		{"resolution outside the space", func(o *DatasetOptions) { o.Resolutions = []int{0} }, "--res"},
		{"resolution twice", func(o *DatasetOptions) { o.Resolutions = []int{128, 128} }, "twice"},
		{"no calibration images", func(o *DatasetOptions) { o.Calib.Images = 0 }, "--calib-images 0"},
		{"no validation folder", func(o *DatasetOptions) { o.Eval.Dir = "" }, "--val-data"},
		{"missing output directory", func(o *DatasetOptions) { o.Output = filepath.Join(dir, "no", "a.csv") }, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Output = filepath.Join(t.TempDir(), "a.csv")
			tc.edit(&o)
			_, err := BuildDataset(context.Background(), ck, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if _, err := os.Stat(o.Output + JournalSuffix); err == nil {
				t.Error("a journal was written for a refused run")
			}
		})
	}
}
