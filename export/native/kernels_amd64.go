package native

//go:generate go run asm_gen.go

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels (kernels_amd64.s, written by asm_gen.go) need
// channel counts that are multiples of 8, which every layer of OFA's
// MobileNetV3 spaces has; the wrappers below check every bound before
// calling them and fall back to the Go kernels for any other shape.

var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
)

//go:noescape
func gemm6x16AVX2FMA(k int, a *float32, lda int, b *float32, c *float32, ldc int, half int)

//go:noescape
func gemm6x16AVX2Exact(k int, a *float32, lda int, b *float32, c *float32, ldc int, half int)

//go:noescape
func gemm12x32AVX512FMA(k int, a *float32, lda int, b *float32, c *float32, ldc int, mask int)

//go:noescape
func gemm12x32AVX512Exact(k int, a *float32, lda int, b *float32, c *float32, ldc int, mask int)

//go:noescape
func gemm12x16AVX512FMA(k int, a *float32, lda int, b *float32, c *float32, ldc int, mask int)

//go:noescape
func gemm12x16AVX512Exact(k int, a *float32, lda int, b *float32, c *float32, ldc int, mask int)

//go:noescape
func dwAVX2FMA(args *dwArgs)

//go:noescape
func dwAVX2Exact(args *dwArgs)

//go:noescape
func dwAVX512FMA(args *dwArgs)

//go:noescape
func dwAVX512Exact(args *dwArgs)

//go:noescape
func transformAVX2Prefetch(args *tfArgs)

//go:noescape
func transformAVX512Prefetch(args *tfArgs)

//go:noescape
func statsAVX2(src *float32, rows int, n int, ld int, shift *float64, sum *float64, sq *float64)

//go:noescape
func statsAVX512(src *float32, rows int, n int, ld int, shift *float64, sum *float64, sq *float64)

//go:noescape
func gemvAVX2(x *float32, k int, w *float32, n int, bias *float32, y *float32)

// dwArgs is dwJob for the assembly, strides in bytes; the field offsets
// are fixed in asm_gen.go.
type dwArgs struct {
	plane    *float32
	planeRow int
	w        *float32
	out      *float32
	oR, oP   int
	oh, ow   int
	k        int
	pix      int // bytes from one input pixel to the next
	rowStep  int // stride·planeRow
	pixIn    int // input bytes per output pixel: stride·pix
	outRow   uintptr
}

// tfArgs is tfJob for the assembly, strides in bytes.
type tfArgs struct {
	dst             *float32
	dR, dP          int
	src             *float32
	sR, sP          int
	rows, cols      int
	n               int
	m, inv, g, beta *float64
	act             int
	add             int
}

func init() {
	if unsafe.Offsetof(dwArgs{}.outRow) != 96 || unsafe.Offsetof(tfArgs{}.add) != 112 {
		panic("native: argument layouts do not match kernels_amd64.s")
	}
}

// tileGemm is the signature of the assembly tile kernels.
type tileGemm func(k int, a *float32, lda int, b *float32, c *float32, ldc int, mask int)

// gemmASM wraps the tile kernels of one set: narrow and wide are the
// kernels for panels of 16 and 32 columns (nil where the set has none), mr
// their row count. mask computes the kernel's store argument for a tile
// whose stored columns are valid (a multiple of 8).
func gemmASM(mr int, narrow, wide tileGemm, mask func(width, valid int) int) func(k int, a []float32, lda int, b []float32, width int, c []float32, ldc int, valid int) {
	return func(k int, a []float32, lda int, b []float32, width int, c []float32, ldc int, valid int) {
		f := narrow
		if width == 32 {
			f = wide
		} else if width != 16 {
			f = nil
		}
		if f == nil || k <= 0 || lda < k || len(a) < (mr-1)*lda+k || len(b) < k*width || valid <= 0 || valid > width {
			panic(fmt.Sprintf("native: bad tile: k %d, lda %d, len(a) %d, width %d, len(b) %d, valid %d", k, lda, len(a), width, len(b), valid))
		}
		if valid%8 != 0 {
			// Only 8-column granularity is stored by the kernels: compute
			// the whole panel aside and copy what is wanted.
			tmp := make([]float32, mr*width)
			f(k, &a[0], lda, &b[0], &tmp[0], width, mask(width, width))
			for i := range mr {
				copy(c[i*ldc:i*ldc+valid], tmp[i*width:])
			}
			return
		}
		if ldc < valid || len(c) < (mr-1)*ldc+valid {
			panic(fmt.Sprintf("native: bad tile output: ldc %d, len(c) %d, valid %d", ldc, len(c), valid))
		}
		f(k, &a[0], lda, &b[0], &c[0], ldc, mask(width, valid))
	}
}

