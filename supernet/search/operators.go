package search

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

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

// genFunc makes the j-th child of a batch from the child's own random
// stream.
type genFunc func(j int, rng *rand.Rand) supernet.Config

// worker holds one goroutine's scratch space and counts while it makes
// children; the counts join Stats afterwards.
type worker struct {
	cfg                   [1]supernet.Config
	est                   [1]predictor.Estimate
	checks, scored        int
	repaired              int
	repairChecks, growChk int
}

// meets checks c against the limits with the cheapest path the scorer
// offers. It only reads the searcher's state, so workers may call it
// concurrently.
func (s *searcher) meets(c supernet.Config, w *worker) bool {
	if s.latOnly != nil {
		// Cheaper than looking c up among the scored subnets.
		w.checks++
		w.est[0] = predictor.Estimate{LatencyMS: s.latOnly.LatencyMS(c)}
		return s.lim.Met(&w.est[0])
	}
	if c == s.anchor {
		return true
	}
	if _, ok, known := s.known(c); known {
		return ok
	}
	switch {
	case s.coster != nil:
		w.checks++
		w.cfg[0] = c
		s.coster.ScoreCosts(w.cfg[:], w.est[:])
	default:
		w.scored++
		w.cfg[0] = c
		s.scorer.Score(w.cfg[:], w.est[:])
	}
	return s.lim.Met(&w.est[0])
}

// repairOne steps c toward the anchor until it meets the limits.
func (s *searcher) repairOne(c supernet.Config, rng *rand.Rand, w *worker) supernet.Config {
	n := w.checks
	defer func() { w.repairChecks += w.checks - n }()
	if s.meets(c, w) {
		return c
	}
	w.repaired++
	for range maxRepairSteps {
		c = s.stepToward(c, s.anchor, rng)
		if s.meets(c, w) {
			return c
		}
	}
	return s.anchor
}

// growOne spends the slack c leaves under the limits: it tries random
// one-choice increases (stepUp) and keeps each one that still meets every
// limit, until GrowTries increases in a row have failed. Predicted
// accuracy almost always rises with capacity, so children that fill the
// budget are worth more of the scorer's time than children far below it.
func (s *searcher) growOne(c supernet.Config, rng *rand.Rand, w *worker) supernet.Config {
	tries := s.opt.GrowTries
	if tries < 0 || len(s.lim.Set()) == 0 {
		return c
	}
	n := w.checks
	defer func() { w.growChk += w.checks - n }()
	for fails := 0; fails < tries; {
		t, ok := s.stepUp(c, rng)
		if !ok {
			break
		}
		if s.meets(t, w) {
			c, fails = t, 0
		} else {
			fails++
		}
	}
	return c
}

// slotStream is the random stream of child j of a batch: children are
// made in parallel, each from its own stream, so the result does not
// depend on scheduling.
func (s *searcher) slotStream(phase, gen, round, j uint64) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(s.opt.Seed^0x5851f42d4c957f2d), splitmix(splitmix(splitmix(phase<<40^gen)^round)^j)))
}

// parallelFor runs body(w, i) for i in [0, n) on up to GOMAXPROCS
// goroutines, each with at least 8 items; w is the worker's index.
func parallelFor(n int, body func(w, i int)) int { return parallelForMin(n, 8, body) }

// parallelForMin is parallelFor with at least minPer items per goroutine.
func parallelForMin(n, minPer int, body func(w, i int)) int {
	workers := max(1, min(runtime.GOMAXPROCS(0), n/minPer))
	if workers == 1 {
		for i := range n {
			body(0, i)
		}
		return 1
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				body(w, i)
			}
		})
	}
	wg.Wait()
	return workers
}

// breed makes up to n subnets that meet the limits and were not scored
// before, scores them and returns their candidates. gen makes the j-th
// child; a child that repeats a scored subnet or a sibling is redrawn a
// few times, then dropped, so breed always ends. With screening it breeds
// Screen times as many and scores those the surrogate picks.
func (s *searcher) breed(n int, phase, g uint64, gen genFunc) ([]Candidate, error) {
	f := s.opt.Screen
	if phase == phasePareto || phase == phaseRandom {
		// The front needs subnets of every size: no growth toward the
		// limits, and no screening by accuracy alone. The random
		// baseline is uniform subnets, repaired only.
		kids, err := s.children(n, phase, g, gen, false)
		if err != nil {
			return nil, err
		}
		return s.score(kids), nil
	}
	if s.sur == nil || f <= 1 || s.sur.n < n {
		kids, err := s.children(n, phase, g, gen, true)
		if err != nil {
			return nil, err
		}
		return s.score(kids), nil
	}
	kids, err := s.children(n*f, phase, g, func(j int, rng *rand.Rand) supernet.Config { return gen(j%n, rng) }, true)
	if err != nil {
		return nil, err
	}
	explore := int(float64(n) * screenExplore)
	return s.score(s.sur.screen(kids, n, explore, s.stream(phase, g).IntN)), nil
}

// children makes up to n repaired, grown, distinct subnets never scored,
// in parallel. grow is false for the Pareto phase.
func (s *searcher) children(n int, phase, g uint64, gen genFunc, grow bool) ([]supernet.Config, error) {
	const redraws = 8
	var kids []supernet.Config
	inBatch := newConfigTable(n)
	slots := make([]int, n)
	for j := range slots {
		slots[j] = j
	}
	workers := make([]worker, runtime.GOMAXPROCS(0)) // heap: the scorers see their buffers
	for round := 0; round < 3 && len(slots) > 0; round++ {
		out := make([]supernet.Config, len(slots))
		made := make([]bool, len(slots))
		parallelFor(len(slots), func(wi, k int) {
			if s.ctx.Err() != nil {
				return
			}
			j := slots[k]
			rng := s.slotStream(phase, g, uint64(round), uint64(j))
			w := &workers[wi]
			for range redraws {
				c := gen(j, rng)
				if _, _, known := s.known(c); !known {
					c = s.repairOne(c, rng, w)
					if grow {
						c = s.growOne(c, rng, w)
					}
					out[k], made[k] = c, true
					return
				}
			}
		})
		if err := s.cancelled(); err != nil {
			return nil, err
		}
		var retry []int
		for k, c := range out {
			if !made[k] {
				continue
			}
			_, dup := inBatch.get(&c)
			if _, _, known := s.known(c); known || dup {
				retry = append(retry, slots[k]) // repair or growth made it a repeat: redraw
				continue
			}
			inBatch.put(&c, 0)
			kids = append(kids, c)
		}
		slots = retry
	}
	for i := range workers {
		w := &workers[i]
		s.stats.CostChecks += w.checks
		s.stats.Scored += w.scored
		s.stats.Repaired += w.repaired
		s.stats.repairChecks += w.repairChecks
		s.stats.growChecks += w.growChk
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
