package search

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/edgefit/edgefit/supernet"
)

// archive keeps the indices (into searcher.all) of the scored subnets
// that no other scored subnet dominates: at least as accurate, at most as
// slow (and, with memory, at most as large), and better in one of them.
type archive struct {
	s      *searcher
	memory bool
	idx    []int
}

// obj returns the objectives to minimize.
func (a *archive) obj(c *Candidate) [3]float64 {
	o := [3]float64{-c.Accuracy, c.LatencyMS, 0}
	if a.memory {
		o[2] = float64(c.PeakMemory)
	}
	return o
}

// dominates reports whether x is no worse than y everywhere and better
// somewhere; weakly reports whether x is no worse everywhere.
func dominates(x, y [3]float64) (strict, weakly bool) {
	weakly = x[0] <= y[0] && x[1] <= y[1] && x[2] <= y[2]
	return weakly && x != y, weakly
}

func (a *archive) add(i int) {
	x := a.obj(&a.s.all[i])
	for _, j := range a.idx {
		if _, w := dominates(a.obj(&a.s.all[j]), x); w {
			return // a kept subnet is at least as good (ties keep the first)
		}
	}
	a.idx = slices.DeleteFunc(a.idx, func(j int) bool {
		d, _ := dominates(x, a.obj(&a.s.all[j]))
		return d
	})
	a.idx = append(a.idx, i)
}

// front returns the archive by increasing latency (then memory).
func (a *archive) front() []Candidate {
	out := make([]Candidate, len(a.idx))
	for k, i := range a.idx {
		out[k] = a.s.all[i]
	}
	slices.SortFunc(out, func(x, y Candidate) int {
		if c := cmp.Compare(x.LatencyMS, y.LatencyMS); c != 0 {
			return c
		}
		if c := cmp.Compare(x.PeakMemory, y.PeakMemory); c != 0 {
			return c
		}
		return better(&x, &y)
	})
	return out
}

func (a *archive) names() []string {
	if a.memory {
		return []string{"accuracy", "latency", "memory"}
	}
	return []string{"accuracy", "latency"}
}

// area is the hypervolume of the archive's accuracy-latency projection
// (plus the accuracy-memory one with memory), each axis scaled by ref:
// it grows whenever the front improves, which is what patience watches.
func (a *archive) area(latRef, memRef float64) float64 {
	v := staircase(a, latRef, func(c *Candidate) float64 { return c.LatencyMS })
	if a.memory {
		v += staircase(a, memRef, func(c *Candidate) float64 { return float64(c.PeakMemory) })
	}
	return v
}

func staircase(a *archive, ref float64, x func(*Candidate) float64) float64 {
	type pt struct{ x, acc float64 }
	pts := make([]pt, 0, len(a.idx))
	for _, i := range a.idx {
		pts = append(pts, pt{x(&a.s.all[i]), a.s.all[i].Accuracy})
	}
	slices.SortFunc(pts, func(p, q pt) int {
		if c := cmp.Compare(p.x, q.x); c != 0 {
			return c
		}
		return cmp.Compare(q.acc, p.acc)
	})
	area, best := 0.0, math.Inf(-1)
	for k, p := range pts {
		if p.acc <= best || p.x >= ref {
			continue
		}
		best = p.acc
		next := ref
		for _, q := range pts[k+1:] {
			if q.acc > best {
				next = min(q.x, ref)
				break
			}
		}
		area += (next - p.x) / ref * p.acc
	}
	return area
}

// nsga runs an NSGA-II style evolution (non-dominated sorting with
// crowding distance, binary tournaments, OFA's mutation and crossover)
// whose every scored subnet feeds the archive. It starts from a spread of
// the archive that the accuracy search left, plus random subnets.
func (s *searcher) nsga() error {
	o := s.opt
	P := o.Population
	nMut := int(math.Round(float64(P) * o.MutationRatio))
	latRef, memRef := s.references()
	var pop []Candidate
	front := s.archive.front()
	step := max(1, (len(front)+P/2-1)/max(1, P/2))
	for k := 0; k < len(front) && len(pop) < P/2; k += step {
		pop = append(pop, front[k])
	}
	kids, err := s.breed(P-len(pop), phasePareto, 0, func(_ int, rng *rand.Rand) supernet.Config { return s.random(rng) })
	if err != nil {
		return err
	}
	pop = append(pop, kids...)
	stop := patience{best: s.archive.area(latRef, memRef), limit: o.Patience, tol: paretoTolerance}
	for g := 1; g <= o.Generations; g++ {
		if err := s.cancelled(); err != nil {
			return err
		}
		rank, crowd := s.archive.rankCrowd(pop)
		tour := func(rng *rand.Rand) supernet.Config {
			i, j := rng.IntN(len(pop)), rng.IntN(len(pop))
			if rank[j] < rank[i] || rank[j] == rank[i] && crowd[j] > crowd[i] {
				i = j
			}
			return pop[i].Config
		}
		kids, err := s.breed(P, phasePareto, uint64(g), func(j int, rng *rand.Rand) supernet.Config {
			if j < nMut {
				return s.mutate(tour(rng), rng)
			}
			a := tour(rng)
			return s.crossover(a, tour(rng), rng)
		})
		if err != nil {
			return err
		}
		pop = s.archive.selectBest(append(pop, kids...), P)
		s.progress()
		if stop.update(s.archive.area(latRef, memRef)) {
			s.stats.Converged = true
			break
		}
	}
	return nil
}