// The assembly is called directly, not through function values, so that
// the argument structs stay on the stack.

// dwKernel names one of the assembly depthwise kernels.
type dwKernel int

const (
	dwAVX2FMAKernel dwKernel = iota
	dwAVX2ExactKernel
	dwAVX512FMAKernel
	dwAVX512ExactKernel
)

func (k dwKernel) call(a *dwArgs) {
	switch k {
	case dwAVX2FMAKernel:
		dwAVX2FMA(a)
	case dwAVX2ExactKernel:
		dwAVX2Exact(a)
	case dwAVX512FMAKernel:
		dwAVX512FMA(a)
	case dwAVX512ExactKernel:
		dwAVX512Exact(a)
	}
}

func dwASM(cb int, f dwKernel, fallback func(dwJob)) func(dwJob) {
	return func(j dwJob) {
		if j.cb != cb || (j.stride != 1 && j.stride != 2) || j.oh <= 0 || j.ow <= 0 || j.k <= 0 {
			fallback(j)
			return
		}
		lastIn := ((j.oh-1)*j.stride+j.k-1)*j.planeRow + ((j.ow-1)*j.stride+j.k-1)*j.pix + cb
		lastOut := (j.oh-1)*j.oR + (j.ow-1)*j.oP + cb
		if len(j.plane) < lastIn || len(j.w) < j.k*j.k*cb || len(j.out) < lastOut {
			panic(fmt.Sprintf("native: bad depthwise job: plane %d < %d, weights %d, out %d < %d", len(j.plane), lastIn, len(j.w), len(j.out), lastOut))
		}
		f.call(&dwArgs{
			plane: &j.plane[0], planeRow: 4 * j.planeRow, w: &j.w[0], out: &j.out[0],
			oR: 4 * j.oR, oP: 4 * j.oP, oh: j.oh, ow: j.ow, k: j.k, pix: 4 * j.pix,
			rowStep: 4 * j.stride * j.planeRow, pixIn: 4 * j.stride * j.pix,
		})
	}
}

// tfKernel names one of the assembly transforms.
type tfKernel int

const (
	tfAVX2Prefetch tfKernel = iota
	tfAVX512Prefetch
)

func (k tfKernel) call(a *tfArgs) {
	switch k {
	case tfAVX2Prefetch:
		transformAVX2Prefetch(a)
	case tfAVX512Prefetch:
		transformAVX512Prefetch(a)
	}
}

func transformASM(f tfKernel) func(tfJob) {
	return func(j tfJob) { transformWith(f, &j) }
}

func transformWith(f tfKernel, j *tfJob) {
	if j.n%8 != 0 || j.rows <= 0 || j.cols <= 0 || j.n <= 0 {
		transformGo(*j)
		return
	}
	last := func(r, p int) int { return (j.rows-1)*r + (j.cols-1)*p + j.n }
	nm := j.nm
	if len(j.src) < last(j.sR, j.sP) || len(j.dst) < last(j.dR, j.dP) ||
		len(nm.m) < j.c0+j.n || len(nm.inv) < j.c0+j.n || len(nm.g) < j.c0+j.n || len(nm.beta) < j.c0+j.n {
		panic(fmt.Sprintf("native: bad transform: %d rows, %d cols, %d channels from %d, src %d, dst %d", j.rows, j.cols, j.n, j.c0, len(j.src), len(j.dst)))
	}
	add := 0
	if j.add {
		add = 1
	}
	c0 := j.c0
	f.call(&tfArgs{
		dst: &j.dst[0], dR: 4 * j.dR, dP: 4 * j.dP,
		src: &j.src[0], sR: 4 * j.sR, sP: 4 * j.sP,
		rows: j.rows, cols: j.cols, n: j.n,
		m: &nm.m[c0], inv: &nm.inv[c0], g: &nm.g[c0], beta: &nm.beta[c0],
		act: int(nm.act), add: add,
	})
}

