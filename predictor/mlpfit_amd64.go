package predictor

// gemm6x16 sets c[i*ldc+j] = Σ_{t<k} a[i*lda+t] · b[t*16+j] for i < 6 and
// j < 16: one tile of a product whose right operand is packed in 16-column
// panels (see packPanels). It needs AVX2 and FMA (useAsm).
//
//go:noescape
func gemm6x16(k int, a *float32, lda int, b *float32, c *float32, ldc int)

// gemm6x16t is gemm6x16 with a stored transposed: c[i*ldc+j] =
// Σ_{t<k} a[t*lda+i] · b[t*16+j].
//
//go:noescape
func gemm6x16t(k int, a *float32, lda int, b *float32, c *float32, ldc int)
