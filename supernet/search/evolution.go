package search

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/edgefit/edgefit/supernet"
)

// Random-stream phases, so that each part of a run draws its own numbers.
const (
	phaseEvolution = 1
	phaseRandom    = 2
	phasePareto    = 3
)

// improvement is the smallest gain in accuracy that counts as one.
const improvement = 1e-6

// evolutionTolerance is the gain in best accuracy (0.01 percentage
// points) that resets the evolution's patience: smaller gains are noise
// next to any predictor's error.
var evolutionTolerance = 1e-4

// patience tracks early stopping on a score that should grow.
type patience struct {
	best  float64
	stale int
	limit int     // negative: never stop early
	tol   float64 // the gain that counts; 0 means improvement
}

// update records this generation's score and reports whether to stop.
func (p *patience) update(v float64) bool {
	tol := p.tol
	if tol == 0 {
		tol = improvement
	}
	if v > p.best+tol {
		p.best, p.stale = v, 0
		return false
	}
	p.stale++
	return p.limit >= 0 && p.stale >= p.limit
}

// evolve is OFA's regularized evolution (see the package doc).
func (s *searcher) evolve() error {
	o := s.opt
	nPar := max(1, int(math.Round(float64(o.Population)*o.ParentRatio)))
	nMut := int(math.Round(float64(o.Population) * o.MutationRatio))
	pop, err := s.breed(o.Population, phaseEvolution, 0, func(_ int, rng *rand.Rand) supernet.Config { return s.random(rng) })
	if err != nil {
		return err
	}
	// The anchor meets every limit, so the population is empty only when
	// the prediction cap is spent.
	pop = append(pop, s.score([]supernet.Config{s.anchor})...)
	stop := patience{best: s.bestAccuracy(), limit: o.Patience, tol: evolutionTolerance}
	for g := 1; g <= o.Generations; g++ {
		if err := s.cancelled(); err != nil {
			return err
		}
		if len(pop) == 0 {
			// Nothing to breed from: the prediction cap was spent on
			// limit checks (a Scorer without ScoreCosts) before even the
			// anchor was scored.
			break
		}
		slices.SortFunc(pop, func(a, b Candidate) int { return better(&a, &b) })
		parents := s.selectParents(pop, nPar)
		kids, err := s.breed(o.Population, phaseEvolution, uint64(g), func(j int, rng *rand.Rand) supernet.Config {
			if j < nMut {
				return s.mutate(parents[rng.IntN(len(parents))].Config, rng)
			}
			a, b := parents[rng.IntN(len(parents))].Config, parents[rng.IntN(len(parents))].Config
			return s.crossover(a, b, rng)
		})
		if err != nil {
			return err
		}
		pop = append(parents, kids...)
		s.opt.Logger.Debug("search generation", "gen", g, "best", s.bestAccuracy(), "scored", s.stats.Scored, "kids", len(kids))
		if s.generationDone(&stop) {
			break
		}
	}
	return s.polishBest()
}

// selectParents keeps the n best of pop (sorted best first), except that
// the best subnet of each resolution present is kept too, within n: a
// resolution change needs generations of tuning before its subnets can
// compete, and without a foothold it would never get them.
func (s *searcher) selectParents(pop []Candidate, n int) []Candidate {
	var parents []Candidate
	seenR := map[int]bool{}
	taken := make([]bool, len(pop))
	for i := range pop {
		if !seenR[pop[i].Config.R] {
			seenR[pop[i].Config.R] = true
			taken[i] = true
		}
	}
	room := n
	for i := range pop {
		if taken[i] {
			room--
		}
	}
	for i := range pop {
		if taken[i] || room > 0 {
			if !taken[i] {
				room--
			}
			parents = append(parents, pop[i])
		}
	}
	return parents
}

// polishBest runs polish from the best subnet found.
func (s *searcher) polishBest() error {
	if s.opt.PolishOff || len(s.all) == 0 {
		return nil
	}
	_, err := s.polish(s.top(1)[0])
	return err
}

// randomSearch scores Population uniform subnets (repaired to meet the
// limits) per generation.
func (s *searcher) randomSearch() error {
	o := s.opt
	s.score([]supernet.Config{s.anchor})
	stop := patience{best: s.bestAccuracy(), limit: o.Patience}
	for g := 1; g <= o.Generations; g++ {
		if err := s.cancelled(); err != nil {
			return err
		}
		if _, err := s.breed(o.Population, phaseRandom, uint64(g), func(_ int, rng *rand.Rand) supernet.Config { return s.random(rng) }); err != nil {
			return err
		}
		if s.generationDone(&stop) {
			break
		}
	}
	return nil
}

// generationDone ends a generation of the accuracy search: it reports
// progress and whether to stop, at the prediction cap or when the best
// accuracy has run out of patience (the search converged).
func (s *searcher) generationDone(stop *patience) bool {
	s.progress()
	if s.predictionsLeft() == 0 {
		return true
	}
	if stop.update(s.bestAccuracy()) {
		s.stats.Converged = true
		return true
	}
	return false
}
