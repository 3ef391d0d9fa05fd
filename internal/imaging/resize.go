package imaging

import (
	"math"
	"sync"
)

// Pillow's resampling (libImaging/Resample.c) with the BILINEAR filter, on
// 8-bit RGB. See the package documentation for the algorithm.

// precisionBits is Pillow's PRECISION_BITS: fixed-point coefficients with
// 22 fraction bits.
const precisionBits = 32 - 8 - 2

// taps holds the fixed-point filter of one resampling pass.
type taps struct {
	ksize  int
	bounds []int   // first input index and count, per output index
	k      []int32 // ksize coefficients per output index
}

// bilinear is Pillow's triangle filter of support 1.
func bilinear(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// computeTaps is Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc, for the input range [in0, in1) of an axis of
// inSize samples resampled to outSize. Every floating-point step is
// rounded to float64 on its own (explicit conversions stop the compiler
// from fusing a multiply and an add, which C on x86-64 does not do).
func computeTaps(inSize int, in0, in1 float32, outSize int) taps {
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1.0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	t := taps{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := float64(in0) + float64((float64(xx)+0.5)*scale)
		ss := 1.0 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := bilinear(float64((float64(x+xmin)-center)+0.5) * ss)
			w[x] = v
			ww += v
		}
		k := t.k[xx*ksize : (xx+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		t.bounds[2*xx] = xmin
		t.bounds[2*xx+1] = xmax
	}
	return t
}

// clip8 is Pillow's clip8: the fixed-point sum to a sample, saturated.
func clip8(v int32) byte {
	v >>= precisionBits
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return byte(v)
}

// Resize returns src resized to w x h as Pillow's
// Image.resize((w, h), Image.BILINEAR) does.
func Resize(src *RGB, w, h int) *RGB {
	return ResizeBox(src, w, h, [4]float32{0, 0, float32(src.W), float32(src.H)})
}

// ResizeBox is Resize of the source region box (left, upper, right, lower,
// in pixels; Pillow's box argument, kept in float32 as Pillow keeps it).
func ResizeBox(src *RGB, w, h int, box [4]float32) *RGB {
	return resizeRegion(src, w, h, box, 0, 0, w, h)
}

// resizeRegion computes the cw x ch part at (left, top) of the w x h
// resize: every output pixel depends only on the filter taps of its own row
// and column, so a part of the output is the same part of the full result.
func resizeRegion(src *RGB, w, h int, box [4]float32, left, top, cw, ch int) *RGB {
	if w == src.W && h == src.H && box == [4]float32{0, 0, float32(src.W), float32(src.H)} {
		return Crop(src, left, top, cw, ch)
	}
	needH := w != src.W || box[0] != 0 || box[2] != float32(w)
	needV := h != src.H || box[1] != 0 || box[3] != float32(h)
	th := computeTaps(src.W, box[0], box[2], w)
	tv := computeTaps(src.H, box[1], box[3], h)
	cur := src
	if needH {
		// Only the source rows the wanted output rows use.
		yFirst, yLast := src.H, 0
		if needV {
			for y := top; y < top+ch; y++ {
				yFirst = min(yFirst, tv.bounds[2*y])
				yLast = max(yLast, tv.bounds[2*y]+tv.bounds[2*y+1])
			}
		} else {
			yFirst, yLast = top, top+ch
		}
		if !needV {
			tmp := NewRGB(cw, yLast-yFirst)
			resampleH(tmp, src, yFirst, th, left)
			return tmp
		}
		tmp := getRGB(cw, yLast-yFirst)
		defer rgbPool.Put(tmp)
		resampleH(tmp, src, yFirst, th, left)
		cur = tmp
		for y := top; y < top+ch; y++ {
			tv.bounds[2*y] -= yFirst
		}
	} else if needV && (left != 0 || cw != src.W) {
		cur = Crop(src, left, 0, cw, src.H)
	}
	if needV {
		out := getRGB(cw, ch) // the caller owns it; TensorAndRelease pools it again
		resampleV(out, cur, tv, top)
		return out
	}
	return Crop(cur, left, top, cw, ch)
}

// rgbPool holds intermediate images.
var rgbPool = sync.Pool{New: func() any { return new(RGB) }}

// getRGB returns a pooled image of the given size (contents undefined).
func getRGB(w, h int) *RGB {
	m := rgbPool.Get().(*RGB)
	m.resize(w, h)
	return m
}

// resampleH fills out (out.W columns from column x0 of the resize, out.H
// rows) from rows offset.. of in.
func resampleH(out, in *RGB, offset int, t taps, x0 int) {
	for yy := 0; yy < out.H; yy++ {
		row := in.Pix[(yy+offset)*in.W*3 : (yy+offset+1)*in.W*3]
		o := out.Pix[yy*out.W*3 : (yy+1)*out.W*3]
		for xx := 0; xx < out.W; xx++ {
			xmin, n := t.bounds[2*(xx+x0)], t.bounds[2*(xx+x0)+1]
			k := t.k[(xx+x0)*t.ksize : (xx+x0)*t.ksize+n]
			px := row[xmin*3 : (xmin+n)*3]
			s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
			for x, kv := range k {
				p := px[3*x : 3*x+3 : 3*x+3]
				s0 += int32(p[0]) * kv
				s1 += int32(p[1]) * kv
				s2 += int32(p[2]) * kv
			}
			q := o[3*xx : 3*xx+3 : 3*xx+3]
			q[0], q[1], q[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// resampleV fills out (rows y0.. of the resize) from in, whose row bounds
// are relative to in's first row.
func resampleV(out, in *RGB, t taps, y0 int) {
	stride := in.W * 3
	acc := make([]int32, stride)
	for yy := 0; yy < out.H; yy++ {
		ymin, n := t.bounds[2*(yy+y0)], t.bounds[2*(yy+y0)+1]
		k := t.k[(yy+y0)*t.ksize : (yy+y0)*t.ksize+n]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, kv := range k {
			row := in.Pix[(ymin+y)*stride : (ymin+y+1)*stride]
			row = row[:len(acc)]
			for i, v := range row {
				acc[i] += int32(v) * kv
			}
		}
		o := out.Pix[yy*stride : (yy+1)*stride]
		o = o[:len(acc)]
		for i, v := range acc {
			o[i] = clip8(v)
		}
	}
}
