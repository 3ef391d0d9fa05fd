//go:build !amd64

package predictor

// useAsm is false: only amd64 has the assembly kernels.
var useAsm = false

func kernel6x16(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32) {
	panic("predictor: kernel6x16 without assembly")
}

func sumRowsAsm(dst *float32, h int, w *float32, idx *int32, m int, bias *float32) {
	panic("predictor: sumRowsAsm without assembly")
}

func kernel6x16idx(n int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, ks *int32) {
	panic("predictor: kernel6x16idx without assembly")
}
