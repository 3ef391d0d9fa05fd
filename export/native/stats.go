package native

import (
	"math"

	"github.com/edgefit/edgefit/supernet"
)

// Statistics are gathered per image and combined in image order, so the
// result does not depend on which worker ran which image.
//
// Per image and channel the kernels accumulate S = Σ(x−s) and Q = Σ(x−s)²
// in float64, where the shift s is the channel's value at the image's
// first pixel. Each float32 x converts to float64 exactly, and the square
// of a float32 difference needs at most 48 of float64's 53 mantissa bits
// only when x and s are close; in general (x−s)² is rounded once, with a
// relative error below 2⁻⁵³. A sum of m such terms is then within
// m·2⁻⁵³ of exact (m ≤ 200·112·112 ≈ 2.5e6 gives 3e-10), and because the
// shift is a sample of the same channel, Q/m − (S/m)² subtracts quantities
// of the order of the variance itself rather than of mean², so the
// cancellation that makes E[x²]−E[x]² inaccurate for channels with a large
// mean (|mean| ≫ std) does not arise. The per-image moments are merged with
// the exact identity Σ(x−m)² = Q + 2(s−m)S + n(s−m)².

// partial is one image's running sums for the channels of one layer.
type partial struct {
	shift, sum, sq []float64
}

// initShift sets each channel's shift to its value at the first pixel of
// the image's output (row stride n) and clears the sums.
func initShift(st partial, out []float32, n int) {
	for c := range n {
		st.shift[c] = float64(out[c])
	}
	clear(st.sum[:n])
	clear(st.sq[:n])
}

// layerStats holds the partial statistics of every image of a batch for
// one layer of c channels.
type layerStats struct {
	c, images int
	shift     []float64
	sum, sq   []float64
}

func (ls *layerStats) reset(c, images int) {
	ls.c, ls.images = c, images
	need := c * images
	if cap(ls.shift) < need {
		ls.shift = make([]float64, need)
		ls.sum = make([]float64, need)
		ls.sq = make([]float64, need)
	}
	ls.shift, ls.sum, ls.sq = ls.shift[:need], ls.sum[:need], ls.sq[:need]
}

func (ls *layerStats) image(i int) partial {
	lo, hi := i*ls.c, (i+1)*ls.c
	return partial{shift: ls.shift[lo:hi], sum: ls.sum[lo:hi], sq: ls.sq[lo:hi]}
}

// reduce returns the per-channel mean and biased variance over all images,
// each of which contributed pixels values per channel.
func (ls *layerStats) reduce(pixels int) (mean, variance []float64) {
	mean = make([]float64, ls.c)
	variance = make([]float64, ls.c)
	total := float64(pixels * ls.images)
	np := float64(pixels)
	for c := range ls.c {
		// Mean relative to the first image's shift, to keep the sum of
		// shifts from swamping the deviations.
		s0 := ls.shift[c]
		acc := 0.0
		for i := range ls.images {
			j := i*ls.c + c
			acc += np*(ls.shift[j]-s0) + ls.sum[j]
		}
		m := s0 + acc/total
		m2 := 0.0
		for i := range ls.images {
			j := i*ls.c + c
			d := ls.shift[j] - m
			m2 += ls.sq[j] + 2*d*ls.sum[j] + np*d*d
		}
		mean[c], variance[c] = m, max(m2/total, 0)
	}
	return mean, variance
}

// affine is the lazy normalization a consumer applies to a raw
// convolution output, per channel act(((x − m)·inv)·g + beta) in float64
// (see tfJob).
type affine struct {
	m, inv, g, beta []float64
	act             act
}

// bnAffine returns the normalization of a BatchNorm with batch statistics
// mean and variance of the raw (bias-free) convolution output.
func bnAffine(bn *supernet.BatchNorm, mean, variance []float64, a act) *affine {
	nm := &affine{m: mean, inv: make([]float64, len(mean)), g: make([]float64, len(mean)), beta: make([]float64, len(mean)), act: a}
	for c := range mean {
		nm.inv[c] = 1 / math.Sqrt(variance[c]+bn.Eps)
		nm.g[c] = float64(bn.Weight[c])
		nm.beta[c] = float64(bn.Bias[c])
	}
	return nm
}

// runningAffine returns the eval-mode normalization of l: its BatchNorm's
// running statistics, less the convolution's bias, which the raw output
// leaves out.
func runningAffine(l *convLayer) *affine {
	mean := make([]float64, len(l.bn.Mean))
	variance := make([]float64, len(l.bn.Var))
	for c := range mean {
		mean[c], variance[c] = float64(l.bn.Mean[c]), float64(l.bn.Var[c])
		if l.bias != nil {
			mean[c] -= float64(l.bias[c])
		}
	}
	return bnAffine(l.bn, mean, variance, l.act)
}

// scaling returns the map x·s per channel (exact in float64, so the result
// is the float32 product), with m, g and beta shared from zero and one.
func scaling(s []float64, zero, one []float64) *affine {
	n := len(s)
	return &affine{m: zero[:n], inv: s, g: one[:n], beta: zero[:n]}
}

// identity returns the map that leaves c channels unchanged.
func identity(c int) *affine {
	one := ones(c)
	return scaling(one, make([]float64, c), one)
}

func toAct(a supernet.Activation) act {
	switch a {
	case supernet.ActReLU:
		return actReLU
	case supernet.ActHSwish:
		return actHSwish
	}
	return actNone
}
