package native

// signWordsAVX2 packs whole 64-unit words of signs (see codes_amd64.s):
// dst[w] bit k is the sign of a[off+k]·x[64w+k] + b[off+k], off stepping
// by 64 through a period of period floats.
//
//go:noescape
func signWordsAVX2(x *float32, a *float32, b *float32, words int, period int, dst *uint64)

// signWords packs the first words whole words of raw into dst, with the
// AVX2 kernel where the CPU has it.
func signWords(raw, a, b []float32, words int, dst []uint64) {
	if !hasAVX2 || words == 0 {
		signWordsGo(raw, a, b, words, dst)
		return
	}
	_, _ = raw[words*64-1], dst[words-1]
	signWordsAVX2(&raw[0], &a[0], &b[0], words, len(a), &dst[0])
}
