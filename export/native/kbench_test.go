package native

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuLoop runs f b.N times on a locked thread and reports CPU ns per unit.
func cpuLoop(b *testing.B, units float64, unit string, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	c0 := threadCPU()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64((threadCPU()-c0).Nanoseconds())/float64(b.N)/units, "cpu-ns/"+unit)
}

func BenchmarkTransform(b *testing.B) {
	for _, tc := range []struct {
		name        string
		n, cols, sP int
		a           act
	}{
		{"contig-n64-hswish", 64, 4096, 64, actHSwish},
		{"contig-n64-relu", 64, 4096, 64, actReLU},
		{"contig-n64-none", 64, 4096, 64, actNone},
		{"chunk16-of64", 16, 4096, 64, actReLU},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src := make([]float32, tc.cols*tc.sP)
			for i := range src {
				src[i] = float32(i%17) - 8
			}
			dst := make([]float32, tc.cols*tc.n)
			nm := identity(tc.n)
			nm.act = tc.a
			cpuLoop(b, float64(tc.cols*tc.n), "elem", func() {
				transformWith(benchTF, &tfJob{dst: dst, dP: tc.n, src: src, sP: tc.sP, rows: 1, cols: tc.cols, n: tc.n, nm: nm})
			})
		})
	}
}

var benchTF = tfAVX2

func BenchmarkTransformVariants(b *testing.B) {
	for _, v := range []struct {
		name string
		f    tfKernel
	}{{"avx2", tfAVX2}, {"avx2-prefetch", tfAVX2Prefetch}, {"avx512", tfAVX512}, {"avx512-prefetch", tfAVX512Prefetch}} {
		benchTF = v.f
		b.Run(v.name, BenchmarkTransformDRAM)
		b.Run(v.name, BenchmarkTransform)
	}
}

func BenchmarkTransformDRAM(b *testing.B) {
	const n, cols = 64, 1 << 18 // 64 MB source
	src := make([]float32, cols*n)
	for i := range src {
		src[i] = float32(i%17) - 8
	}
	nm := identity(n)
	nm.act = actReLU
	b.Run("to-L2", func(b *testing.B) {
		dst := make([]float32, 4096*n)
		cpuLoop(b, float64(cols*n), "elem", func() {
			for c := 0; c < cols; c += 4096 {
				transformWith(benchTF, &tfJob{dst: dst, dP: n, src: src[c*n:], sP: n, rows: 1, cols: 4096, n: n, nm: nm})
			}
		})
	})
	b.Run("chunk16-to-L2", func(b *testing.B) {
		dst := make([]float32, 4096*16)
		cpuLoop(b, float64(cols*n), "elem", func() {
			for c0 := 0; c0 < n; c0 += 16 {
				for c := 0; c < cols; c += 4096 {
					transformWith(benchTF, &tfJob{dst: dst, dP: 16, src: src[c*n+c0:], sP: n, rows: 1, cols: 4096, n: 16, nm: nm, c0: c0})
				}
			}
		})
	})
	b.Run("to-DRAM", func(b *testing.B) {
		dst := make([]float32, cols*n)
		cpuLoop(b, float64(cols*n), "elem", func() {
			transformWith(benchTF, &tfJob{dst: dst, dP: n, src: src, sP: n, rows: 1, cols: cols, n: n, nm: nm})
		})
	})
	b.Run("memmove", func(b *testing.B) {
		dst := make([]float32, cols*n)
		cpuLoop(b, float64(cols*n), "elem", func() { copy(dst, src) })
	})
}
