package native

import "fmt"

// act is the activation a normalization applies after its affine map.
type act int

const (
	actNone act = iota
	actReLU
	actHSwish
)

// kernelSet is one implementation of the engine's inner loops. The engine
// keeps every tensor channel-last (NHWC per image), so that a 1x1
// convolution is a row-major GEMM over pixels and a depthwise convolution
// vectorizes along channels at any spatial size.
//
// All sets compute the same functions; they differ in rounding only where
// the order of a float32 sum differs (never within one set, so a set's
// results do not depend on the number of threads).
type kernelSet struct {
	name string
	// exact is set when every float32 operation rounds as in the
	// reference forward pass (no fused multiply-adds, products summed in
	// the reference's order), so that results match it bit for bit up
	// to the order of the float64 statistics sums.
	exact bool
	// mr is the number of rows (pixels) of one GEMM tile.
	mr int
	// panelWidths returns the packed widths of the weight panels for n
	// output channels (each a width the set's gemm accepts), in order.
	panelWidths func(n int) []int
	// gemm computes one mr x width tile: c[i*ldc+j] = Σ_t a[i*lda+t]·b[t*width+j]
	// for i < mr, j < valid (≤ width); b is one packed panel.
	gemm func(k int, a []float32, lda int, b []float32, width int, c []float32, ldc int, valid int)
	// chunkWidths returns the channel chunks a depthwise convolution of c
	// channels is split into.
	chunkWidths func(c int) []int
	// The jobs go by value, so that calling through these fields does
	// not move them to the heap.
	dw        func(j dwJob)
	transform func(j tfJob)
	stats     func(j statsJob)
	// gemv sets y[j] = (Σ_t x[t]·w[t*n+j]) + bias[j] for j < n, summing
	// in order of t like the reference's 1x1 convolution.
	gemv func(x []float32, w []float32, n int, bias, y []float32)
}

// tfJob normalizes rows×cols pixels of n channels: per channel c,
//
//	y = act(float32(((float64(x) − m[c])·inv[c])·g[c] + beta[c]))
//
// in float64, the order of operations of the reference forward pass
// (export.ForwardBatchStats), so that normalized activations round as
// there. With add set, y is added (in float32) to the destination's value.
// Strides are in floats: pixel (r, p) channel c of the source is
// src[r*sR+p*sP+c].
type tfJob struct {
	dst        []float32
	dR, dP     int
	src        []float32
	sR, sP     int
	rows, cols int
	n          int
	nm         *affine
	c0         int  // first channel of nm to apply
	add        bool // dst += y instead of dst = y
}

// statsJob accumulates, for each of n channels, Σ(x−shift) and Σ(x−shift)²
// in float64 over rows pixels of src (pixel stride ld floats).
type statsJob struct {
	src     []float32
	rows, n int
	ld      int
	shift   []float64
	sum, sq []float64
}

// dwJob is one channel chunk of a depthwise convolution over a band of
// output rows of one image. plane holds the normalized input with its zero
// padding, pixel (y, x) channel c of the chunk at plane[y*planeRow+x*pix+c];
// w is [k][k][cb]; output pixel (oy, ox) channel c goes to
// out[oy*oR+ox*oP+c].
type dwJob struct {
	plane     []float32
	planeRow  int
	pix       int
	w         []float32
	out       []float32
	oR, oP    int
	oh, ow    int
	k, stride int
	cb        int
}

// goKernels is the portable implementation, used where no assembly
// exists and as the reference the assembly kernels are tested against.
var goKernels = &kernelSet{
	name:        "go",
	exact:       true,
	mr:          4,
	panelWidths: panels(16),
	gemm:        gemmGo,
	chunkWidths: chunks(16),
	dw:          dwGo,
	transform:   transformGo,
	stats:       statsGo,
	gemv:        gemvGo,
}

// panels returns a panelWidths that cuts n columns into panels w wide,
// the last one padded.
func panels(w int) func(n int) []int {
	return func(n int) []int {
		ws := make([]int, (n+w-1)/w)
		for i := range ws {
			ws[i] = w
		}
		return ws
	}
}

// chunks returns a chunkWidths that cuts c channels into chunks of w, the
// last one what remains.
func chunks(w int) func(c int) []int {
	return func(c int) []int {
		var ws []int
		for ; c > 0; c -= w {
			ws = append(ws, min(c, w))
		}
		return ws
	}
}

func gemmGo(k int, a []float32, lda int, b []float32, width int, c []float32, ldc int, valid int) {
	const mr = 4
	var acc [mr][16]float32
	if width > 16 {
		panic(fmt.Sprintf("native: gemmGo panel width %d", width))
	}
	for t := range k {
		brow := b[t*width : t*width+width]
		for i := range mr {
			av := a[i*lda+t]
			for j, bv := range brow {
				acc[i][j] += av * bv
			}
		}
	}
	for i := range mr {
		copy(c[i*ldc:i*ldc+valid], acc[i][:valid])
	}
}

// applyAct is the activation in float32 as the reference computes it:
// h_swish divides by 6 rather than multiplying by its rounded inverse.
func applyAct(v float32, a act) float32 {
	switch a {
	case actReLU:
		return max(v, 0)
	case actHSwish:
		return v * min(max(v+3, 0), 6) / 6
	}
	return v
}

func transformGo(j tfJob) {
	nm, c0 := j.nm, j.c0
	m, inv, g, beta := nm.m[c0:c0+j.n], nm.inv[c0:c0+j.n], nm.g[c0:c0+j.n], nm.beta[c0:c0+j.n]
	for r := range j.rows {
		for p := range j.cols {
			src := j.src[r*j.sR+p*j.sP:][:j.n]
			dst := j.dst[r*j.dR+p*j.dP:][:j.n]
			for c, x := range src {
				y := applyAct(float32((float64(x)-m[c])*inv[c]*g[c]+beta[c]), nm.act)
				if j.add {
					y += dst[c]
				}
				dst[c] = y
			}
		}
	}
}

func statsGo(j statsJob) {
	for r := range j.rows {
		row := j.src[r*j.ld:][:j.n]
		for c, x := range row {
			d := float64(x) - j.shift[c]
			j.sum[c] += d
			j.sq[c] += d * d
		}
	}
}

func dwGo(j dwJob) {
	cb, k, s := j.cb, j.k, j.stride
	acc := make([]float32, cb)
	for oy := range j.oh {
		for ox := range j.ow {
			clear(acc)
			for ky := range k {
				row := j.plane[(oy*s+ky)*j.planeRow:]
				for kx := range k {
					in := row[(ox*s+kx)*j.pix:][:cb]
					w := j.w[(ky*k+kx)*cb:][:cb]
					for c := range acc {
						acc[c] += w[c] * in[c]
					}
				}
			}
			copy(j.out[oy*j.oR+ox*j.oP:][:cb], acc)
		}
	}
}

func gemvGo(x []float32, w []float32, n int, bias, y []float32) {
	clear(y[:n])
	for t, xv := range x {
		row := w[t*n : t*n+n]
		for j, wv := range row {
			y[j] += xv * wv
		}
	}
	for j := range n {
		y[j] += bias[j]
	}
}
