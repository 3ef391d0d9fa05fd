package predictor

// gemm6x16 sets c[i*ldc+j] = Σ_{t<k} a[i*rs+t*ts] · b[t*16+j] for i < 6
// and j < 16: one tile of a product whose right operand is packed in
// 16-column panels (see packPanels), with the left operand row-major
// (rs, ts = lda, 1) or transposed (1, lda). It needs AVX2 and FMA
// (useAsm).
//
//go:noescape
func gemm6x16(k int, a *float32, rs, ts int, b *float32, c *float32, ldc int)