// paretoTolerance is the growth of the front's area (a mean accuracy over
// the latency range) that resets patience: a front that gains less than
// this in Patience generations has converged for any plot.
const paretoTolerance = 2e-4

// references returns the axis scales of the stopping rule: the latency
// and memory limits, or else the largest subnet's.
func (s *searcher) references() (lat, mem float64) {
	lat, okL := s.lim.Get(Latency)
	mem, okM := s.lim.Get(Memory)
	if !okL || !okM {
		e, fresh := s.largest()
		// Counted as the limit checks are: a check on the cheap path
		// (estimated here, not for relative limits before the search),
		// or, through a plain Scorer, a prediction.
		switch {
		case s.coster == nil:
			s.stats.Scored++
		case fresh:
			s.stats.CostChecks++
		}
		if !okL {
			lat = e.LatencyMS
		}
		if !okM {
			mem = float64(e.PeakMemory)
		}
	}
	return max(lat, 1e-9), max(mem, 1)
}

// rankCrowd returns each candidate's non-domination rank (0 = not
// dominated within pop) and its crowding distance within its rank.
func (a *archive) rankCrowd(pop []Candidate) (rank []int, crowd []float64) {
	n := len(pop)
	obj := make([][3]float64, n)
	for i := range pop {
		obj[i] = a.obj(&pop[i])
	}
	dominatedBy := make([]int, n) // how many dominate i
	dominates_ := make([][]int, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if d, _ := dominates(obj[i], obj[j]); d {
				dominates_[i] = append(dominates_[i], j)
				dominatedBy[j]++
			} else if d, _ := dominates(obj[j], obj[i]); d {
				dominates_[j] = append(dominates_[j], i)
				dominatedBy[i]++
			}
		}
	}
	rank = make([]int, n)
	crowd = make([]float64, n)
	var cur []int
	for i := range n {
		if dominatedBy[i] == 0 {
			cur = append(cur, i)
		}
	}
	nobj := 2
	if a.memory {
		nobj = 3
	}
	for r := 0; len(cur) > 0; r++ {
		var next []int
		for _, i := range cur {
			rank[i] = r
			for _, j := range dominates_[i] {
				if dominatedBy[j]--; dominatedBy[j] == 0 {
					next = append(next, j)
				}
			}
		}
		for m := range nobj {
			f := slices.Clone(cur)
			slices.SortStableFunc(f, func(x, y int) int { return cmp.Compare(obj[x][m], obj[y][m]) })
			lo, hi := obj[f[0]][m], obj[f[len(f)-1]][m]
			crowd[f[0]], crowd[f[len(f)-1]] = math.Inf(1), math.Inf(1)
			if hi > lo {
				for k := 1; k < len(f)-1; k++ {
					crowd[f[k]] += (obj[f[k+1]][m] - obj[f[k-1]][m]) / (hi - lo)
				}
			}
		}
		slices.Sort(next)
		cur = next
	}
	return rank, crowd
}

// selectBest keeps the n best of pop by rank, then crowding distance
// (NSGA-II's environmental selection), in a deterministic order.
func (a *archive) selectBest(pop []Candidate, n int) []Candidate {
	if len(pop) <= n {
		return pop
	}
	rank, crowd := a.rankCrowd(pop)
	idx := make([]int, len(pop))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		if c := cmp.Compare(rank[i], rank[j]); c != 0 {
			return c
		}
		return cmp.Compare(crowd[j], crowd[i])
	})
	out := make([]Candidate, n)
	for k := range out {
		out[k] = pop[idx[k]]
	}
	return out
}
