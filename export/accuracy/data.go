package accuracy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/dataset"
	"github.com/edgefit/edgefit/internal/hint"
	"github.com/edgefit/edgefit/supernet"
)

// OFA's calibration defaults: set_running_statistics runs on 2000 training
// images in batches of 200.
const (
	DefaultCalibBatch  = 200
	DefaultCalibImages = 2000
	DefaultEvalBatch   = 100
)

// CalibOptions are the settings every command that recalibrates shares
// (--calib-data, --calib-batch, --calib-images, --calib-augment,
// --calib-seed, --skip-bad-images).
type CalibOptions struct {
	Dir     string // every JPEG or PNG below it, in ImageFolder order
	Batch   int    // images per batch (OFA: 200)
	Images  int    // the first this many images (OFA: 2000)
	Augment bool   // OFA's training-style random crops and flips instead of the test transform
	Seed    uint64 // seeds the augmentation
	SkipBad bool   // leave unreadable images out instead of failing
	Engine  Engine // how batch statistics are computed; "" is EngineNative
}

func (o CalibOptions) check() error {
	switch {
	case o.Dir == "":
		return errors.New("no calibration folder given: pass --calib-data DIR (a folder of JPEG or PNG images)")
	case o.Batch <= 0:
		return fmt.Errorf("--calib-batch %d must be at least 1 (OFA uses %d)", o.Batch, DefaultCalibBatch)
	case o.Images <= 0:
		return fmt.Errorf("--calib-images %d must be at least 1 (OFA uses %d)", o.Images, DefaultCalibImages)
	}
	return nil
}

// Calibration records how a subnet's BatchNorm statistics were obtained,
// for the model's metadata and reports.
type Calibration struct {
	Dir        string  `json:"dir"`
	Images     int     `json:"images"`
	BatchSize  int     `json:"batch_size"`
	Batches    int     `json:"batches"`
	ListSHA256 string  `json:"list_sha256"` // of the images used, in order (dataset.Digest)
	Augment    bool    `json:"augment,omitempty"`
	Seed       uint64  `json:"seed,omitempty"`
	Skipped    int     `json:"skipped_images,omitempty"`
	Seconds    float64 `json:"wall_seconds"`
}

// Options returns the calibration options that reproduce c: the same
// folder, batch size, image count, augmentation and skipping of bad
// images; nil for a nil c.
func (c *Calibration) Options() *CalibOptions {
	if c == nil {
		return nil
	}
	return &CalibOptions{Dir: c.Dir, Batch: c.BatchSize, Images: c.Images, Augment: c.Augment, Seed: c.Seed, SkipBad: c.Skipped > 0}
}

// CalibSet is a calibration folder listed and checked, ready to
// recalibrate any number of subnets.
type CalibSet struct {
	engine Engine
	folder
}

// OpenCalibration lists and checks a calibration folder: every image below
// it (no labels needed), the first opts.Images of them, each one's header
// read so that unreadable files fail now rather than after minutes of work.
func OpenCalibration(ctx context.Context, opts CalibOptions) (*CalibSet, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	set, err := dataset.ListUnlabelled(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("calibration data: %w", err)
	}
	s, bad, err := checkSet(ctx, set, opts.Images, opts.SkipBad)
	if err != nil {
		return nil, err
	}
	return &CalibSet{engine: opts.Engine, folder: folder{dir: opts.Dir, images: s.Images, batch: opts.Batch, augment: opts.Augment, seed: opts.Seed, skipBad: opts.SkipBad, listSkipped: bad}}, nil
}

// checkSet preflights the first n images of set (more when bad ones are
// skipped, so that n good ones remain where the folder has them).
func checkSet(ctx context.Context, set *dataset.Set, n int, skipBad bool) (*dataset.Set, []dataset.BadImage, error) {
	limited, err := set.Limit(n)
	if err != nil {
		return nil, nil, err
	}
	good, bad, err := limited.Check(ctx, skipBad)
	if err != nil {
		return nil, nil, withSkipAdvice(err)
	}
	// Refill from the images after the limit, as OFA would have taken them.
	// Only a set that lost images is refilled: good is then Check's own
	// copy, with an image list of its own to append to.
	for rest := set.Images[len(limited.Images):]; skipBad && len(good.Images) < n && len(rest) > 0; {
		take := min(n-len(good.Images), len(rest))
		more := &dataset.Set{Root: set.Root, Images: rest[:take]}
		rest = rest[take:]
		ok, b, err := more.Check(ctx, true)
		if err != nil {
			return nil, nil, err
		}
		good.Images = append(good.Images, ok.Images...)
		bad = append(bad, b...)
	}
	if len(good.Images) == 0 {
		return nil, nil, fmt.Errorf("%s: none of the images can be read: fix them", set.Root)
	}
	return good, bad, nil
}

