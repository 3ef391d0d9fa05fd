package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/edgefit/edgefit/internal/imaging"
)

// BadImage is an image that could not be read, with the reason.
type BadImage struct {
	Image Image
	Err   error
}

func (b BadImage) Error() string { return fmt.Sprintf("%s: %v", b.Image.Path, b.Err) }

func (b BadImage) Unwrap() error { return b.Err }

// Preflight checks the header of every image (the file opens, it is a
// JPEG or PNG by content, its size is readable and not too large) on
// workers goroutines (GOMAXPROCS when workers <= 0) and returns those that
// fail, in set order. It reads a few bytes per file, so it runs before any
// long work.
func Preflight(ctx context.Context, images []Image, workers int) ([]BadImage, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, len(images))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = probeFile(images[i].Path)
			}
		}()
	}
	var ctxErr error
feed:
	for i := range images {
		select {
		case next <- i:
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctxErr != nil {
		return nil, ctxErr
	}
	var bad []BadImage
	for i, err := range errs {
		if err != nil {
			bad = append(bad, BadImage{Image: images[i], Err: err})
		}
	}
	return bad, nil
}

func probeFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = imaging.Probe(f)
	return err
}

// BadImagesError reports images that failed, and what to do.
type BadImagesError struct {
	Bad   []BadImage
	Total int
}

func (e *BadImagesError) Error() string {
	msgs := make([]string, 0, 3)
	for _, b := range e.Bad[:min(3, len(e.Bad))] {
		msgs = append(msgs, b.Error())
	}
	return fmt.Sprintf("%d of %d images cannot be read (%s): fix or remove them, or skip unreadable images",
		len(e.Bad), e.Total, few(msgs, 3)+more(len(e.Bad), 3))
}

func more(n, shown int) string {
	if n > shown {
		return fmt.Sprintf(" and %d more", n-shown)
	}
	return ""
}

// Check runs Preflight on the set. With skipBad false any bad image is a
// *BadImagesError; with skipBad true the bad images are left out of the
// returned set (and returned, to be reported).
func (s *Set) Check(ctx context.Context, skipBad bool) (*Set, []BadImage, error) {
	bad, err := Preflight(ctx, s.Images, 0)
	if err != nil {
		return nil, nil, err
	}
	if len(bad) == 0 {
		return s, nil, nil
	}
	if !skipBad {
		return nil, bad, &BadImagesError{Bad: bad, Total: len(s.Images)}
	}
	c := *s
	c.Images = nil
	j := 0
	for _, im := range s.Images {
		if j < len(bad) && bad[j].Image.Path == im.Path {
			j++
			continue
		}
		c.Images = append(c.Images, im)
	}
	return &c, bad, nil
}

// Transform turns a decoded image into a 3 x R x R tensor in dst. index is
// the image's position in the set (augmentations seed their randomness
// with it).
type Transform func(img *imaging.RGB, index int, dst []float32) error

// TestTransform is OFA's test transform at resolution r.
func TestTransform(r int) Transform {
	return func(img *imaging.RGB, _ int, dst []float32) error {
		return imaging.TestTransform(img, r, dst)
	}
}

// Crop is a transform's geometric step: the r x r crop of a decoded image
// (index as in Transform), before ToTensor and Normalize. The crop is a new
// image (or img itself) that the caller owns: CropTransform recycles it
// once normalized (imaging.Normalizer.TensorAndRelease).
type Crop func(img *imaging.RGB, index int) *imaging.RGB

// TestCrop is the crop of OFA's test transform at resolution r (resize the
// shorter side, center crop).
func TestCrop(r int) Crop {
	return func(img *imaging.RGB, _ int) *imaging.RGB { return imaging.TestCrop(img, r) }
}

// AugmentCrop is the crop of the training-style augmentation:
// RandomResizedCrop(r) and RandomHorizontalFlip, each image drawing from
// its own generator (imaging.AugmentRNG(seed, index)). CropTransform of it
// adds the ImageNet normalization.
func AugmentCrop(r int, seed uint64) Crop {
	return func(img *imaging.RGB, index int) *imaging.RGB {
		return imaging.TrainCrop(img, r, imaging.AugmentRNG(seed, index))
	}
}

// CropTransform is crop followed by the ImageNet ToTensor and Normalize.
func CropTransform(crop Crop) Transform {
	return func(img *imaging.RGB, index int, dst []float32) error {
		imaging.ImageNet.TensorAndRelease(crop(img, index), img, dst)
		return nil
	}
}

// LoaderOptions configure a Loader.
type LoaderOptions struct {
	Resolution int       // R: tensors are 3 x R x R
	BatchSize  int       // images per batch; the last batch may be smaller
	Transform  Transform // default TestTransform(Resolution)
	Workers    int       // decoding goroutines; GOMAXPROCS when <= 0
	// SkipBad leaves images that fail to decode out of the sequence
	// (reported by Skipped) instead of failing with a *BadImagesError.
	SkipBad bool
}

