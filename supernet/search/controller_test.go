package search

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// fixedDecisions is a toy sequence: decision t has type types[t].
type fixedDecisions struct {
	nChoice, types []int
}

func (d fixedDecisions) choices() []int { return d.nChoice }
func (d fixedDecisions) slots() int     { return len(d.types) }

func (d fixedDecisions) next(t int, _ []int) (int, int) {
	if t >= len(d.types) {
		return -1, 0
	}
	return d.types[t], t
}

// branchDecisions makes the sequence's length depend on the first choice,
// as the OFA sequence's depends on the depths: choice a of the first
// decision (type 0) is followed by a+1 decisions of types 1, 2, 1, ...
type branchDecisions struct{}

func (branchDecisions) choices() []int { return []int{3, 2, 4} }
func (branchDecisions) slots() int     { return 4 }

func (branchDecisions) next(t int, prev []int) (int, int) {
	switch {
	case t == 0:
		return 0, 0
	case t > prev[0]+1:
		return -1, 0
	}
	return 1 + (t-1)%2, t
}

// lossOf evaluates the trainer's loss on forced sequences from scratch:
// -scale Σ (adv·log π + beta·H).
func lossOf(p *policy, seq decisions, forced [][]int, adv []float64, beta, scale float64) float64 {
	p.prepare()
	loss := 0.0
	var e episode
	for j, f := range forced {
		p.run(seq, nil, f, &e)
		loss -= scale * (adv[j]*e.logProb + beta*e.entropy)
	}
	return loss
}

// TestPolicyGradient checks the hand-written backward pass of the
// controller against central finite differences of its loss, tensor by
// tensor, on tiny controllers whose sequences have fixed and
// choice-dependent lengths.
func TestPolicyGradient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seq    decisions
		hidden int
	}{
		{"fixed", fixedDecisions{nChoice: []int{2, 3}, types: []int{0, 1, 1}}, 3},
		{"branching", branchDecisions{}, 3},
		{"wider", fixedDecisions{nChoice: []int{4, 3, 2}, types: []int{0, 1, 2, 1, 0}}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			p := newPolicy(tc.seq.choices(), tc.seq.slots(), tc.hidden, rng)
			// Larger weights than the initialization, so that every
			// nonlinearity works away from its linear regime.
			for i := range p.theta {
				p.theta[i] = 2*rng.Float64() - 1
			}
			// Three sampled sequences, replayed as forced choices.
			p.prepare()
			var forced [][]int
			for range 3 {
				var e episode
				p.run(tc.seq, rng, nil, &e)
				forced = append(forced, slices.Clone(e.actions))
			}
			adv := []float64{1.3, -0.7, 0.4}
			const beta, scale = 0.3, 1.0 / 3
			grad := make([]float64, len(p.theta))
			dIn := make([]float64, p.inputRows()*4*p.hidden)
			var w backWork
			var e episode
			for j, f := range forced {
				p.run(tc.seq, nil, f, &e)
				p.backward(&e, adv[j], beta, scale, grad, dIn, &w)
			}
			p.inputBackward(dIn, grad)
			p.prepare()

			const h = 1e-6
			for _, v := range p.names {
				var num, ana []float64
				for i := v.off; i < v.off+v.len; i++ {
					old := p.theta[i]
					p.theta[i] = old + h
					up := lossOf(p, tc.seq, forced, adv, beta, scale)
					p.theta[i] = old - h
					down := lossOf(p, tc.seq, forced, adv, beta, scale)
					p.theta[i] = old
					num = append(num, (up-down)/(2*h))
					ana = append(ana, grad[i])
				}
				diff, norm := 0.0, 0.0
				for i := range num {
					diff += (num[i] - ana[i]) * (num[i] - ana[i])
					norm += ana[i] * ana[i]
				}
				rel := math.Sqrt(diff) / math.Sqrt(norm)
				t.Logf("%-10s %4d values, |grad| %.3g, relative error %.2g", v.name, v.len, math.Sqrt(norm), rel)
				if norm == 0 {
					// Heads of types the sequences never use get no
					// gradient; every other tensor must.
					if !slices.ContainsFunc(forced, func(f []int) bool { return usesHead(tc.seq, f, v.name) }) {
						continue
					}
					t.Errorf("%s: zero gradient", v.name)
				}
				if !(rel < 1e-6) {
					t.Errorf("%s: relative error %.3g between the backward pass and finite differences", v.name, rel)
				}
				for i := range num {
					if math.Abs(num[i]-ana[i]) > 1e-5*math.Max(math.Abs(num[i]), math.Abs(ana[i]))+1e-9 {
						t.Errorf("%s[%d]: backward %.10g, finite differences %.10g", v.name, i, ana[i], num[i])
					}
				}
			}
		})
	}
}

// usesHead reports whether the forced sequence f draws from the head the
// tensor name belongs to (names "headK.w", "headK.b"); other tensors are
// always used.
func usesHead(seq decisions, f []int, name string) bool {
	if len(name) < 5 || name[:4] != "head" {
		return true
	}
	k := int(name[4] - '0')
	for t := range f {
		if typ, _ := seq.next(t, f[:t]); typ == k {
			return true
		}
	}
	return false
}

