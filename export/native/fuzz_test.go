package native

import (
	"math/rand/v2"
	"testing"
)

// FuzzShapes runs every kernel set's tile and depthwise kernels on shapes
// drawn by the fuzzer and compares them with plain loops and the portable
// kernels.
func FuzzShapes(f *testing.F) {
	f.Add(uint8(16), uint8(24), uint8(8), uint8(7), uint8(5), uint8(2), uint64(1))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(1), uint8(7), uint8(1), uint64(2))
	f.Add(uint8(200), uint8(57), uint8(33), uint8(13), uint8(3), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, k, n, c, h, kernel, stride uint8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 9))
		kk := []int{3, 5, 7}[int(kernel)%3]
		s := 1 + int(stride)%2
		for _, ks := range kernelSets() {
			checkGemm(t, ks, rng, 1+int(k), 1+int(n)%128)
			checkDW(t, ks, rng, 1+int(c)%48, 1+int(h)%24, kk, s)
		}
	})
}
