package predictor

import "golang.org/x/sys/cpu"

// useAsm selects the AVX2/FMA kernels; tests turn it off to check the
// portable path against them.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernel6x16 sets c[i][j] = relu(bias[j] + Σ_{t<k} a[i*lda+t] · b[t*16+j])
// for i < 6 and j < 16 (lda and ldc in elements).
//
//go:noescape
func kernel6x16(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32)

// sumRowsAsm sets dst[j] = relu(bias[j] + Σ_{t<m} w[idx[t]*h+j]) for
// j < h, h a multiple of 16.
//
//go:noescape
func sumRowsAsm(dst *float32, h int, w *float32, idx *int32, m int, bias *float32)

// kernel6x16idx is kernel6x16 restricted to the n inner indices in ks.
//
//go:noescape
func kernel6x16idx(n int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, ks *int32)