// indicatorReward gives one point per decision that matches target.
func indicatorReward(target []int) func([]int) float64 {
	return func(a []int) float64 {
		r := 0.0
		for t, x := range a {
			if t < len(target) && x == target[t] {
				r++
			}
		}
		return r
	}
}

// TestReinforceLearnsToyOptimum: with reward = the number of decisions
// that match a fixed target sequence (15 decisions of 3 to 5 choices:
// 3^5·4^5·5^5 ≈ 7.8e8 sequences), REINFORCE with the default settings
// must make the target the controller's most likely sequence, with
// probability over one half, within 4,000 samples, for every seed. An
// exactly-one-sequence reward is tested too, on a space small enough for
// sampling to find it.
func TestReinforceLearnsToyOptimum(t *testing.T) {
	seq := fixedDecisions{nChoice: []int{3, 4, 5}, types: []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}}
	target := []int{2, 0, 4, 1, 3, 0, 0, 2, 3, 2, 1, 1, 1, 3, 2}
	learn(t, seq, target, indicatorReward(target), 4000)

	small := fixedDecisions{nChoice: []int{3, 4}, types: []int{0, 1, 0, 1}} // 144 sequences
	one := []int{1, 3, 0, 2}
	learn(t, small, one, func(a []int) float64 {
		if slices.Equal(a, one) {
			return 1
		}
		return 0
	}, 3000)
}

func learn(t *testing.T, seq fixedDecisions, target []int, reward func([]int) float64, budget int) {
	t.Helper()
	for seed := uint64(1); seed <= 4; seed++ {
		opt := RLOptions{}.withDefaults()
		tr := newTrainer(seq, opt, rand.New(rand.NewPCG(seed, 0)))
		samples, u := 0, 0
		for samples < budget {
			eps := tr.sample(opt.Batch, func(j int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(u*1000+j+1))) })
			rs := make([]float64, len(eps))
			for j, e := range eps {
				rs[j] = reward(e.actions)
			}
			tr.update(eps, rs)
			samples += len(eps)
			u++
		}
		var e episode
		tr.pol.run(seq, nil, target, &e)
		pTarget := math.Exp(e.logProb)
		greedy := greedySequence(tr.pol, seq)
		t.Logf("seed %d: after %d samples P(target) = %.3f, greedy %v", seed, samples, pTarget, greedy)
		if !slices.Equal(greedy, target) || pTarget < 0.5 {
			t.Errorf("seed %d: after %d samples the most likely sequence is %v (P(target) = %.3f), want %v",
				seed, samples, greedy, pTarget, target)
		}
	}
}

// greedySequence follows the most likely choice at every step.
func greedySequence(p *policy, seq decisions) []int {
	var forced []int
	for t := 0; ; t++ {
		if typ, _ := seq.next(t, forced); typ < 0 {
			break
		}
		var e episode
		// Run the prefix forced, then read the distribution of step t.
		p.run(prefixOf{seq, t + 1}, nil, append(forced, 0), &e)
		pr := e.probs[e.probOff[t]:]
		best := 0
		for a, q := range pr {
			if q > pr[best] {
				best = a
			}
		}
		forced = append(forced, best)
	}
	return forced
}

// prefixOf is the first n decisions of seq.
type prefixOf struct {
	seq decisions
	n   int
}

func (p prefixOf) choices() []int { return p.seq.choices() }
func (p prefixOf) slots() int     { return p.seq.slots() }
func (p prefixOf) next(t int, prev []int) (int, int) {
	if t >= p.n {
		return -1, 0
	}
	return p.seq.next(t, prev)
}

// TestTrainerDeterministic: the same seed gives the same parameters after
// training, whatever GOMAXPROCS (sampling and the gradient are batched
// over goroutines).
func TestTrainerDeterministic(t *testing.T) {
	seq := fixedDecisions{nChoice: []int{3, 4, 5}, types: []int{0, 1, 2, 0, 1, 2, 0, 1, 2}}
	reward := indicatorReward([]int{2, 0, 4, 1, 3, 0, 0, 2, 3})
	train := func(procs int) []float64 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		opt := RLOptions{Batch: 37}.withDefaults()
		tr := newTrainer(seq, opt, rand.New(rand.NewPCG(9, 0)))
		for u := range 20 {
			eps := tr.sample(opt.Batch, func(j int) *rand.Rand { return rand.New(rand.NewPCG(9, uint64(u*1000+j+1))) })
			rs := make([]float64, len(eps))
			for j, e := range eps {
				rs[j] = reward(e.actions)
			}
			tr.update(eps, rs)
		}
		return slices.Clone(tr.pol.theta)
	}
	a, b, c := train(4), train(4), train(1)
	if !slices.Equal(a, b) {
		t.Error("two trainings with the same seed differ")
	}
	if !slices.Equal(a, c) {
		t.Error("GOMAXPROCS 1 and 4 train different parameters")
	}
}
