package predictor

import "math"

// Kendall returns Kendall's rank correlation τ-b of a and b: over all
// pairs, (concordant − discordant) / √((pairs − ties in a)(pairs − ties
// in b)), where a pair tied on one side counts as neither. It is NaN when
// fewer than two pairs are given, either side is constant, or a value is
// NaN. It counts every pair, so it suits the thousands of subnets a
// correlation check scores, not millions.
func Kendall(a, b []float64) float64 {
	n := min(len(a), len(b))
	if n < 2 {
		return math.NaN()
	}
	var conc, disc, tieA, tieB float64
	for i := range n {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			return math.NaN()
		}
		for j := i + 1; j < n; j++ {
			da, db := a[i]-a[j], b[i]-b[j]
			switch {
			case da == 0 && db == 0:
				tieA++
				tieB++
			case da == 0:
				tieA++
			case db == 0:
				tieB++
			case (da > 0) == (db > 0):
				conc++
			default:
				disc++
			}
		}
	}
	pairs := float64(n) * float64(n-1) / 2
	den := math.Sqrt((pairs - tieA) * (pairs - tieB))
	if den == 0 {
		return math.NaN()
	}
	return (conc - disc) / den
}
