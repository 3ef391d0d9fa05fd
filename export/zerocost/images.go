package zerocost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/edgefit/edgefit/internal/dataset"
	"github.com/edgefit/edgefit/internal/imaging"
)

// DefaultImages is the number of images scored when none is given, the
// batch size of NASWOT's experiments on ImageNet-sized nets.
const DefaultImages = 64

// MinImages is the fewest images a kernel can compare.
const MinImages = 2

// cacheBytes bounds the preprocessed batches kept, one per resolution:
// 25 resolutions from 128 to 224 of 64 images fit.
const cacheBytes = 640 << 20

// decodedBytes bounds the decoded folder images kept between resolutions
// (3 bytes a pixel): 64 ImageNet-size photographs take about 36 MB. A
// batch above it is read and decoded again at each new resolution.
const decodedBytes = 256 << 20

// synthSize is the side of the synthetic images, above OFA's test resize
// (⌈r/0.875⌉ = 256 at 224) for every resolution up to 280, so that every
// resolution sees the same images scaled down.
const synthSize = 320

// Images is the minibatch every subnet is scored on: the first images of
// a folder, or a seeded synthetic batch. Each resolution's batch is made
// with OFA's test transform (resize the shorter side to ⌈r/0.875⌉, centre
// crop r, ImageNet normalization, as package imaging reproduces
// torchvision) and kept for the next subnet at that resolution. The
// images themselves are decoded once (the synthetic ones made once) and
// kept for the next resolution, unless a folder's take more than
// decodedBytes decoded. It is safe for concurrent use.
type Images struct {
	n     int
	asked int
	dir   string
	set   *dataset.Set // nil for the synthetic batch
	seed  uint64

	// rgb are the decoded images, every resolution's batch made from
	// them: the synthetic images, or a folder's once read, unless over
	// budget bytes (then tooBig, and each batch is read from the files).
	rgb    []*imaging.RGB
	budget int64
	tooBig bool

	mu    sync.Mutex
	cache map[int][]float32
	order []int // resolutions cached, oldest first
	bytes int64
}

// OpenImages lists every image below dir in the order of
// dataset.ListUnlabelled (torchvision ImageFolder's for a class-folder
// tree), keeps the first n (DefaultImages when n is 0) and reads every
// kept file's header, so that a bad file fails now rather than in the
// middle of a search. A folder with fewer than n images gives all of them,
// if there are at least MinImages.
func OpenImages(ctx context.Context, dir string, n int) (*Images, error) {
	n, err := imageCount(n)
	if err != nil {
		return nil, err
	}
	set, err := dataset.ListUnlabelled(dir)
	if err != nil {
		return nil, err
	}
	if len(set.Images) < MinImages {
		return nil, fmt.Errorf("zero-cost images: %s holds %d image; the kernel compares images, so it needs at least %d: add images", dir, len(set.Images), MinImages)
	}
	if set, err = set.Limit(n); err != nil {
		return nil, err
	}
	if set, _, err = set.Check(ctx, false); err != nil {
		return nil, fmt.Errorf("zero-cost images: %w", err)
	}
	return &Images{n: len(set.Images), asked: n, dir: dir, set: set, budget: decodedBytes, cache: map[int][]float32{}}, nil
}

// SyntheticImages returns n (DefaultImages when n is 0) seeded synthetic
// images: smooth random colour fields (a few random plane waves per
// channel around a random mean colour, plus pixel noise) of
// synthSize×synthSize, made at the first Batch and transformed like
// photographs at each resolution. The same seed gives the same images.
func SyntheticImages(n int, seed uint64) (*Images, error) {
	n, err := imageCount(n)
	if err != nil {
		return nil, err
	}
	return &Images{n: n, asked: n, seed: seed, cache: map[int][]float32{}}, nil
}

func imageCount(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultImages, nil
	case n < MinImages:
		return 0, fmt.Errorf("zero-cost images: %d image(s) asked for; the kernel compares images, so it needs at least %d (NASWOT uses %d)", n, MinImages, DefaultImages)
	}
	return n, nil
}

func synthImage(seed uint64, i int) *imaging.RGB {
	rng := rand.New(rand.NewPCG(seed, 0x5eed0000+uint64(i)))
	m := imaging.NewRGB(synthSize, synthSize)
	// Each wave cos(u(x) + v(y)) is cos u·cos v − sin u·sin v, from
	// tables of its row and column angles.
	const waves = 4
	var field [3][synthSize * synthSize]float32
	cu, su, cv, sv := make([]float64, synthSize), make([]float64, synthSize), make([]float64, synthSize), make([]float64, synthSize)
	for c := range 3 {
		base := 40 + 175*rng.Float64()
		f := &field[c]
		for k := range f {
			f[k] = float32(base)
		}
		for range waves {
			amp, fx, fy, ph := 10+30*rng.Float64(), 8*(rng.Float64()-0.5), 8*(rng.Float64()-0.5), 2*math.Pi*rng.Float64()
			for t := range synthSize {
				cu[t], su[t] = math.Cos(2*math.Pi*fx*float64(t)/synthSize), math.Sin(2*math.Pi*fx*float64(t)/synthSize)
				cv[t], sv[t] = math.Cos(2*math.Pi*fy*float64(t)/synthSize+ph), math.Sin(2*math.Pi*fy*float64(t)/synthSize+ph)
			}
			for y := range synthSize {
				row := f[y*synthSize : (y+1)*synthSize]
				for x := range row {
					row[x] += float32(amp * (cu[x]*cv[y] - su[x]*sv[y]))
				}
			}
		}
	}
	for p := range synthSize * synthSize {
		for c := range 3 {
			v := float64(field[c][p]) + 6*rng.NormFloat64()
			m.Pix[p*3+c] = byte(min(255, max(0, math.Round(v))))
		}
	}
	return m
}

