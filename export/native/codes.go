package native

import (
	"context"
	"fmt"
	"math"

	"github.com/edgefit/edgefit/export"
)

// Codes are one activation's binary codes for a batch, as NASWOT reads
// them (see export.ForwardCodes, the reference): bit u of image i is set
// where unit u's activation input is positive.
type Codes struct {
	export.CodeLayer
	// N is the number of images, Words the uint64 words of each.
	N, Words int
	// Bits holds image i's codes at Bits[i*Words:(i+1)*Words]: unit u is
	// bit u%64 of word u/64, and the bits from Units() up are zero. Units
	// are numbered in the engine's layout, pixel-major (u = (y·W + x)·C +
	// c), not PyTorch's channel-major one; the same layout for every
	// image, which is all that comparing images needs.
	Bits []uint64
}

// Image returns image i's words.
func (c *Codes) Image(i int) []uint64 { return c.Bits[i*c.Words : (i+1)*c.Words] }

// ActivationCodes runs one batch of n images (NCHW, n·3·r·r values, as for
// BatchStats) with every BatchNorm on the batch's own statistics (PyTorch's
// training mode, the mode NASWOT scores networks in) through the feature
// mix, and calls fn with the codes of each activation of
// export.CodeLayers, in that order. The codes are those of
// export.ForwardCodes: each unit's activation input is compared with 0
// exactly as the engine rounds it, through a per-channel threshold on the
// raw convolution output that gives the same answer for every float32.
// fn must not keep the Codes (their memory is reused) and may stop the
// run by returning an error, which ActivationCodes returns. ctx is checked
// between layers.
func (c *Calibrator) ActivationCodes(ctx context.Context, data []float32, n int, fn func(*Codes) error) error {
	if err := c.check(data, n); err != nil {
		return err
	}
	c.ensure(n)
	if c.head == nil {
		c.head = packHead(c.net, false)
	}
	cr := &codeRun{layers: export.CodeLayers(c.net.Space, c.net.Config), fn: fn, n: n, buf: c.codeBuf}
	run := &batchRun{c: c, ctx: ctx, n: n, codes: cr}
	nm, err := run.forward(data)
	c.codeBuf = cr.buf
	if err != nil {
		return err
	}
	if err := run.emit(nm, c.buf1, run.h*run.h*c.head.in); err != nil {
		return err
	}
	return run.mixCodes(nm)
}

// codeRun is the state of one ActivationCodes call.
type codeRun struct {
	layers []export.CodeLayer
	next   int // index in layers of the next activation
	fn     func(*Codes) error
	n      int
	buf    []uint64
	codes  Codes
}

// start returns the Codes of the next activation, with zeroed bits.
func (cr *codeRun) start() *Codes {
	l := cr.layers[cr.next]
	cr.next++
	words := (l.Units() + 63) / 64
	need := cr.n * words
	if cap(cr.buf) < need {
		cr.buf = make([]uint64, need)
	}
	cr.codes = Codes{CodeLayer: l, N: cr.n, Words: words, Bits: cr.buf[:need]}
	clear(cr.codes.Bits)
	return &cr.codes
}

// emit codes the activation of a convolution whose raw outputs (per image
// per floats, pixel-major) are in raw, normalized by nm, and hands them to
// the caller's function. It does nothing outside ActivationCodes.
func (b *batchRun) emit(nm *affine, raw []float32, per int) error {
	cr := b.codes
	if cr == nil {
		return nil
	}
	co := cr.start()
	if co.Units() != per {
		return fmt.Errorf("native codes: %s has %d values per image, want %d", co.Name, per, co.Units())
	}
	ta, tb := signTests(nm, co.C)
	b.each(func(_ *worker, i int) {
		packSigns(raw[i*per:(i+1)*per], ta, tb, co.Image(i))
	})
	return b.flush(co)
}

// flush checks ctx and passes finished codes on.
func (b *batchRun) flush(co *Codes) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	return b.codes.fn(co)
}

// seStart returns the Codes the squeeze-and-excitation ReLU of the block
// being run fills, image by image, or nil outside ActivationCodes.
func (b *batchRun) seStart() *Codes {
	if b.codes == nil {
		return nil
	}
	return b.codes.start()
}

// mixCodes codes the feature mix's h_swish input of every image, from the
// final expand's raw outputs in buf1 normalized by nm.
func (b *batchRun) mixCodes(nm *affine) error {
	co := b.codes.start()
	b.each(func(w *worker, i int) {
		setSigns(b.mix(w, i, nm), co.Image(i))
	})
	return b.flush(co)
}

