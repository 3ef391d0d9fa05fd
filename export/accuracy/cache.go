package accuracy

import (
	"context"
	"io"
	"runtime"
	"sync"

	"github.com/edgefit/edgefit/internal/dataset"
	"github.com/edgefit/edgefit/internal/imaging"
)

// A crop cache keeps each image of a set as its preprocessed r×r crop in
// 8-bit RGB (before ToTensor and Normalize), so that measuring many subnets
// at one resolution decodes and resizes every image once. 2000 images at
// 224 take 301 MB.
type cropCache struct {
	r       int
	crops   [][]byte // by index in the set; nil until filled
	used    []int    // indices that decoded, in order
	skipped int
	// buf holds the normalized batches of every pass over the cache: the
	// passes over a set run one after another, and a batch is used before
	// the next is asked for.
	buf []float32
}

// cacheBytes bounds a crop cache; larger sets are decoded every time.
const cacheBytes = 3 << 30

func cacheable(n, r int) bool { return int64(n)*int64(3*r*r) <= cacheBytes }

// transform is the dataset.Transform of crop that stores a copy of each
// crop before normalizing it (the crop itself is then recycled).
func (c *cropCache) transform(crop dataset.Crop) dataset.Transform {
	return func(img *imaging.RGB, index int, dst []float32) error {
		m := crop(img, index)
		c.crops[index] = append([]byte(nil), m.Pix...)
		imaging.ImageNet.TensorAndRelease(m, img, dst)
		return nil
	}
}

// cachedSource yields the cached crops in batches, normalized in parallel.
type cachedSource struct {
	c      *cropCache
	images []dataset.Image // the set the cache was filled from
	batch  int
	pos    int
	labels []int
}

func (s *cachedSource) Next(ctx context.Context) (*Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.pos >= len(s.c.used) {
		return nil, io.EOF
	}
	idx := s.c.used[s.pos:min(s.pos+s.batch, len(s.c.used))]
	s.pos += len(idx)
	per := 3 * s.c.r * s.c.r
	if cap(s.c.buf) < len(idx)*per {
		s.c.buf = make([]float32, s.batch*per)
	}
	data := s.c.buf[:len(idx)*per]
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < len(idx); j += workers {
				m := &imaging.RGB{W: s.c.r, H: s.c.r, Pix: s.c.crops[idx[j]]}
				imaging.ImageNet.Tensor(m, data[j*per:(j+1)*per])
			}
		}()
	}
	wg.Wait()
	b := &Batch{Data: data, N: len(idx)}
	if s.images[idx[0]].Label >= 0 {
		s.labels = s.labels[:0]
		for _, i := range idx {
			s.labels = append(s.labels, s.images[i].Label)
		}
		b.Labels = s.labels
	}
	return b, nil
}
