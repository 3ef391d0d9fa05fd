package imaging

import (
	"math"
	"math/rand/v2"
)

// Training-style augmentation: torchvision 0.14's RandomResizedCrop(r,
// scale=(0.08, 1), ratio=(3/4, 4/3)) and RandomHorizontalFlip(0.5), driven
// by a Go random generator. The algorithm is torchvision's; the random
// numbers cannot be torch's, so the crops are the same in distribution,
// not image for image.

// AugmentRNG returns the generator for image index of a run with the given
// seed: each image has its own stream, so the crops depend neither on the
// decoding order nor on the number of workers.
func AugmentRNG(seed uint64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(index)))
}

// CropParams is torchvision's RandomResizedCrop.get_params for an image of
// w x h: up to 10 tries of an area fraction uniform in scale and a log-
// uniform aspect ratio (in float32, as torch draws them), the first that
// fits giving a uniformly placed crop; otherwise the whole image cut to
// the nearest ratio in range, centred. It returns the crop's top-left
// corner and size.
func CropParams(w, h int, rng *rand.Rand, scale, ratio [2]float64) (left, top, cw, ch int) {
	area := float64(h * w)
	logLo := float32(math.Log(float64(float32(ratio[0]))))
	logHi := float32(math.Log(float64(float32(ratio[1]))))
	uniform := func(lo, hi float32) float32 { return lo + (hi-lo)*rng.Float32() }
	for range 10 {
		target := area * float64(uniform(float32(scale[0]), float32(scale[1])))
		aspect := float64(float32(math.Exp(float64(uniform(logLo, logHi)))))
		cw = int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch = int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			top = rng.IntN(h - ch + 1)
			left = rng.IntN(w - cw + 1)
			return left, top, cw, ch
		}
	}
	inRatio := float64(w) / float64(h)
	lo, hi := min(ratio[0], ratio[1]), max(ratio[0], ratio[1])
	switch {
	case inRatio < lo:
		cw = w
		ch = int(math.RoundToEven(float64(cw) / lo))
	case inRatio > hi:
		ch = h
		cw = int(math.RoundToEven(float64(ch) * hi))
	default:
		cw, ch = w, h
	}
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}

// TrainCrop is RandomResizedCrop(r) followed by RandomHorizontalFlip:
// the crop of CropParams resized to r x r with Pillow's bilinear filter
// (skipped when the crop already is r x r), mirrored left to right with
// probability one half.
func TrainCrop(src *RGB, r int, rng *rand.Rand) *RGB {
	left, top, cw, ch := CropParams(src.W, src.H, rng, [2]float64{0.08, 1}, [2]float64{3.0 / 4.0, 4.0 / 3.0})
	out := Crop(src, left, top, cw, ch)
	if cw != r || ch != r {
		out = Resize(out, r, r)
	}
	if rng.Float32() < 0.5 {
		FlipH(out)
	}
	return out
}

// FlipH mirrors m left to right in place.
func FlipH(m *RGB) {
	for y := 0; y < m.H; y++ {
		row := m.Pix[y*m.W*3 : (y+1)*m.W*3]
		for a, b := 0, m.W-1; a < b; a, b = a+1, b-1 {
			row[3*a], row[3*b] = row[3*b], row[3*a]
			row[3*a+1], row[3*b+1] = row[3*b+1], row[3*a+1]
			row[3*a+2], row[3*b+2] = row[3*b+2], row[3*a+2]
		}
	}
}
