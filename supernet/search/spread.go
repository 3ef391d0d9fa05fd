package search

import (
	"cmp"
	"slices"

	"github.com/edgefit/edgefit/supernet"
)

// Spread picks k subnets worth measuring among those a search found within
// its limits: the most accurate by prediction, spread along the Pareto
// front so that a predictor wrong about one kind of subnet does not hide
// the others. With a front, it takes the 2k front points of highest
// predicted accuracy, orders them by latency and keeps k at evenly spaced
// positions (both ends included, so the most accurate point is always
// there); it fills up, most accurate first, from the top list. Without a
// front it returns the top list's first k. The result is ordered by
// predicted accuracy, most accurate first, and has no subnet twice.
func Spread(res *Result, k int) []Candidate {
	if k <= 0 || res == nil {
		return nil
	}
	seen := map[supernet.Config]bool{}
	var out []Candidate
	add := func(c Candidate) {
		if len(out) < k && !seen[c.Config] {
			seen[c.Config] = true
			out = append(out, c)
		}
	}
	if len(res.Front) > 0 {
		pool := slices.Clone(res.Front)
		slices.SortStableFunc(pool, byAccuracy)
		pool = pool[:min(len(pool), 2*k)]
		slices.SortStableFunc(pool, func(a, b Candidate) int { return cmp.Compare(a.LatencyMS, b.LatencyMS) })
		switch n := len(pool); {
		case k == 1:
			add(slices.MinFunc(pool, byAccuracy))
		case n <= k:
			for _, c := range pool {
				add(c)
			}
		default:
			// Position round(j·(n−1)/(k−1)) for j = 0..k−1.
			for j := range k {
				add(pool[(2*j*(n-1)+k-1)/(2*(k-1))])
			}
		}
	}
	top := slices.Clone(res.Top)
	slices.SortStableFunc(top, byAccuracy)
	for _, c := range top {
		add(c)
	}
	slices.SortStableFunc(out, byAccuracy)
	return out
}

// byAccuracy orders candidates most accurate first, faster first on ties.
func byAccuracy(a, b Candidate) int {
	if c := cmp.Compare(b.Accuracy, a.Accuracy); c != 0 {
		return c
	}
	return cmp.Compare(a.LatencyMS, b.LatencyMS)
}
