package search

import (
	"math/rand/v2"
	"slices"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

func pick(rng *rand.Rand, choices []int) int { return choices[rng.IntN(len(choices))] }

// random draws a subnet the way OFA's sample_active_subnet does, with a
// resolution from the searched list.
func (s *searcher) random(rng *rand.Rand) supernet.Config { return s.space.RandomConfig(rng) }

// mutate is OFA's mutation: each block redraws its kernel and expand
// ratio together with probability MutateProb, each stage its depth with
// the same probability, and the resolution with ResolutionMutateProb.
func (s *searcher) mutate(c supernet.Config, rng *rand.Rand) supernet.Config {
	sp, p := s.space, s.opt.MutateProb
	for i := range supernet.NumBlocks {
		if rng.Float64() < p {
			c.KS[i] = pick(rng, sp.KernelSizes)
			c.E[i] = pick(rng, sp.Expands)
		}
	}
	for i := range supernet.NumStages {
		if rng.Float64() < p {
			c.D[i] = pick(rng, sp.Depths)
		}
	}
	if rng.Float64() < s.opt.ResolutionMutateProb {
		c.R = pick(rng, sp.Resolutions)
	}
	return c.Canonical(sp)
}

// crossover is OFA's crossover: every element, the resolution included,
// comes from one of the two parents, chosen uniformly.
func (s *searcher) crossover(a, b supernet.Config, rng *rand.Rand) supernet.Config {
	c := a
	for i := range supernet.NumBlocks {
		if rng.IntN(2) == 1 {
			c.KS[i] = b.KS[i]
		}
		if rng.IntN(2) == 1 {
			c.E[i] = b.E[i]
		}
	}
	for i := range supernet.NumStages {
		if rng.IntN(2) == 1 {
			c.D[i] = b.D[i]
		}
	}
	if rng.IntN(2) == 1 {
		c.R = b.R
	}
	return c.Canonical(s.space)
}

// stepToward moves one element of c, drawn uniformly among those that
// differ from to, one choice closer to to's value. Deactivated blocks are
// canonical, and deactivation only happens to blocks inactive in to, so
// repeated steps reach to after a bounded number of moves.
func (s *searcher) stepToward(c, to supernet.Config, rng *rand.Rand) supernet.Config {
	type coord struct{ kind, i int }
	var diff [2*supernet.NumBlocks + supernet.NumStages + 1]coord
	n := 0
	for i := range supernet.NumStages {
		if c.D[i] != to.D[i] {
			diff[n] = coord{0, i}
			n++
		}
	}
	for i := range supernet.NumBlocks {
		if !c.Active(i) {
			continue
		}
		if c.KS[i] != to.KS[i] {
			diff[n] = coord{1, i}
			n++
		}
		if c.E[i] != to.E[i] {
			diff[n] = coord{2, i}
			n++
		}
	}
	if c.R != to.R {
		diff[n] = coord{3, 0}
		n++
	}
	if n == 0 {
		return to
	}
	sp := s.space
	d := diff[rng.IntN(n)]
	switch d.kind {
	case 0:
		c.D[d.i] = stepIn(sp.Depths, c.D[d.i], to.D[d.i])
	case 1:
		c.KS[d.i] = stepIn(sp.KernelSizes, c.KS[d.i], to.KS[d.i])
	case 2:
		c.E[d.i] = stepIn(sp.Expands, c.E[d.i], to.E[d.i])
	case 3:
		c.R = stepIn(sp.Resolutions, c.R, to.R)
	}
	return c.Canonical(sp)
}

// stepIn returns the choice next to v in the direction of to.
func stepIn(choices []int, v, to int) int {
	i, ok := slices.BinarySearch(choices, v)
	j, ok2 := slices.BinarySearch(choices, to)
	if !ok || !ok2 {
		return to
	}
	switch {
	case j > i:
		return choices[i+1]
	case j < i:
		return choices[i-1]
	}
	return v
}

// maxRepairSteps bounds a repair; it exceeds the longest walk from any
// subnet to the anchor, so the bound only guards against a broken space.
const maxRepairSteps = 400

// repair makes every config in cfgs meet the limits, stepping each one
// that misses a limit toward the anchor until it meets them. Steps run in
// rounds, one step per pending config, so each round is one batch for the
// cost scorer.
func (s *searcher) repair(cfgs []supernet.Config, rng *rand.Rand) error {
	pending := make([]int, 0, len(cfgs))
	for i, c := range cfgs {
		if _, meets, ok := s.known(c); !ok || !meets {
			pending = append(pending, i)
		}
	}
	pending = s.missing(cfgs, pending)
	if len(pending) > 0 {
		s.stats.Repaired += len(pending)
	}
	for round := 0; len(pending) > 0; round++ {
		if err := s.cancelled(); err != nil {
			return err
		}
		for _, i := range pending {
			if round >= maxRepairSteps {
				cfgs[i] = s.anchor
			} else {
				cfgs[i] = s.stepToward(cfgs[i], s.anchor, rng)
			}
		}
		pending = s.missing(cfgs, pending)
	}
	return nil
}

// missing returns the indices in idx of configs that miss a limit.
func (s *searcher) missing(cfgs []supernet.Config, idx []int) []int {
	batch, where := s.batchBuf[:0], s.whereBuf[:0]
	out := idx[:0]
	for _, i := range idx {
		c := cfgs[i]
		if c == s.anchor {
			continue
		}
		if _, meets, ok := s.known(c); ok {
			if !meets {
				out = append(out, i)
			}
			continue
		}
		batch = append(batch, c)
		where = append(where, i)
	}
	est := slices.Grow(s.estBuf[:0], len(batch))[:len(batch)]
	s.batchBuf, s.whereBuf, s.estBuf = batch, where, est
	s.stats.repairChecks += len(batch)
	s.costs(batch, est)
	for k := range batch {
		if !s.lim.Met(&est[k]) {
			out = append(out, where[k])
		}
	}
	slices.Sort(out)
	return out
}

// breed makes up to n subnets that meet the limits and were not scored
// before, scores them and returns their candidates. gen(j) makes the j-th
// child; a child that repeats a scored subnet or a sibling is redrawn a
// few times, then dropped, so breed always ends.
func (s *searcher) breed(n int, rng *rand.Rand, gen func(j int) supernet.Config) ([]Candidate, error) {
	f := s.opt.Screen
	if s.sur == nil || f <= 1 || s.sur.n < n {
		kids, err := s.children(n, rng, gen, true)
		if err != nil {
			return nil, err
		}
		return s.score(kids), nil
	}
	kids, err := s.children(n*f, rng, func(j int) supernet.Config { return gen(j % n) }, true)
	if err != nil {
		return nil, err
	}
	explore := int(float64(n) * screenExplore)
	return s.score(s.sur.screen(kids, n, explore, rng.IntN)), nil
}

// children makes up to n repaired, grown, distinct subnets never scored.
func (s *searcher) children(n int, rng *rand.Rand, gen func(j int) supernet.Config, grow bool) ([]supernet.Config, error) {
	// (grow is false only in tests of the raw operators.)
	const redraws = 8
	var kids []supernet.Config
	inBatch := make(map[supernet.Config]bool, n)
	fresh := func(c supernet.Config) bool {
		if inBatch[c] {
			return false
		}
		_, ok := s.seen[c]
		return !ok
	}
	slots := make([]int, n)
	for j := range slots {
		slots[j] = j
	}
	for round := 0; round < 3 && len(slots) > 0; round++ {
		cand := make([]supernet.Config, 0, len(slots))
		candSlot := make([]int, 0, len(slots))
		drawn := map[supernet.Config]bool{}
		for _, j := range slots {
			for try := 0; try < redraws; try++ {
				c := gen(j)
				if fresh(c) && !drawn[c] {
					drawn[c] = true
					cand = append(cand, c)
					candSlot = append(candSlot, j)
					break
				}
			}
		}
		if err := s.repair(cand, rng); err != nil {
			return nil, err
		}
		if grow {
			if err := s.grow(cand, rng); err != nil {
				return nil, err
			}
		}
		slots = slots[:0]
		for k, c := range cand {
			if fresh(c) {
				inBatch[c] = true
				kids = append(kids, c)
			} else {
				slots = append(slots, candSlot[k]) // repair made it a repeat: redraw
			}
		}
	}
	return kids, nil
}

// stepUp moves one element of c, drawn uniformly among those below their
// largest choice (a stage depth, an active block's kernel or expand
// ratio, the resolution), one choice up. It reports false when c is the
// largest subnet.
func (s *searcher) stepUp(c supernet.Config, rng *rand.Rand) (supernet.Config, bool) {
	sp := s.space
	type coord struct{ kind, i int }
	var up [2*supernet.NumBlocks + supernet.NumStages + 1]coord
	n := 0
	for i := range supernet.NumStages {
		if c.D[i] < sp.Depths[len(sp.Depths)-1] {
			up[n] = coord{0, i}
			n++
		}
	}
	for i := range supernet.NumBlocks {
		if !c.Active(i) {
			continue
		}
		if c.KS[i] < sp.KernelSizes[len(sp.KernelSizes)-1] {
			up[n] = coord{1, i}
			n++
		}
		if c.E[i] < sp.Expands[len(sp.Expands)-1] {
			up[n] = coord{2, i}
			n++
		}
	}
	if c.R < sp.Resolutions[len(sp.Resolutions)-1] {
		up[n] = coord{3, 0}
		n++
	}
	if n == 0 {
		return c, false
	}
	d := up[rng.IntN(n)]
	switch d.kind {
	case 0:
		c.D[d.i] = stepIn(sp.Depths, c.D[d.i], sp.Depths[len(sp.Depths)-1])
	case 1:
		c.KS[d.i] = stepIn(sp.KernelSizes, c.KS[d.i], sp.KernelSizes[len(sp.KernelSizes)-1])
	case 2:
		c.E[d.i] = stepIn(sp.Expands, c.E[d.i], sp.Expands[len(sp.Expands)-1])
	case 3:
		c.R = stepIn(sp.Resolutions, c.R, sp.Resolutions[len(sp.Resolutions)-1])
	}
	return c, true
}

// grow spends the slack a subnet leaves under the limits: it tries random
// one-choice increases (stepUp) and keeps each one that still meets every
// limit, until GrowTries increases in a row have failed. Predicted
// accuracy almost always rises with capacity, so children that fill the
// budget are worth more of the scorer's time than children far below it.
func (s *searcher) grow(cfgs []supernet.Config, rng *rand.Rand) error {
	tries := s.opt.GrowTries
	if tries < 0 || len(s.lim.Set()) == 0 {
		return nil
	}
	fails := make([]int, len(cfgs))
	active := make([]int, len(cfgs))
	for i := range active {
		active[i] = i
	}
	trial := make([]supernet.Config, 0, len(cfgs))
	who := make([]int, 0, len(cfgs))
	var est []predictor.Estimate
	for len(active) > 0 {
		if err := s.cancelled(); err != nil {
			return err
		}
		trial, who = trial[:0], who[:0]
		for _, i := range active {
			if c, ok := s.stepUp(cfgs[i], rng); ok {
				trial = append(trial, c)
				who = append(who, i)
			}
		}
		est = slices.Grow(est[:0], len(trial))[:len(trial)]
		s.stats.growChecks += len(trial)
		s.costs(trial, est)
		active = active[:0]
		for k, i := range who {
			if s.lim.Met(&est[k]) {
				cfgs[i] = trial[k]
				fails[i] = 0
			} else {
				fails[i]++
			}
			if fails[i] < tries {
				active = append(active, i)
			}
		}
	}
	return nil
}
