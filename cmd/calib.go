package cmd

import (
	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/export/accuracy"
)

// calibFlags are the calibration flags of every command that recalibrates
// BatchNorm (export, eval, select, run, accuracy-dataset): the same names,
// meanings and defaults everywhere.
type calibFlags struct {
	Dir     string
	Batch   int
	Images  int
	Augment bool
	Seed    uint64
	Engine  string
	f       *pflag.FlagSet
}

func (c *calibFlags) AddFlags(f *pflag.FlagSet) {
	c.f = f
	f.StringVar(&c.Dir, "calib-data", "", "images to recalibrate BatchNorm on, as OFA's set_running_statistics does: every JPEG/PNG below DIR, in torchvision ImageFolder order (no labels needed)")
	f.IntVar(&c.Batch, "calib-batch", accuracy.DefaultCalibBatch, "calibration images per batch (OFA's 200; the statistics depend on it)")
	f.IntVar(&c.Images, "calib-images", accuracy.DefaultCalibImages, "use the first N calibration images (OFA's 2000)")
	f.BoolVar(&c.Augment, "calib-augment", false, "calibrate on OFA's training-style random crops and flips (seeded by --calib-seed) instead of the test transform; off by default: the test transform is deterministic and matches what the deployed model sees")
	f.Uint64Var(&c.Seed, "calib-seed", 1, "seed of --calib-augment")
	f.StringVar(&c.Engine, "calib-engine", string(accuracy.EngineNative), "how batch statistics are computed: native (edgefit's Go forward pass) or onnxruntime (a calibration graph); both follow OFA exactly")
}

// options returns the calibration to do, or nil when --calib-data is not
// given; the other calibration flags then are an error, since they would
// do nothing.
func (c *calibFlags) options(skipBad bool) (*accuracy.CalibOptions, error) {
	if c.Dir == "" {
		for _, name := range []string{"calib-batch", "calib-images", "calib-augment", "calib-seed", "calib-engine"} {
			if c.f != nil && c.f.Changed(name) {
				return nil, usageErrorf("--%s needs --calib-data DIR: the images to recalibrate BatchNorm on", name)
			}
		}
		return nil, nil
	}
	switch {
	case c.Batch < 1:
		return nil, usageErrorf("--calib-batch %d must be at least 1 (OFA uses %d)", c.Batch, accuracy.DefaultCalibBatch)
	case c.Images < 1:
		return nil, usageErrorf("--calib-images %d must be at least 1 (OFA uses %d)", c.Images, accuracy.DefaultCalibImages)
	case c.Engine != string(accuracy.EngineNative) && c.Engine != string(accuracy.EngineORT):
		return nil, usageErrorf("--calib-engine %q: use %s or %s", c.Engine, accuracy.EngineNative, accuracy.EngineORT)
	}
	return &accuracy.CalibOptions{Dir: c.Dir, Batch: c.Batch, Images: c.Images, Augment: c.Augment, Seed: c.Seed,
		SkipBad: skipBad, Engine: accuracy.Engine(c.Engine)}, nil
}

// dataFlags name a labelled folder to measure accuracy on.
type dataFlags struct {
	Labels  string
	SkipBad bool
	Batch   int
}

func (d *dataFlags) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&d.Labels, "labels", "", "file naming the class folders, one per line in class order (line 1 = class 0); needed unless the folders are named 0, 1, 2, ... or there is one per model class")
	f.BoolVar(&d.SkipBad, "skip-bad-images", false, "leave images that cannot be read out (counted and reported) instead of stopping")
	f.IntVar(&d.Batch, "eval-batch", accuracy.DefaultEvalBatch, "images per ONNX Runtime run when evaluating (results do not depend on it)")
}

func (d *dataFlags) options(dir string) (accuracy.EvalOptions, error) {
	if d.Batch < 1 {
		return accuracy.EvalOptions{}, usageErrorf("--eval-batch %d must be at least 1", d.Batch)
	}
	return accuracy.EvalOptions{Dir: dir, LabelsFile: d.Labels, Batch: d.Batch, SkipBad: d.SkipBad}, nil
}

// rerankFlags measure the search's best candidates on the user's images
// (select and run): --val-data, --rerank, the calibration flags and the
// data flags.
type rerankFlags struct {
	ValData string
	K       int
	calib   calibFlags
	data    dataFlags
}

func (r *rerankFlags) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&r.ValData, "val-data", "", "labelled images (DIR/<class>/<image>) to measure the candidates' accuracy on, with --rerank")
	f.IntVar(&r.K, "rerank", 0, "recalibrate and evaluate the K best candidates within the limits (by predicted accuracy, spread along the front) and pick the best measured; needs --checkpoint, --calib-data and --val-data")
	r.calib.AddFlags(f)
	r.data.AddFlags(f)
}

// options returns the calibration (nil without --calib-data) and the
// rerank (nil without --rerank); allowCalibOnly says whether
// calibration without a rerank means something (run exports a model; select
// does not).
func (r *rerankFlags) options(allowCalibOnly bool) (*accuracy.CalibOptions, *edgefit.RerankOptions, error) {
	calib, err := r.calib.options(r.data.SkipBad)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case r.K < 0:
		return nil, nil, usageErrorf("--rerank %d must be at least 1: the number of candidates to measure", r.K)
	case r.K == 0 && r.ValData != "":
		return nil, nil, usageErrorf("--val-data is used by --rerank K: add --rerank 5, say, to measure the 5 best candidates")
	case r.K == 0 && calib != nil && !allowCalibOnly:
		return nil, nil, usageErrorf("--calib-data on select is used by --rerank K (select exports no model): add --rerank and --val-data, or recalibrate with 'edgefit export --calib-data'")
	case r.K == 0:
		return calib, nil, nil
	case r.ValData == "":
		return nil, nil, usageErrorf("--rerank needs --val-data DIR: a labelled folder (DIR/<class>/<image>) to measure accuracy on")
	case calib == nil:
		return nil, nil, usageErrorf("--rerank needs --calib-data DIR: images to recalibrate each candidate's BatchNorm on, as OFA does before measuring")
	}
	val, err := r.data.options(r.ValData)
	if err != nil {
		return nil, nil, err
	}
	return calib, &edgefit.RerankOptions{K: r.K, Calib: *calib, Val: val}, nil
}