// setSigns sets bit u of dst where v[u] > 0.
func setSigns(v []float32, dst []uint64) {
	for u, x := range v {
		if x > 0 {
			dst[u/64] |= 1 << (u % 64)
		}
	}
}

// Thresholds. A channel's activation input is f(x) = float32(((x − m)·inv)·g
// + beta) of its raw output x, computed in float64 (see tfJob). Every step
// is monotone in x (non-decreasing when g ≥ 0, non-increasing when g < 0),
// so the float32 values x with f(x) > 0 are all those above one float32
// threshold, or all those below one, or none, or all. signTests finds that
// threshold by bisection over the float32 values in order and turns the
// test into the sign of a·x + b with a = ±1, which float32 arithmetic
// computes without error in its sign: −x + t < 0 exactly when x > t, and
// x − t < 0 exactly when x < t (a difference of floats rounds to zero only
// when they are equal, and b is never −0, so equality gives +0).

// maxOrd is the order key of math.MaxFloat32.
const maxOrd = 0x7f7fffff

// orderedFloat returns the float32 with order key k in [−maxOrd, maxOrd]:
// keys count float32 values up from 0, negative keys the negative values
// (−0 and +0 share key 0).
func orderedFloat(k int64) float32 {
	if k < 0 {
		return math.Float32frombits(uint32(-k) | 1<<31)
	}
	return math.Float32frombits(uint32(k))
}

// signTest returns a and b such that for every finite float32 x, f(x) > 0
// for channel ch of nm exactly when float32(a·x + b) has its sign bit set.
func signTest(nm *affine, ch int) (a, b float32) {
	m, inv, g, beta := nm.m[ch], nm.inv[ch], nm.g[ch], nm.beta[ch]
	pos := func(k int64) bool { return float32(((float64(orderedFloat(k))-m)*inv)*g+beta) > 0 }
	lo, hi := int64(-maxOrd), int64(maxOrd)
	top, bottom := pos(hi), pos(lo)
	switch {
	case top && bottom:
		return -1, float32(math.Inf(-1))
	case !top && !bottom:
		return -1, float32(math.Inf(1))
	case top: // positive from some value up: pos(lo) is false, pos(hi) true
		for lo+1 < hi {
			if mid := lo + (hi-lo)/2; pos(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return -1, plusZero(orderedFloat(lo)) // x > t
	default: // positive up to some value: pos(lo) is true, pos(hi) false
		for lo+1 < hi {
			if mid := lo + (hi-lo)/2; pos(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return 1, plusZero(-orderedFloat(hi)) // x < t
	}
}

// plusZero turns −0 into +0 and leaves every other value alone.
func plusZero(v float32) float32 {
	if v == 0 {
		return 0
	}
	return v
}

// signTests returns the tests of nm's first c channels repeated over a
// period of lcm(c, 64) units, so that every 64-unit word of a pixel-major
// map of c channels starts at a multiple of 64 in it.
func signTests(nm *affine, c int) (a, b []float32) {
	period := c / gcd(c, 64) * 64
	a, b = make([]float32, period), make([]float32, period)
	for ch := range c {
		ta, tb := signTest(nm, ch)
		for j := ch; j < period; j += c {
			a[j], b[j] = ta, tb
		}
	}
	return a, b
}

func gcd(x, y int) int {
	for y != 0 {
		x, y = y, x%y
	}
	return x
}

// packSigns sets dst's bit u where a[u mod len(a)]·raw[u] + b[…] is
// negative, for every unit of raw; len(a) is a multiple of 64 and dst
// holds ⌈len(raw)/64⌉ words.
func packSigns(raw, a, b []float32, dst []uint64) {
	full := len(raw) / 64
	signWords(raw, a, b, full, dst)
	if len(raw)%64 == 0 {
		return
	}
	off := full * 64 % len(a)
	var word uint64
	for k, x := range raw[full*64:] {
		word |= uint64(math.Float32bits(a[off+k]*x+b[off+k])>>31) << k
	}
	dst[full] = word
}

// signWordsGo is the portable signWords: whole words only.
func signWordsGo(raw, a, b []float32, words int, dst []uint64) {
	period := len(a)
	off := 0
	for w := range words {
		x := (*[64]float32)(raw[w*64:])
		ta := (*[64]float32)(a[off:])
		tb := (*[64]float32)(b[off:])
		var word uint64
		for k := range 64 {
			word |= uint64(math.Float32bits(ta[k]*x[k]+tb[k])>>31) << k
		}
		dst[w] = word
		if off += 64; off == period {
			off = 0
		}
	}
}