// N is the number of images.
func (im *Images) N() int { return im.n }

// Synthetic reports whether the batch is synthetic.
func (im *Images) Synthetic() bool { return im.set == nil }

// Dir is the image folder, "" for the synthetic batch.
func (im *Images) Dir() string { return im.dir }

// Digest identifies the images: the dataset digest of the folder's list
// (see dataset.Digest), or "synthetic:SEED".
func (im *Images) Digest() string {
	if im.set == nil {
		return fmt.Sprintf("synthetic:%d", im.seed)
	}
	return im.set.Digest()
}

// Describe says in words what the batch is, for reports.
func (im *Images) Describe() string {
	if im.set == nil {
		return fmt.Sprintf("a synthetic batch of %d seeded images (seed %d; no image folder given)", im.n, im.seed)
	}
	if im.n < im.asked {
		return fmt.Sprintf("the %d images of %s (fewer than the %d asked for)", im.n, im.dir, im.asked)
	}
	return fmt.Sprintf("the first %d images of %s", im.n, im.dir)
}

// Batch returns the n images at resolution r, NCHW (n·3·r·r values),
// from the cache or made now. The slice is shared: do not change it.
func (im *Images) Batch(ctx context.Context, r int) ([]float32, error) {
	if r <= 0 {
		return nil, fmt.Errorf("zero-cost images: resolution %d must be positive", r)
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if b, ok := im.cache[r]; ok {
		return b, nil
	}
	b, err := im.make(ctx, r)
	if err != nil {
		return nil, err
	}
	size := int64(len(b)) * 4
	for len(im.order) > 0 && im.bytes+size > cacheBytes {
		old := im.order[0]
		im.order = im.order[1:]
		im.bytes -= int64(len(im.cache[old])) * 4
		delete(im.cache, old)
	}
	im.cache[r] = b
	im.order = append(im.order, r)
	im.bytes += size
	return b, nil
}

func (im *Images) make(ctx context.Context, r int) ([]float32, error) {
	if im.set == nil {
		// The synthetic images are drawn by the workers below, each from
		// its own index's stream.
		for len(im.rgb) < im.n {
			im.rgb = append(im.rgb, nil)
		}
	} else if im.rgb == nil {
		return im.load(ctx, r)
	} else if err := ctx.Err(); err != nil { // as the loader would say
		return nil, fmt.Errorf("zero-cost images at %d: %w", r, err)
	}
	per := 3 * r * r
	out := make([]float32, im.n*per)
	errs := make([]error, im.n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), im.n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < im.n; i = int(next.Add(1)) - 1 {
				if im.set == nil && im.rgb[i] == nil {
					im.rgb[i] = synthImage(im.seed, i)
				}
				errs[i] = imaging.TestTransform(im.rgb[i], r, out[i*per:(i+1)*per])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// load reads and decodes the folder's images and makes the batch at r
// with the loader (the test transform on each decoded image). Unless
// they were found too large before, it keeps a copy of the decoded
// images for the next resolutions while they fit the budget.
func (im *Images) load(ctx context.Context, r int) ([]float32, error) {
	opts := dataset.LoaderOptions{Resolution: r, BatchSize: im.n}
	var keep []*imaging.RGB
	var kept atomic.Int64
	if !im.tooBig {
		keep = make([]*imaging.RGB, im.n)
		opts.Transform = func(img *imaging.RGB, i int, dst []float32) error {
			if kept.Add(int64(len(img.Pix))) <= im.budget {
				keep[i] = &imaging.RGB{W: img.W, H: img.H, Pix: slices.Clone(img.Pix)}
			}
			return imaging.TestTransform(img, r, dst)
		}
	}
	l, err := dataset.NewLoader(ctx, im.set.Images, opts)
	if err != nil {
		return nil, fmt.Errorf("zero-cost images: %w", err)
	}
	defer l.Close()
	b, err := l.Next()
	if err != nil {
		return nil, fmt.Errorf("zero-cost images at %d: %w", r, err)
	}
	if b.Len() != im.n {
		return nil, errors.New("zero-cost images: the loader returned a short batch")
	}
	// Every image's transform has returned before Next hands out its
	// batch, so keep is complete.
	if keep != nil {
		if kept.Load() <= im.budget {
			im.rgb = keep
		} else {
			im.tooBig = true
		}
	}
	return slices.Clone(b.Data), nil // the loader's batch is its own memory
}

// cached returns the resolutions whose batches are kept, for tests.
func (im *Images) cached() []int {
	im.mu.Lock()
	defer im.mu.Unlock()
	return slices.Clone(im.order)
}
