package imaging

import (
	"fmt"
	"math"
)

// ImageNet channel statistics, as torchvision's Normalize receives them in
// OFA (Python floats, rounded to float32 by torch).
var (
	ImageNetMean = [3]float64{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float64{0.229, 0.224, 0.225}
)

// ShorterSide returns the size torchvision 0.14's Resize(s) gives an image
// of w x h: the shorter side becomes s and the longer int(s*long/short)
// (the product exact, then one float64 division, truncated).
func ShorterSide(w, h, s int) (nw, nh int) {
	short, long := w, h
	if h < w {
		short, long = h, w
	}
	nl := int(float64(s*long) / float64(short))
	if w <= h {
		return s, nl
	}
	return nl, s
}

// ResizeShorter is torchvision's Resize(s) on a PIL image: bilinear
// resize to ShorterSide, or src itself when that is its size already.
func ResizeShorter(src *RGB, s int) *RGB {
	w, h := ShorterSide(src.W, src.H, s)
	if w == src.W && h == src.H {
		return src
	}
	return Resize(src, w, h)
}

// CropOrigin returns the top-left corner torchvision's CenterCrop takes
// from an image of w x h for a crop of cw x ch (once padded to at least
// that size): int(round((h-ch)/2)) with round half to even.
func CropOrigin(w, h, cw, ch int) (left, top int) {
	return int(math.RoundToEven(float64(w-cw) / 2.0)), int(math.RoundToEven(float64(h-ch) / 2.0))
}

// CenterCrop is torchvision 0.14's CenterCrop((ch, cw)) on a PIL image: an
// image smaller than the crop is first padded with black ((c-w)//2 on the
// left or top, the rest on the right or bottom), then the crop is cut
// at CropOrigin.
func CenterCrop(src *RGB, cw, ch int) *RGB {
	if cw > src.W || ch > src.H {
		padL, padT, padR, padB := 0, 0, 0, 0
		if cw > src.W {
			padL, padR = (cw-src.W)/2, (cw-src.W+1)/2
		}
		if ch > src.H {
			padT, padB = (ch-src.H)/2, (ch-src.H+1)/2
		}
		p := NewRGB(src.W+padL+padR, src.H+padT+padB)
		for y := 0; y < src.H; y++ {
			copy(p.Pix[((y+padT)*p.W+padL)*3:], src.Pix[y*src.W*3:(y+1)*src.W*3])
		}
		if p.W == cw && p.H == ch {
			return p
		}
		src = p
	}
	left, top := CropOrigin(src.W, src.H, cw, ch)
	return Crop(src, left, top, cw, ch)
}

// Crop returns the w x h region of src whose top-left pixel is (left,
// top); the region must lie inside src.
func Crop(src *RGB, left, top, w, h int) *RGB {
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		s := ((top+y)*src.W + left) * 3
		copy(out.Pix[y*w*3:(y+1)*w*3], src.Pix[s:s+w*3])
	}
	return out
}

// Normalizer turns 8-bit RGB into the float32 tensor torchvision's
// ToTensor and Normalize(mean, std) give: v/255, then (x-mean)/std, each
// operation rounded to float32. It tabulates the 256 values of each
// channel.
type Normalizer struct {
	lut [3][256]float32
}

// NewNormalizer returns a Normalizer for the given channel statistics. Like
// torch, it rounds the float64 values to float32 first.
func NewNormalizer(mean, std [3]float64) *Normalizer {
	n := new(Normalizer)
	for c := 0; c < 3; c++ {
		m, s := float32(mean[c]), float32(std[c])
		for v := 0; v < 256; v++ {
			x := float32(v) / float32(255)
			x = x - m
			n.lut[c][v] = x / s
		}
	}
	return n
}

// TensorAndRelease is Tensor for a crop the caller hands over: after
// writing it into dst it recycles crop's memory for later crops (unless
// crop is src, the image it was cut from). crop must be an image nothing
// else refers to, such as the result of TestCrop, TrainCrop or Resize, and
// must not be used afterwards.
func (n *Normalizer) TensorAndRelease(crop, src *RGB, dst []float32) {
	n.Tensor(crop, dst)
	if crop != src {
		rgbPool.Put(crop)
	}
}

// ImageNet normalizes with OFA's ImageNet statistics.
var ImageNet = NewNormalizer(ImageNetMean, ImageNetStd)

// Tensor writes src as a 3 x H x W float32 tensor (channel-major) into dst,
// which must hold 3*W*H values.
func (n *Normalizer) Tensor(src *RGB, dst []float32) {
	plane := src.W * src.H
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for i := 0; i < plane; i++ {
		r[i] = n.lut[0][src.Pix[3*i]]
		g[i] = n.lut[1][src.Pix[3*i+1]]
		b[i] = n.lut[2][src.Pix[3*i+2]]
	}
}

// TestSize is the shorter side OFA's test transform resizes to for
// resolution r: int(math.ceil(r / 0.875)).
func TestSize(r int) int {
	return int(math.Ceil(float64(r) / 0.875))
}

// TestCrop applies OFA's test transform up to the crop: Resize(TestSize(r))
// then CenterCrop(r).
func TestCrop(src *RGB, r int) *RGB {
	w, h := ShorterSide(src.W, src.H, TestSize(r))
	if w < r || h < r {
		return CenterCrop(ResizeShorter(src, TestSize(r)), r, r)
	}
	// Only the crop of the resized image is computed: the same pixels.
	left, top := CropOrigin(w, h, r, r)
	return resizeRegion(src, w, h, [4]float32{0, 0, float32(src.W), float32(src.H)}, left, top, r, r)
}

// TestTransform is OFA's whole test transform at resolution r: TestCrop,
// then ToTensor and Normalize with the ImageNet statistics, written to dst
// (3*r*r values).
func TestTransform(src *RGB, r int, dst []float32) error {
	if r <= 0 {
		return fmt.Errorf("resolution %d must be positive", r)
	}
	if len(dst) != 3*r*r {
		return fmt.Errorf("tensor buffer holds %d values, want 3*%d*%d = %d", len(dst), r, r, 3*r*r)
	}
	ImageNet.TensorAndRelease(TestCrop(src, r), src, dst)
	return nil
}