// Recalibrate returns a copy of net whose BatchNorms hold statistics
// recalibrated on the set at net's resolution, exactly as OFA's
// set_running_statistics computes them (see [CalibrateBatches]), and the
// record of how.
func (c *CalibSet) Recalibrate(ctx context.Context, net *supernet.Net, progress func(images, total int)) (*supernet.Net, *Calibration, error) {
	start := time.Now()
	p, err := c.open(ctx, net.Config.R)
	if err != nil {
		return nil, nil, err
	}
	defer p.close()
	var report func(int)
	if progress != nil {
		report = func(n int) { progress(n, len(c.images)) }
	}
	stats, images, err := CalibrateBatches(ctx, net, p.src, CalibrateOptions{Engine: c.engine, MaxBatch: c.batch, Progress: report})
	if err != nil {
		return nil, nil, fmt.Errorf("recalibrate BatchNorm on %s: %w", c.dir, err)
	}
	out, err := Apply(net, stats)
	if err != nil {
		return nil, nil, err
	}
	used, batches, skipped := p.done()
	return out, &Calibration{
		Dir:        c.dir,
		Images:     images,
		BatchSize:  c.batch,
		Batches:    batches,
		ListSHA256: dataset.Digest(used),
		Augment:    c.augment,
		Seed:       seedIf(c.augment, c.seed),
		Skipped:    len(c.listSkipped) + skipped,
		Seconds:    time.Since(start).Seconds(),
	}, nil
}

// CheckImages is how many calibration images [CalibSet.CheckInput] gives.
const CheckImages = 2

// CheckInput returns the set's first n images (fewer where it has fewer)
// at resolution r, with the test transform, never augmented, as one batch
// (image-major, N×3×r×r): the input on which a model recalibrated on the
// set is checked against its forward pass. Such a net is well conditioned
// only on inputs like those it was calibrated on: on random pixels a
// BatchNorm whose batch variance was small multiplies float32 rounding by
// its 1/√(var+ε), layer after layer (measured: 2.7% of the largest logit
// on random pixels, 2e-5 on calibration images, for one subnet calibrated
// on 5 images).
func (c *CalibSet) CheckInput(ctx context.Context, r, n int) ([]float32, error) {
	n = min(n, len(c.images))
	l, err := dataset.NewLoader(ctx, c.images[:n], dataset.LoaderOptions{Resolution: r, BatchSize: n, SkipBad: true})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	b, err := l.Next()
	if err != nil {
		return nil, fmt.Errorf("check images from %s: %w", c.dir, err)
	}
	return slices.Clone(b.Data), nil
}

// withSkipAdvice adds to an error about unreadable images the flag that
// leaves them out: every command reading these folders has it.
func withSkipAdvice(err error) error {
	var bad *dataset.BadImagesError
	if errors.As(err, &bad) {
		return hint.Wrap(err, "pass --skip-bad-images to leave unreadable images out (they are counted and named in the output)")
	}
	return err
}

func seedIf(on bool, seed uint64) uint64 {
	if on {
		return seed
	}
	return 0
}

// loaderSource adapts a dataset.Loader to Source, remembering the images
// it yielded.
type loaderSource struct {
	l       *dataset.Loader
	used    []dataset.Image
	batches int
}

func (s *loaderSource) Next(ctx context.Context) (*Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := s.l.Next()
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	if err != nil {
		return nil, withSkipAdvice(err)
	}
	s.used = append(s.used, b.Images...)
	s.batches++
	var labels []int
	if len(b.Images) > 0 && b.Images[0].Label >= 0 {
		labels = b.Labels
	}
	return &Batch{Data: b.Data, N: b.Len(), Labels: labels}, nil
}

// EvalOptions are the settings of an evaluation folder (--data or
// --val-data, --labels, --skip-bad-images).
type EvalOptions struct {
	Dir        string
	LabelsFile string
	Batch      int // images per ONNX Runtime run; results do not depend on it
	Images     int // at most this many (0: all)
	SkipBad    bool
}

// EvalSet is a labelled folder listed and checked.
type EvalSet struct {
	labelling dataset.Labelling
	folder
}

