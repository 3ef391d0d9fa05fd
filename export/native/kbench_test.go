package native

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// The kernel benchmarks report CPU time of the benchmarking thread
// (getrusage), which other work on a shared machine does not inflate the
// way it inflates wall time.

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuLoop runs f b.N times on a locked thread and reports work/cpu-second
// as unit (for example GFLOP/s when work is in GFLOP).
func cpuLoop(b *testing.B, work float64, unit string, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	c0 := threadCPU()
	for b.Loop() {
		f()
	}
	b.ReportMetric(work*float64(b.N)/(threadCPU()-c0).Seconds(), unit)
}

// BenchmarkGEMM: the 1x1 convolutions of the mid subnet's typical shapes
// (pixels x in -> out) for one image, through gemmImage with statistics,
// in GFLOP/s (2 per multiply-add) of CPU time.
func BenchmarkGEMM(b *testing.B) {
	shapes := []struct{ p, k, n int }{
		{112 * 112, 16, 64}, // stage 1 expand
		{56 * 56, 96, 24},   // stage 1 project
		{28 * 28, 40, 160},  // stage 2 expand
		{14 * 14, 320, 112}, // stage 4 project
		{7 * 7, 160, 960},   // final expand
	}
	for _, ks := range kernelSets() {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", ks.name, s.p, s.k, s.n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				a, w := randSlice(rng, s.p*s.k), randSlice(rng, s.k*s.n)
				pw := packB(ks, s.k, s.n, func(t, j int) float32 { return w[j*s.k+t] })
				wk := newWorker(ks, sizes{kMax: s.k, nMax: s.n})
				dst := make([]float32, s.p*s.n)
				st := partial{shift: make([]float64, s.n), sum: make([]float64, s.n), sq: make([]float64, s.n)}
				cpuLoop(b, 2*float64(s.p*s.k*s.n)/1e9, "GFLOP/s", func() {
					wk.gemmImage(pw, a, s.k, nil, s.p, dst, st)
				})
			})
		}
	}
}

// BenchmarkDepthwise: one image's depthwise convolution with its input
// normalization and output statistics, in GMAC/s of CPU time.
func BenchmarkDepthwise(b *testing.B) {
	shapes := []struct{ h, c, k, s int }{
		{112, 64, 5, 2},
		{56, 96, 5, 1},
		{28, 160, 5, 1},
		{14, 448, 5, 1},
		{7, 640, 5, 1},
	}
	for _, ks := range kernelSets() {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/%dx%dx%d-k%d-s%d", ks.name, s.h, s.h, s.c, s.k, s.s), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(3, 4))
				src, w := randSlice(rng, s.h*s.h*s.c), randSlice(rng, s.c*s.k*s.k)
				oh := (s.h-1)/s.s + 1
				nm := identity(s.c)
				nm.act = actReLU
				pw, pix := s.h+2*(s.k/2), bandPixel(s.c)
				wk := newWorker(ks, sizes{kMax: 1, nMax: 1, plane: min(bandRows(pw, pix, s.k), pw) * pw * pix})
				d := packDW(ks, s.c, s.k, s.s, w)
				dst := make([]float32, oh*oh*s.c)
				st := partial{shift: make([]float64, s.c), sum: make([]float64, s.c), sq: make([]float64, s.c)}
				cpuLoop(b, float64(oh*oh*s.c*s.k*s.k)/1e9, "GMAC/s", func() {
					wk.dwImage(d, src, s.h, nm, dst, st)
				})
			})
		}
	}
}

// BenchmarkTransform: normalization with h_swish of 4096 pixels of 64
// channels, the source in cache (L2) and in memory (64 MB), in
// Gelements/s of CPU time.
func BenchmarkTransform(b *testing.B) {
	const n = 64
	for _, ks := range kernelSets() {
		for _, pixels := range []int{4096, 1 << 18} {
			b.Run(fmt.Sprintf("%s/%dpx", ks.name, pixels), func(b *testing.B) {
				src := randSlice(rand.New(rand.NewPCG(5, 6)), pixels*n)
				dst := make([]float32, 4096*n)
				nm := identity(n)
				nm.act = actHSwish
				cpuLoop(b, float64(pixels*n)/1e9, "Gelem/s", func() {
					for p := 0; p < pixels; p += 4096 {
						ks.transform(tfJob{dst: dst, dP: n, src: src[p*n:], sP: n, rows: 1, cols: 4096, n: n, nm: nm})
					}
				})
			})
		}
	}
}
