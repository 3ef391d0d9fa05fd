package zerocost

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
)

// Ridge is the regularization of the log-determinant, relative to the
// number of units: the score is log det(K + Ridge·N·I). It keeps the score
// finite when K is singular (two images with identical codes, or an
// activation that does not tell images apart at all), where each missing
// dimension then counts as log(Ridge·N) instead of −∞, and changes a
// nonsingular K's score by Σ log(1 + Ridge·N/λ) over its eigenvalues λ:
// below 1e-4 in total for the kernels OFA's subnets give at 64 images.
const Ridge = 1e-6

// Kernel accumulates NASWOT's kernel K over activation layers: for n
// images with binary codes c_i over N units,
//
//	K_ij = c_i·c_j + (1−c_i)·(1−c_j) = N − hamming(c_i, c_j),
//
// the number of units on which images i and j agree. Codes come packed 64
// to a word, and K is counted exactly, in integers, with popcounts of the
// words' exclusive or.
type Kernel struct {
	n     int
	units int64
	ham   []int64 // n×n, upper triangle: the Hamming distances
}

// NewKernel returns an empty kernel over n images.
func NewKernel(n int) *Kernel { return &Kernel{n: n, ham: make([]int64, n*n)} }

// Images is the number of images n.
func (k *Kernel) Images() int { return k.n }

// Units is the number of units added so far.
func (k *Kernel) Units() int64 { return k.units }

// pairWords is the number of words per image one pass over the image
// pairs reads: 64 images of 512 words (256 KB) stay in a core's L2 while
// every pair runs over them.
const pairWords = 512

// Add adds one layer of units units whose codes are in codes: image i's
// words at codes[i*words:(i+1)*words], unit u as bit u%64 of word u/64,
// and no bits set past the last unit in any image. The pairs are split
// over GOMAXPROCS goroutines.
func (k *Kernel) Add(codes []uint64, words, units int) error {
	n := k.n
	if len(codes) != n*words || units > 64*words || units <= 64*(words-1) {
		return fmt.Errorf("zero-cost kernel: %d words for %d images of %d words (%d units)", len(codes), n, words, units)
	}
	k.units += int64(units)
	pairs := n * (n - 1) / 2
	workers := min(runtime.GOMAXPROCS(0), max(1, pairs*words/(1<<16)))
	if workers <= 1 {
		k.addPairs(codes, words, 0, pairs)
		return nil
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*pairs/workers, (w+1)*pairs/workers
		wg.Go(func() { k.addPairs(codes, words, lo, hi) })
	}
	wg.Wait()
	return nil
}

// addPairs adds the Hamming distances of the pairs [lo, hi) in row-major
// order of the upper triangle, word block by word block.
func (k *Kernel) addPairs(codes []uint64, words, lo, hi int) {
	n := k.n
	for w0 := 0; w0 < words; w0 += pairWords {
		w1 := min(w0+pairWords, words)
		p := 0
		for i := 0; i < n-1 && p < hi; i++ {
			row := n - 1 - i
			if p+row <= lo {
				p += row
				continue
			}
			ci := codes[i*words+w0 : i*words+w1]
			for j := i + 1; j < n; j, p = j+1, p+1 {
				if p < lo || p >= hi {
					continue
				}
				k.ham[i*n+j] += int64(hamming(ci, codes[j*words+w0:j*words+w1]))
			}
		}
	}
}

// hamming counts the bits in which a and b (of equal length) differ.
func hamming(a, b []uint64) int {
	b = b[:len(a)]
	s0, s1, s2, s3 := 0, 0, 0, 0
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += bits.OnesCount64(a[i] ^ b[i])
		s1 += bits.OnesCount64(a[i+1] ^ b[i+1])
		s2 += bits.OnesCount64(a[i+2] ^ b[i+2])
		s3 += bits.OnesCount64(a[i+3] ^ b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += bits.OnesCount64(a[i] ^ b[i])
	}
	return s0 + s1 + s2 + s3
}

// Agreement returns K_ij, the number of units on which images i and j
// agree.
func (k *Kernel) Agreement(i, j int) int64 {
	if i == j {
		return k.units
	}
	if i > j {
		i, j = j, i
	}
	return k.units - k.ham[i*k.n+j]
}

// Matrix returns K, n×n row-major.
func (k *Kernel) Matrix() []float64 {
	m := make([]float64, k.n*k.n)
	for i := range k.n {
		for j := range k.n {
			m[i*k.n+j] = float64(k.Agreement(i, j))
		}
	}
	return m
}

// LogDet returns the NASWOT score of the kernel, log det(K + Ridge·N·I),
// computed stably: K/N (entries in [0, 1], ones on the diagonal) plus the
// ridge is factored by a float64 Cholesky decomposition, and n·log N is
// added back. Identical images therefore lower the score by about
// −log(Ridge) ≈ 13.8 each instead of making it −∞. ok is false only if
// rounding made the factorization fail, which a ridge of 1e-6 against
// float64's 1e-16 rules out for any n up to thousands; the score is then
// [Kernel.Floor]. A kernel without units has no score: ok is false and the
// score NaN.
func (k *Kernel) LogDet() (score float64, ok bool) {
	n := k.n
	if k.units == 0 || n == 0 {
		return math.NaN(), false
	}
	a := k.Matrix()
	inv := 1 / float64(k.units)
	for i := range a {
		a[i] *= inv
	}
	for i := range n {
		a[i*n+i] += Ridge
	}
	ld, ok := choleskyLogDet(a, n)
	if !ok {
		return k.Floor(), false
	}
	return ld + float64(n)*math.Log(float64(k.units)), true
}

// Floor is the lowest score a kernel of n images over N units can have:
// every image coded alike (K/N all ones, eigenvalues n and 0), which with
// the ridge gives log(n + Ridge) + (n−1)·log Ridge + n·log N.
func (k *Kernel) Floor() float64 { return Floor(k.n, k.units) }

// Floor is [Kernel.Floor] for n images over units units.
func Floor(n int, units int64) float64 {
	return math.Log(float64(n)+Ridge) + float64(n-1)*math.Log(Ridge) + float64(n)*math.Log(float64(units))
}

// Bound is an upper bound of the score of a kernel of n images over N
// units, n·log N + n·log(1 + Ridge): by Hadamard's inequality the
// determinant of a positive semi-definite matrix is at most the product of
// its diagonal, here (N + Ridge·N)^n.
func Bound(n int, units int64) float64 {
	return float64(n)*math.Log(float64(units)) + float64(n)*math.Log1p(Ridge)
}

// choleskyLogDet factors the symmetric matrix a (n×n, row-major; only the
// lower triangle is read, and it is overwritten) as L·Lᵀ and returns
// log det a = 2·Σ log L_ii; ok is false when a pivot is not positive.
func choleskyLogDet(a []float64, n int) (float64, bool) {
	ld := 0.0
	for j := range n {
		d := a[j*n+j]
		rowJ := a[j*n : j*n+j]
		for _, v := range rowJ {
			d -= v * v
		}
		if !(d > 0) {
			return 0, false
		}
		ljj := math.Sqrt(d)
		a[j*n+j] = ljj
		ld += 2 * math.Log(ljj)
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			rowI := a[i*n : i*n+j]
			for t, v := range rowI {
				s -= v * rowJ[t]
			}
			a[i*n+j] = s / ljj
		}
	}
	return ld, true
}