// OpenEvaluation lists and checks a labelled folder for a model with the
// given number of classes.
func OpenEvaluation(ctx context.Context, opts EvalOptions, classes int) (*EvalSet, error) {
	if opts.Dir == "" {
		return nil, errors.New("no evaluation folder given: pass --data DIR (ImageNet layout: DIR/<class>/<image>)")
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultEvalBatch
	}
	set, err := dataset.ListLabelled(opts.Dir, dataset.LabelOptions{NumClasses: classes, LabelsFile: opts.LabelsFile})
	if err != nil {
		return nil, fmt.Errorf("evaluation data: %w", err)
	}
	n := opts.Images
	if n <= 0 {
		n = len(set.Images)
	}
	s, bad, err := checkSet(ctx, set, n, opts.SkipBad)
	if err != nil {
		return nil, err
	}
	return &EvalSet{labelling: s.Labelling, folder: folder{dir: opts.Dir, images: s.Images, batch: opts.Batch, skipBad: opts.SkipBad, listSkipped: bad}}, nil
}

// Labelling says how class folders became class indices.
func (e *EvalSet) Labelling() dataset.Labelling { return e.labelling }

// Evaluate runs model (an exported subnet: input [N,3,r,r], logits
// [N,classes]) on the set at resolution r with OFA's test transform.
func (e *EvalSet) Evaluate(ctx context.Context, model []byte, r int, progress func(images, total int)) (*EvalResult, error) {
	p, err := e.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer p.close()
	ev, err := NewEvaluator(model, 0)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	var report func(int)
	if progress != nil {
		report = func(n int) { progress(n, len(e.images)) }
	}
	res, err := ev.Run(ctx, p.src, report)
	if err != nil {
		return nil, fmt.Errorf("evaluate on %s: %w", e.dir, err)
	}
	_, _, skipped := p.done()
	res.Skipped = len(e.listSkipped) + skipped
	return res, nil
}

// folder is what calibration and evaluation sets share: the images in
// order and how to turn them into batches, with an optional crop cache.
type folder struct {
	dir         string
	images      []dataset.Image
	batch       int
	augment     bool
	seed        uint64
	skipBad     bool
	listSkipped []dataset.BadImage // left out at listing time

	caching bool       // keep crops across passes (see KeepCrops)
	cache   *cropCache // of the last resolution
}

// Images is the number of images the set will use.
func (f *folder) Images() int { return len(f.images) }

// Digest is the SHA-256 of the ordered image list (dataset.Digest).
func (f *folder) Digest() string { return dataset.Digest(f.images) }

// Dir is the folder listed.
func (f *folder) Dir() string { return f.dir }

// BatchSize is the number of images per batch.
func (f *folder) BatchSize() int { return f.batch }

// KeepCrops makes the set keep every image's preprocessed crop in memory
// (8-bit, r×r×3 bytes each, for the last resolution used) when that takes
// at most 3 GiB, so that passes after the first skip decoding: what
// measuring many subnets at one resolution wants.
func (f *folder) KeepCrops() { f.caching = true }

// pass is one run over the set.
type pass struct {
	src   Source
	done  func() (used []dataset.Image, batches, skipped int)
	close func()
}

func (f *folder) open(ctx context.Context, r int) (*pass, error) {
	if c := f.cache; c != nil && c.r == r {
		src := &cachedSource{c: c, images: f.images, batch: f.batch}
		return &pass{src: src, close: func() {}, done: func() ([]dataset.Image, int, int) {
			used := make([]dataset.Image, len(c.used))
			for i, j := range c.used {
				used[i] = f.images[j]
			}
			return used, (len(c.used) + f.batch - 1) / f.batch, c.skipped
		}}, nil
	}
	crop := dataset.TestCrop(r)
	if f.augment {
		crop = dataset.AugmentCrop(r, f.seed)
	}
	var cache *cropCache
	tf := dataset.CropTransform(crop)
	if f.caching && cacheable(len(f.images), r) {
		f.cache = nil // the old resolution's crops go now
		cache = &cropCache{r: r, crops: make([][]byte, len(f.images))}
		tf = cache.transform(crop)
	}
	l, err := dataset.NewLoader(ctx, f.images, dataset.LoaderOptions{Resolution: r, BatchSize: f.batch, Transform: tf, SkipBad: f.skipBad})
	if err != nil {
		return nil, err
	}
	src := &loaderSource{l: l}
	return &pass{
		src:   src,
		close: l.Close,
		done: func() ([]dataset.Image, int, int) {
			skipped := len(l.Skipped())
			if cache != nil {
				// The pass ran to its end, so the images that decoded
				// (and were yielded, in order) are those with a crop.
				for i, crop := range cache.crops {
					if crop != nil {
						cache.used = append(cache.used, i)
					}
				}
				cache.skipped = skipped
				f.cache = cache
			}
			return src.used, src.batches, skipped
		},
	}, nil
}

// Metadata is the calibration as the exported model records it.
func (c *Calibration) Metadata() *export.Calibration {
	if c == nil {
		return nil
	}
	return &export.Calibration{Images: c.Images, BatchSize: c.BatchSize, ListSHA256: c.ListSHA256, Augment: c.Augment, Seed: c.Seed}
}