func statsASM(zmm bool) func(statsJob) {
	return func(j statsJob) { statsWith(zmm, &j) }
}

func statsWith(zmm bool, j *statsJob) {
	if j.n%8 != 0 || j.rows <= 0 || j.n <= 0 {
		statsGo(*j)
		return
	}
	if len(j.src) < (j.rows-1)*j.ld+j.n || len(j.shift) < j.n || len(j.sum) < j.n || len(j.sq) < j.n {
		panic(fmt.Sprintf("native: bad statistics job: %d rows of %d (stride %d), src %d", j.rows, j.n, j.ld, len(j.src)))
	}
	if zmm {
		statsAVX512(&j.src[0], j.rows, j.n, j.ld, &j.shift[0], &j.sum[0], &j.sq[0])
		return
	}
	statsAVX2(&j.src[0], j.rows, j.n, j.ld, &j.shift[0], &j.sum[0], &j.sq[0])
}

func gemvASM(x []float32, w []float32, n int, bias, y []float32) {
	k := len(x)
	if n%8 != 0 || k == 0 || n <= 0 {
		gemvGo(x, w, n, bias, y)
		return
	}
	if len(w) < k*n || len(bias) < n || len(y) < n {
		panic(fmt.Sprintf("native: bad gemv: %d x %d, w %d", k, n, len(w)))
	}
	gemvAVX2(&x[0], k, &w[0], n, &bias[0], &y[0])
}

// avx2Set and avx512Set build the assembly kernel sets; exact selects the
// multiply-then-add tile and depthwise kernels that round as the
// reference does, !exact the fused multiply-add ones.
func avx2Set(exact bool) *kernelSet {
	g, d, name := gemm6x16AVX2FMA, dwAVX2FMAKernel, "avx2-fma"
	if exact {
		g, d, name = gemm6x16AVX2Exact, dwAVX2ExactKernel, "avx2-exact"
	}
	return &kernelSet{
		name:        name,
		exact:       exact,
		mr:          6,
		panelWidths: panels(16),
		gemm: gemmASM(6, g, nil, func(_, valid int) int {
			if valid <= 8 {
				return 1
			}
			return 0
		}),
		chunkWidths: chunks(8),
		dw:          dwASM(8, d, dwGo),
		transform:   transformASM(tfAVX2Prefetch),
		stats:       statsASM(false),
		gemv:        gemvASM,
	}
}

func avx512Set(exact bool) *kernelSet {
	g32, g16, d, d8, name := gemm12x32AVX512FMA, gemm12x16AVX512FMA, dwAVX512FMAKernel, dwAVX2FMAKernel, "avx512-fma"
	if exact {
		g32, g16, d, d8, name = gemm12x32AVX512Exact, gemm12x16AVX512Exact, dwAVX512ExactKernel, dwAVX2ExactKernel, "avx512-exact"
	}
	dw8 := dwASM(8, d8, dwGo)
	return &kernelSet{
		name:  name,
		exact: exact,
		mr:    12,
		panelWidths: func(n int) []int {
			var ws []int
			for ; n > 16; n -= 32 {
				ws = append(ws, 32)
			}
			if n > 0 {
				ws = append(ws, 16)
			}
			return ws
		},
		gemm: gemmASM(12, g16, g32, func(width, valid int) int {
			if width == 32 {
				valid -= 16
			}
			return 1<<valid - 1
		}),
		chunkWidths: chunks(16),
		dw:          dwASM(16, d, dw8),
		transform:   transformASM(tfAVX512Prefetch),
		stats:       statsASM(true),
		gemv:        gemvASM,
	}
}

var kernelChoices = func() []*kernelSet {
	ks := []*kernelSet{goKernels}
	if hasAVX2 {
		ks = append(ks, avx2Set(true), avx2Set(false))
	}
	if hasAVX512 {
		ks = append(ks, avx512Set(true), avx512Set(false))
	}
	return ks
}()

// kernelSets returns every kernel set this machine can run.
func kernelSets() []*kernelSet { return kernelChoices }

// bestKernels returns the fastest exact set this machine runs.
func bestKernels() *kernelSet {
	best := goKernels
	for _, ks := range kernelChoices {
		if ks.exact {
			best = ks
		}
	}
	return best
}
