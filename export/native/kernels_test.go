package native

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The kernel tests run every kernel set on random shapes, odd ones
// included (channel counts that are not multiples of 8 take the portable
// path inside the assembly sets), and compare with the portable kernels:
// exactly for the exact sets, to float32 rounding for the fused ones.

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// closeEnough compares a kernel's output with the portable one's.
func closeEnough(t *testing.T, ks *kernelSet, what string, got, want []float32, scale float64) {
	t.Helper()
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if ks.exact && got[i] != want[i] || !ks.exact && d > 1e-5*scale*max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("kernels %s, %s: element %d is %v, want %v", ks.name, what, i, got[i], want[i])
		}
	}
}

func checkGemm(t *testing.T, ks *kernelSet, rng *rand.Rand, k, n int) {
	t.Helper()
	mr := ks.mr
	lda, ldc := k+3, n+5
	a := randSlice(rng, (mr-1)*lda+k)
	w := randSlice(rng, n*k) // [n][k], as a 1x1 convolution's weights
	// Reference: each output a float32 sum of rounded products in order.
	want := make([]float32, mr*ldc)
	for i := range mr {
		for j := range n {
			var s float32
			for t := range k {
				s += a[i*lda+t] * w[j*k+t]
			}
			want[i*ldc+j] = s
		}
	}
	got := make([]float32, mr*ldc)
	for i := range got {
		got[i] = -7 // must survive outside the tile's columns
	}
	pw := packB(ks, k, n, func(t, j int) float32 { return w[j*k+t] })
	for _, p := range pw.panels {
		ks.gemm(k, a, lda, pw.data[p.off:p.off+k*p.width], p.width, got[p.col:], ldc, p.valid)
	}
	for i := range mr {
		for j := n; j < ldc; j++ {
			if got[i*ldc+j] != -7 {
				t.Fatalf("kernels %s, gemm k=%d n=%d: wrote column %d of row %d", ks.name, k, n, j, i)
			}
		}
		closeEnough(t, ks, "gemm", got[i*ldc:i*ldc+n], want[i*ldc:i*ldc+n], math.Sqrt(float64(k)))
	}
}

func TestGemmKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, ks := range kernelSets() {
		for _, n := range []int{8, 16, 24, 32, 40, 48, 56, 64, 96, 120, 5, 13, 27} {
			for _, k := range []int{1, 3, 16, 27, 64, 161} {
				checkGemm(t, ks, rng, k, n)
			}
		}
	}
}

func checkDW(t *testing.T, ks *kernelSet, rng *rand.Rand, c, h, k, s int) {
	t.Helper()
	src := randSlice(rng, h*h*c)
	w := randSlice(rng, c*k*k)
	oh := (h-1)/s + 1
	nm := &affine{m: make([]float64, c), inv: make([]float64, c), g: make([]float64, c), beta: make([]float64, c), act: actHSwish}
	for i := range c {
		nm.m[i], nm.inv[i], nm.g[i], nm.beta[i] = rng.NormFloat64(), 1+rng.Float64(), rng.NormFloat64(), rng.NormFloat64()
	}
	run := func(ks *kernelSet) ([]float32, partial) {
		pw, pix := h+2*(k/2), bandPixel(c)
		wk := newWorker(ks, sizes{kMax: 1, nMax: 1, plane: min(bandRows(pw, pix, k), pw) * pw * pix})
		dst := make([]float32, oh*oh*c)
		st := partial{shift: make([]float64, c), sum: make([]float64, c), sq: make([]float64, c)}
		wk.dwImage(packDW(ks, c, k, s, w), src, h, nm, dst, st)
		return dst, st
	}
	want, wst := run(goKernels)
	got, gst := run(ks)
	closeEnough(t, ks, "depthwise", got, want, float64(k))
	for i := range c {
		// Both sum each channel pixel by pixel; the assembly squares with
		// fused multiply-adds.
		if ks.exact && (math.Abs(gst.sum[i]-wst.sum[i]) > 1e-12*max(1, math.Abs(wst.sum[i])) || math.Abs(gst.sq[i]-wst.sq[i]) > 1e-12*wst.sq[i]) {
			t.Fatalf("kernels %s, depthwise c=%d h=%d k=%d s=%d: statistics of channel %d differ: %v,%v vs %v,%v", ks.name, c, h, k, s, i, gst.sum[i], gst.sq[i], wst.sum[i], wst.sq[i])
		}
	}
}

func TestDepthwiseKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, ks := range kernelSets() {
		for _, c := range []int{8, 16, 24, 40, 5, 19} {
			for _, h := range []int{1, 2, 3, 7, 9, 17, 30} {
				for _, k := range []int{3, 5, 7} {
					for _, s := range []int{1, 2} {
						checkDW(t, ks, rng, c, h, k, s)
					}
				}
			}
		}
	}
}

func TestTransformKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, ks := range kernelSets() {
		for _, n := range []int{8, 16, 24, 40, 64, 3, 12} {
			for _, a := range []act{actNone, actReLU, actHSwish} {
				for _, add := range []bool{false, true} {
					c0 := 5
					nm := &affine{act: a}
					for range c0 + n {
						nm.m = append(nm.m, rng.NormFloat64())
						nm.inv = append(nm.inv, rng.Float64()*4)
						nm.g = append(nm.g, rng.NormFloat64())
						nm.beta = append(nm.beta, rng.NormFloat64()*3)
					}
					rows, cols, sR, sP, dR, dP := 3, 7, 9*(n+2), n+2, 8*(n+1), n+1
					src := randSlice(rng, rows*sR)
					base := randSlice(rng, rows*dR)
					want, got := append([]float32(nil), base...), append([]float32(nil), base...)
					job := tfJob{src: src, sR: sR, sP: sP, dR: dR, dP: dP, rows: rows, cols: cols, n: n, nm: nm, c0: c0, add: add}
					job.dst = want
					goKernels.transform(job)
					job.dst = got
					ks.transform(job)
					// Activations round as the reference in every set.
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("kernels %s, transform n=%d act=%d add=%v: element %d is %v, want %v", ks.name, n, a, add, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestHardSwishDivision checks the assembly's h_swish, whose division by
// 6 is a multiply by 1/6 and one correction, against Go's division over a
// dense sweep of inputs.
func TestHardSwishDivision(t *testing.T) {
	const n = 1 << 16
	src := make([]float32, n)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range src {
		switch i % 3 {
		case 0:
			src[i] = float32(rng.Float64()*8 - 4)
		case 1:
			src[i] = math.Float32frombits(rng.Uint32() &^ (1 << 31) % 0x41000000) // up to 8
		default:
			src[i] = -math.Float32frombits(rng.Uint32() % 0x40400000) // down to -3
		}
	}
	nm := identity(16)
	nm.act = actHSwish
	for _, ks := range kernelSets() {
		dst := make([]float32, n)
		ks.transform(tfJob{dst: dst, dP: 16, src: src, sP: 16, rows: 1, cols: n / 16, n: 16, nm: nm})
		for i, x := range src {
			want := x * min(max(x+3, 0), 6) / 6
			if dst[i] != want && !(math.Abs(float64(want)) < 0x1p-126) {
				t.Fatalf("kernels %s: h_swish(%v) = %v, want %v", ks.name, x, dst[i], want)
			}
		}
	}
}

func TestStatsAndGemvKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, ks := range kernelSets() {
		for _, n := range []int{8, 16, 24, 40, 7, 33} {
			rows, ld := 11, n+4
			src := randSlice(rng, (rows-1)*ld+n)
			shift := make([]float64, n)
			for i := range shift {
				shift[i] = rng.NormFloat64()
			}
			var res [2][2][]float64
			for v, set := range []*kernelSet{goKernels, ks} {
				res[v] = [2][]float64{make([]float64, n), make([]float64, n)}
				for i := range n {
					res[v][0][i], res[v][1][i] = 1, 2 // accumulates onto what is there
				}
				set.stats(statsJob{src: src, rows: rows, n: n, ld: ld, shift: shift, sum: res[v][0], sq: res[v][1]})
			}
			for i := range n {
				for q := range 2 {
					if d := math.Abs(res[1][q][i] - res[0][q][i]); d > 1e-12*math.Abs(res[0][q][i]) {
						t.Fatalf("kernels %s, stats n=%d: channel %d: %v, want %v", ks.name, n, i, res[1][q][i], res[0][q][i])
					}
				}
			}
			k := 19
			x, w, bias := randSlice(rng, k), randSlice(rng, k*n), randSlice(rng, n)
			want, got := make([]float32, n), make([]float32, n)
			goKernels.gemv(x, w, n, bias, want)
			ks.gemv(x, w, n, bias, got)
			for i := range n {
				if got[i] != want[i] {
					t.Fatalf("kernels %s, gemv n=%d: element %d is %v, want %v", ks.name, n, i, got[i], want[i])
				}
			}
		}
	}
}
