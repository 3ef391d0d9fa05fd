package search

import (
	"math/rand/v2"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// phaseRL is the random-stream phase of the rl controller.
const phaseRL = 4

// Decision types of the OFA sequence.
const (
	decResolution = iota
	decDepth
	decKernel
	decExpand
)

// ofaDecisions is the sequence the rl controller emits for a subnet: the
// resolution, each stage's depth, then each active block's kernel size
// and expand ratio, in block order. Inactive blocks are not emitted, so
// the sequence has 6 + 2·Σd decisions.
type ofaDecisions struct{ space *supernet.Space }

func (d ofaDecisions) choices() []int {
	sp := d.space
	return []int{len(sp.Resolutions), len(sp.Depths), len(sp.KernelSizes), len(sp.Expands)}
}

// slots: the resolution, the five depths, then each block's kernel and
// expand ratio (slot 6 + 2i + {0, 1} for block i).
func (d ofaDecisions) slots() int { return 1 + supernet.NumStages + 2*supernet.NumBlocks }

func (d ofaDecisions) next(t int, prev []int) (typ, slot int) {
	switch {
	case t == 0:
		return decResolution, 0
	case t <= supernet.NumStages:
		return decDepth, t
	}
	// The k-th block decision belongs to the (k/2)-th active block.
	k := t - 1 - supernet.NumStages
	n := k / 2
	for st := range supernet.NumStages {
		depth := d.space.Depths[prev[1+st]]
		if n < depth {
			block := st*supernet.MaxDepth + n
			return decKernel + k%2, 1 + supernet.NumStages + 2*block + k%2
		}
		n -= depth
	}
	return -1, 0
}

// config decodes a complete sequence of choices.
func (d ofaDecisions) config(actions []int) supernet.Config {
	sp := d.space
	var c supernet.Config
	c.R = sp.Resolutions[actions[0]]
	for st := range supernet.NumStages {
		c.D[st] = sp.Depths[actions[1+st]]
	}
	k := 1 + supernet.NumStages
	for i := range supernet.NumBlocks {
		if c.Active(i) {
			c.KS[i], c.E[i] = sp.KernelSizes[actions[k]], sp.Expands[actions[k+1]]
			k += 2
		}
	}
	return c.Canonical(sp)
}

// reinforce trains the controller with REINFORCE (see the package doc).
// A generation is Population samples, drawn in updates of RL.Batch.
func (s *searcher) reinforce() error {
	o := s.opt
	seq := ofaDecisions{s.space}
	tr := newTrainer(seq, o.RL, s.stream(phaseRL, 0))
	// Misses are penalized from the baseline down; before there is one,
	// from the accuracy of the anchor (a subnet that meets the limits).
	floor := 0.0
	if a := s.score([]supernet.Config{s.anchor}); len(a) > 0 {
		floor = a[0].Accuracy
	}
	stop := patience{best: s.bestAccuracy(), limit: o.Patience, tol: evolutionTolerance}
	update := uint64(0)
	for g := 1; g <= o.Generations; g++ {
		if err := s.cancelled(); err != nil {
			return err
		}
		for left := o.Population; left > 0 && s.predictionsLeft() > 0; {
			n := min(o.RL.Batch, left)
			left -= n
			u := update
			eps := tr.sample(n, func(j int) *rand.Rand { return s.slotStream(phaseRL, u, 0, uint64(j)) })
			update++
			s.stats.Samples += n
			cfgs := make([]supernet.Config, n)
			for j, e := range eps {
				cfgs[j] = seq.config(e.actions)
			}
			if tr.started {
				floor = tr.baseline
			}
			rewards, ok := s.rewards(cfgs, floor)
			if !ok {
				break // the prediction cap left some samples unscored
			}
			tr.update(eps, rewards)
		}
		s.opt.Logger.Debug("rl generation", "gen", g, "best", s.bestAccuracy(), "scored", s.stats.Scored,
			"samples", s.stats.Samples, "baseline", tr.baseline, "entropy", tr.meanEntropy())
		if s.generationDone(&stop) {
			break
		}
	}
	return nil
}

// rewards scores the sampled subnets: the predicted accuracy of those
// that meet every limit, and floor − λ·(summed relative excess) for the
// others, with floor the baseline, so that a miss is never worth more
// than an average sample, and less the further it misses. Limits are
// checked on the cheap path first, so subnets that miss them cost no
// accuracy prediction. It reports false when the prediction cap left a
// subnet that meets the limits unscored.
func (s *searcher) rewards(cfgs []supernet.Config, floor float64) ([]float64, bool) {
	lambda := s.opt.RL.Penalty
	penalty := func(e *predictor.Estimate) float64 { return floor - lambda*s.lim.violation(e, -1) }
	out := make([]float64, len(cfgs))
	var unknown []int
	for j, c := range cfgs {
		if e, meets, known := s.known(c); known {
			if meets {
				out[j] = e.Accuracy
			} else {
				out[j] = penalty(&e)
			}
			continue
		}
		unknown = append(unknown, j)
	}
	// A subnet drawn more than once in the batch is checked once on the
	// cheap path. Through a plain Scorer every check is a prediction that
	// counts toward the cap, one per draw as before.
	dedupe := s.coster != nil || s.latOnly != nil
	at := make([]int, len(unknown)) // index in check of each unknown draw
	var check []supernet.Config
	var pending *configTable
	if dedupe {
		pending = newConfigTable(len(unknown))
	}
	for k, j := range unknown {
		c := &cfgs[j]
		if dedupe {
			if i, dup := pending.get(c); dup {
				at[k] = i
				continue
			}
			pending.put(c, len(check))
		}
		at[k] = len(check)
		check = append(check, *c)
	}
	est := make([]predictor.Estimate, len(check))
	s.costs(check, est)
	var feasible []supernet.Config
	var feasibleIdx []int
	for k, j := range unknown {
		if e := &est[at[k]]; s.lim.Met(e) {
			feasible = append(feasible, cfgs[j])
			feasibleIdx = append(feasibleIdx, j)
		} else {
			out[j] = penalty(e)
		}
	}
	s.scoreAll(feasible)
	for _, j := range feasibleIdx {
		e, meets, known := s.known(cfgs[j])
		switch {
		case !known:
			return nil, false
		case meets:
			out[j] = e.Accuracy
		default:
			out[j] = penalty(&e)
		}
	}
	return out, true
}
