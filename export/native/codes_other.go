//go:build !amd64

package native

// signWords packs the first words whole words of raw into dst.
func signWords(raw, a, b []float32, words int, dst []uint64) { signWordsGo(raw, a, b, words, dst) }
