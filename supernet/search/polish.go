package search

import (
	"math"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// Polishing: linearized knapsack local search.
//
// Near a good subnet, the accuracy of a change to several blocks is close
// to the sum of the accuracy changes of each block changed alone, and
// latency (a lookup-table sum), MACs and parameters are sums over blocks
// exactly. polish scores every single-block change of the current subnet
// (each active block's other kernel/expand pairs, at most 160 subnets),
// then solves the multiple-choice knapsack "pick one pair per block to
// maximize the summed gain while the summed cost change fits the slack"
// exactly by dynamic programming, for at most 1, 2, 3, 4, 6 and any number
// of changed blocks. It scores those proposals, moves to the best one that
// meets every limit and beats the current subnet, and repeats. Depths and
// resolution stay fixed; the evolution explores them.

// polishMaxChanges are the trust-region sizes of the proposals; 0 means
// no bound.
var polishMaxChanges = []int{1, 2, 3, 4, 6, 0}

const (
	polishIters = 12   // at most this many moves per polish
	polishUnits = 2000 // knapsack capacity resolution: the limit in this many steps
)

// knapsackMetric returns the limited metric polish trades against: the
// one whose limit is tightest relative to the current subnet.
func (s *searcher) knapsackMetric(e *predictor.Estimate) (Metric, bool) {
	best, found, ratio := Latency, false, -1.0
	for _, m := range []Metric{Latency, MACs, Params, Memory} {
		if lim, ok := s.lim.Get(m); ok {
			if r := m.Of(e) / lim; r > ratio {
				best, found, ratio = m, true, r
			}
		}
	}
	return best, found
}

// polish improves start by linearized knapsack moves and returns the best
// subnet it reached (start itself when nothing beats it).
func (s *searcher) polish(start Candidate) (Candidate, error) {
	cur := start
	sp := s.space
	nk, ne := len(sp.KernelSizes), len(sp.Expands)
	per := nk * ne
	for iter := 0; iter < polishIters; iter++ {
		if err := s.cancelled(); err != nil {
			return cur, err
		}
		m, ok := s.knapsackMetric(&cur.Estimate)
		if !ok {
			return cur, nil
		}
		lim, _ := s.lim.Get(m)
		// Every single-block change of the active blocks.
		var blocks []int
		var nbrs []supernet.Config
		for b := range supernet.NumBlocks {
			if !cur.Config.Active(b) {
				continue
			}
			blocks = append(blocks, b)
			for _, k := range sp.KernelSizes {
				for _, e := range sp.Expands {
					c := cur.Config
					c.KS[b], c.E[b] = k, e
					nbrs = append(nbrs, c)
				}
			}
		}
		if s.predictionsLeft() < len(nbrs) {
			return cur, nil // the cap leaves too few predictions for a move
		}
		est := s.scoreAll(nbrs)
		base := m.Of(&cur.Estimate)
		gain := make([]float64, len(nbrs))
		delta := make([]float64, len(nbrs))
		for i := range nbrs {
			gain[i] = est[i].Accuracy - cur.Accuracy
			delta[i] = m.Of(&est[i]) - base
			if nbrs[i] == cur.Config {
				gain[i], delta[i] = 0, 0
			}
		}
		curChoice := make([]int, len(blocks))
		for g, b := range blocks {
			curChoice[g] = indexOf(sp.KernelSizes, cur.Config.KS[b])*ne + indexOf(sp.Expands, cur.Config.E[b])
		}
		props := knapsack(len(blocks), per, curChoice, gain, delta, lim-base, lim/polishUnits)
		var cfgs []supernet.Config
		for _, prop := range props {
			c := cur.Config
			for g, a := range prop.pick {
				b := blocks[g]
				c.KS[b], c.E[b] = sp.KernelSizes[a/ne], sp.Expands[a%ne]
			}
			if c != cur.Config {
				cfgs = append(cfgs, c)
			}
		}
		// Check the limits cheaply before spending accuracy predictions.
		ce := make([]predictor.Estimate, len(cfgs))
		s.costs(cfgs, ce)
		var ok2 []supernet.Config
		for i := range cfgs {
			if s.lim.Met(&ce[i]) {
				ok2 = append(ok2, cfgs[i])
			}
		}
		moved := false
		for _, c := range s.score(ok2) {
			if c.Accuracy > cur.Accuracy+improvement {
				cur, moved = c, true
			}
		}
		if !moved {
			break
		}
	}
	return cur, nil
}

// knapsack solves the multiple-choice knapsack: groups of per items,
// item g*per+a with value gain and weight delta (item weights may be
// negative: a smaller choice frees capacity), capacity slack, weights
// rounded to unit (up for the items' excess over their group's lightest,
// so solutions fit when weights add exactly). It returns, for each bound
// in polishMaxChanges, the choice per group that maximizes the summed gain
// (when that gain is positive); cur holds each group's current choice.
func knapsack(groups, per int, cur []int, gain, delta []float64, slack, unit float64) []proposal {
	if unit <= 0 || slack < 0 {
		return nil
	}
	// Shift every group by its lightest item so weights are >= 0.
	minD := make([]float64, groups)
	freed := 0.0
	for g := range groups {
		minD[g] = 0
		for a := range per {
			minD[g] = min(minD[g], delta[g*per+a])
		}
		freed -= minD[g]
	}
	capacity := int(math.Floor((slack + freed) / unit))
	if capacity < 0 {
		return nil
	}
	capacity = min(capacity, 50*polishUnits) // a guard; real capacities are far below
	w := make([]int, groups*per)
	for i := range w {
		w[i] = int(math.Ceil((delta[i]-minD[i/per])/unit - 1e-9))
	}
	const K = 7 // change counts tracked exactly: 0..6; K collects "any"
	neg := math.Inf(-1)
	// dp[k][c]: best gain with exactly k changes (k == K: any number) and
	// total shifted weight c.
	dp := make([][]float64, K+1)
	for k := range dp {
		dp[k] = make([]float64, capacity+1)
		for c := range dp[k] {
			dp[k][c] = neg
		}
	}
	choice := make([][][]int8, groups)
	next := make([][]float64, K+1)
	for k := range next {
		next[k] = make([]float64, capacity+1)
	}
	dp[0][0] = 0
	dp[K][0] = 0
	for g := range groups {
		choice[g] = make([][]int8, K+1)
		for k := range next {
			choice[g][k] = make([]int8, capacity+1)
			for c := range next[k] {
				next[k][c] = neg
			}
		}
		for a := range per {
			i := g*per + a
			changed := 0
			if a != cur[g] {
				changed = 1
			}
			for k := 0; k <= K; k++ {
				from := k - changed
				if k == K {
					from = K
				}
				if from < 0 {
					continue
				}
				src, dst, ch := dp[from], next[k], choice[g][k]
				for c := w[i]; c <= capacity; c++ {
					if v := src[c-w[i]] + gain[i]; v > dst[c] {
						dst[c], ch[c] = v, int8(a)
					}
				}
			}
		}
		dp, next = next, dp
	}
	var out []proposal
	for _, bound := range polishMaxChanges {
		bestK, bestC, bestV := -1, -1, neg
		ks := []int{K}
		if bound > 0 {
			ks = ks[:0]
			for k := 1; k <= min(bound, K-1); k++ {
				ks = append(ks, k)
			}
		}
		for _, k := range ks {
			for c, v := range dp[k] {
				if v > bestV {
					bestK, bestC, bestV = k, c, v
				}
			}
		}
		if bestK < 0 || bestV <= 0 {
			continue
		}
		pick := make([]int, groups)
		k, c := bestK, bestC
		for g := groups - 1; g >= 0; g-- {
			a := int(choice[g][k][c])
			pick[g] = a
			c -= w[g*per+a]
			if k != K && a != cur[g] {
				k--
			}
		}
		out = append(out, proposal{bound, pick})
	}
	return out
}

// proposal is one knapsack solution: a choice per group, changing at most
// bound groups (0: any number).
type proposal struct {
	bound int
	pick  []int
}

func indexOf(choices []int, v int) int {
	for i, c := range choices {
		if c == v {
			return i
		}
	}
	return -1
}