// Batch is a run of consecutive images, preprocessed.
type Batch struct {
	Index  int       // 0 for the first batch
	Data   []float32 // N x 3 x R x R, image-major
	Images []Image
	Labels []int // Images[i].Label
}

// Len is the number of images in the batch.
func (b *Batch) Len() int { return len(b.Images) }

// Loader decodes a set in parallel and yields it in batches, in order,
// whatever the number of workers. Besides the batch last returned it holds
// at most BatchSize+Workers decoded images (about one batch ahead of the
// consumer), and it reuses its memory: a Batch is valid until the next call
// to Next.
type Loader struct {
	images []Image
	opts   LoaderOptions
	size   int // floats per image

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	tokens  chan struct{} // images allowed in flight ahead of the consumer
	results []slot        // ring of decoded images, by index modulo len
	next    int           // next image index the consumer takes
	batch   Batch
	batches int
	skipped []BadImage
	err     error
}

// slot holds one decoded image. Image i uses slot i mod len(results); the
// window of tokens keeps two images from sharing a slot.
type slot struct {
	done chan struct{}
	data []float32
	err  error
}

// NewLoader starts decoding images. Call Close when done.
func NewLoader(ctx context.Context, images []Image, opts LoaderOptions) (*Loader, error) {
	if opts.Resolution <= 0 {
		return nil, fmt.Errorf("resolution must be positive, got %d", opts.Resolution)
	}
	if opts.BatchSize <= 0 {
		return nil, fmt.Errorf("batch size must be positive, got %d", opts.BatchSize)
	}
	if len(images) == 0 {
		return nil, errors.New("no images to load")
	}
	if opts.Transform == nil {
		opts.Transform = TestTransform(opts.Resolution)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Loader{images: images, opts: opts, size: 3 * opts.Resolution * opts.Resolution, ctx: ctx, cancel: cancel}
	window := min(opts.BatchSize+opts.Workers, len(images))
	l.tokens = make(chan struct{}, window)
	l.results = make([]slot, window)
	for i := range l.results {
		l.results[i].done = make(chan struct{}, 1)
	}
	jobs := make(chan int)
	l.wg.Add(1)
	go func() { // dispatcher: hands out indices within the window
		defer l.wg.Done()
		defer close(jobs)
		for i := range images {
			select {
			case l.tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range opts.Workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var rgb imaging.RGB
			for i := range jobs {
				s := &l.results[i%window]
				if s.data == nil {
					s.data = make([]float32, l.size)
				}
				s.err = l.load(i, &rgb, s.data)
				s.done <- struct{}{}
			}
		}()
	}
	return l, nil
}

// load reads, decodes and transforms image i into dst.
func (l *Loader) load(i int, rgb *imaging.RGB, dst []float32) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	data, err := os.ReadFile(l.images[i].Path)
	if err != nil {
		return err
	}
	if err := imaging.DecodeInto(rgb, data); err != nil {
		return err
	}
	return l.opts.Transform(rgb, i, dst)
}

// Next returns the next batch, or io.EOF after the last one. A decode
// failure is a *BadImagesError naming the file, unless SkipBad.
func (l *Loader) Next() (*Batch, error) {
	if l.err != nil {
		return nil, l.err
	}
	if l.next >= len(l.images) {
		return nil, io.EOF
	}
	b := &l.batch
	if b.Data == nil {
		b.Data = make([]float32, 0, min(l.opts.BatchSize, len(l.images))*l.size)
	}
	b.Index, b.Data, b.Images, b.Labels = l.batches, b.Data[:0], b.Images[:0], b.Labels[:0]
	window := len(l.results)
	for len(b.Images) < l.opts.BatchSize && l.next < len(l.images) {
		s := &l.results[l.next%window]
		select {
		case <-s.done:
		case <-l.ctx.Done():
			l.err = l.ctx.Err()
			return nil, l.err
		}
		im := l.images[l.next]
		err := s.err
		if err == nil {
			b.Data = append(b.Data, s.data...)
			b.Images = append(b.Images, im)
			b.Labels = append(b.Labels, im.Label)
		}
		l.next++
		<-l.tokens // the slot is free again
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				l.err = err
				return nil, err
			}
			bad := BadImage{Image: im, Err: err}
			if !l.opts.SkipBad {
				l.err = &BadImagesError{Bad: []BadImage{bad}, Total: len(l.images)}
				return nil, l.err
			}
			l.skipped = append(l.skipped, bad)
		}
	}
	if len(b.Images) == 0 { // everything left was skipped
		return nil, io.EOF
	}
	l.batches++
	return b, nil
}

// Skipped returns the images left out so far because they failed to
// decode (SkipBad).
func (l *Loader) Skipped() []BadImage { return l.skipped }

// Close stops the workers and waits for them.
func (l *Loader) Close() {
	l.cancel()
	l.wg.Wait()
}
