//go:build !amd64

package predictor

func gemm6x16(k int, a *float32, rs, ts int, b *float32, c *float32, ldc int) {
	panic("predictor: gemm6x16 without assembly")
}
