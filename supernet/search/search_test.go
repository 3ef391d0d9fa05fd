package search

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

func space(t testing.TB, w float64) *supernet.Space {
	t.Helper()
	s, err := supernet.NewSpace(w)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func estimateOf(sc Scorer, c supernet.Config) predictor.Estimate {
	out := make([]predictor.Estimate, 1)
	sc.Score([]supernet.Config{c}, out)
	return out[0]
}

// checkResult asserts what every result must satisfy.
func checkResult(t *testing.T, sp *supernet.Space, sc Scorer, lim Limits, res *Result, topK int) {
	t.Helper()
	if len(res.Top) == 0 || len(res.Top) > topK {
		t.Fatalf("%d top subnets, want 1..%d", len(res.Top), topK)
	}
	seen := map[supernet.Config]bool{}
	for i, c := range res.Top {
		if seen[c.Config] {
			t.Errorf("top[%d] repeats a subnet", i)
		}
		seen[c.Config] = true
		if i > 0 && c.Accuracy > res.Top[i-1].Accuracy {
			t.Errorf("top[%d] is more accurate than top[%d]", i, i-1)
		}
	}
	// The trace climbs to the best accuracy, within the predictions made.
	for i, p := range res.Trace {
		if p.Predictions < 1 || p.Predictions > res.Stats.Scored || i > 0 &&
			(p.Predictions <= res.Trace[i-1].Predictions || p.Accuracy <= res.Trace[i-1].Accuracy) {
			t.Fatalf("trace point %d %+v (of %d predictions) does not climb", i, p, res.Stats.Scored)
		}
	}
	if len(res.Trace) == 0 || res.Trace[len(res.Trace)-1].Accuracy != res.Top[0].Accuracy {
		t.Fatalf("trace %v does not end at the best accuracy %v", res.Trace, res.Top[0].Accuracy)
	}
	for _, set := range [][]Candidate{res.Top, res.Front, res.Evaluated} {
		for _, c := range set {
			if err := sp.Validate(c.Config); err != nil {
				t.Fatalf("returned an invalid subnet: %v", err)
			}
			if c.Config != c.Config.Canonical(sp) {
				t.Fatalf("returned a non-canonical config %v", c.Config)
			}
			// The estimate returned must be the scorer's, and meet every limit.
			if e := estimateOf(sc, c.Config); e != c.Estimate {
				t.Fatalf("estimate %+v differs from the scorer's %+v", c.Estimate, e)
			}
			if !lim.Met(&c.Estimate) {
				t.Fatalf("subnet %v (%+v) misses limits %s", c.Config, c.Estimate, lim)
			}
		}
	}
}

// TestEveryResultMeetsLimits draws random limits (some infeasible) over
// many seeds and methods: every subnet returned meets every limit, and an
// infeasible verdict only comes when no subnet meets the limits.
func TestEveryResultMeetsLimits(t *testing.T) {
	sp := space(t, 1.0) // 25 resolutions, 128..224
	sc := newSynth(sp)
	lo := estimateOf(sc, sp.MinConfig(128))
	hi := estimateOf(sc, sp.MaxConfig(224))
	rng := rand.New(rand.NewPCG(7, 7))
	between := func(a, b float64) float64 { return a*0.9 + rng.Float64()*(b*1.05-a*0.9) }
	n := 48
	if testing.Short() {
		n = 12
	}
	var ok, infeasible int
	for k := range n {
		var lim Limits
		for lim == (Limits{}) {
			if rng.IntN(2) == 0 {
				lim.MaxLatencyMS = between(lo.LatencyMS, hi.LatencyMS)
			}
			if rng.IntN(2) == 0 {
				lim.MaxMemory = int64(between(float64(lo.PeakMemory), float64(hi.PeakMemory)))
			}
			if rng.IntN(2) == 0 {
				lim.MaxParams = int64(between(float64(lo.Params), float64(hi.Params)))
			}
			if rng.IntN(2) == 0 {
				lim.MaxMACs = int64(between(float64(lo.MACs), float64(hi.MACs)))
			}
		}
		opt := Options{Population: 24, Generations: 12, Seed: uint64(k), TopK: 4,
			Method: []string{MethodEvolution, MethodRandom, MethodRL}[k%3], Pareto: k%4 == 1, ParetoMemory: k%8 == 1}
		scored0, checks0 := sc.scored.Load(), sc.costed.Load()
		res, err := Run(context.Background(), sp, sc, lim, opt)
		var ie *InfeasibleError
		switch {
		case errors.As(err, &ie):
			infeasible++
			// Promptly: no accuracy prediction, few cost checks.
			if n := sc.scored.Load() - scored0; n != 0 {
				t.Fatalf("limits %s: the infeasible verdict cost %d accuracy predictions", lim, n)
			}
			if n := sc.costed.Load() - checks0; n > 60000 {
				t.Fatalf("limits %s: the infeasible verdict cost %d cost checks", lim, n)
			}
			// Every cost of this scorer (latency included) grows with
			// every choice, so the smallest subnet at the smallest
			// resolution minimizes each of them, under any other limits
			// that can be met at all: it must miss a limit, and every
			// minimum named must be its value.
			minEst := estimateOf(sc, sp.MinConfig(128))
			if lim.Met(&minEst) {
				t.Fatalf("limits %s called infeasible, yet the smallest subnet meets them", lim)
			}
			if len(ie.Minima) != len(lim.Set()) {
				t.Fatalf("limits %s: %d minima named", lim, len(ie.Minima))
			}
			for _, m := range ie.Minima {
				want := m.Metric.Of(&minEst)
				othersMet := lim.violation(&minEst, m.Metric) == 0
				if math.Abs(m.Value-want) > 1e-9*want || m.OthersMet != othersMet {
					t.Fatalf("limits %s: smallest %s named %v (others met %v), want %v (%v)", lim, m.Metric, m.Value, m.OthersMet, want, othersMet)
				}
			}
		case err != nil:
			t.Fatalf("limits %s: %v", lim, err)
		default:
			ok++
			checkResult(t, sp, sc, lim, res, 4)
		}
	}
	if !testing.Short() && (ok == 0 || infeasible == 0) {
		t.Errorf("%d feasible and %d infeasible draws: the test should see both", ok, infeasible)
	}
}

func TestInfeasibleNamesMinima(t *testing.T) {
	sp := space(t, 1.0)
	minCfg := sp.MinConfig(128)
	minCosts := sp.Costs(minCfg)
	sc := newSynth(sp)
	minLat := estimateOf(sc, minCfg).LatencyMS

	for _, tc := range []struct {
		name string
		lim  Limits
		want map[Metric]Minimum
		msg  []string
	}{
		{"macs alone", Limits{MaxMACs: minCosts.MACs - 1},
			map[Metric]Minimum{MACs: {Value: float64(minCosts.MACs), OthersMet: true}},
			[]string{"no subnet meets MACs ≤", "the smallest MACs of any subnet is " + FormatCount(minCosts.MACs)}},
		{"latency and memory", Limits{MaxLatencyMS: minLat / 2, MaxMemory: 1 << 40},
			map[Metric]Minimum{Latency: {Value: minLat, OthersMet: true}, Memory: {Value: float64(minCosts.PeakMemory), OthersMet: false}},
			[]string{"the smallest latency under the other limits is " + FormatLatency(minLat), "relax a limit, such as latency to at least"}},
		{"params and memory both too small", Limits{MaxParams: minCosts.Params / 2, MaxMemory: minCosts.PeakMemory / 2},
			map[Metric]Minimum{Params: {Value: float64(minCosts.Params)}, Memory: {Value: float64(minCosts.PeakMemory)}},
			[]string{"none meets the other limits"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newSynth(sp)
			_, err := Run(context.Background(), sp, sc, tc.lim, Options{Seed: 1})
			scored, costed := sc.scored.Load(), sc.costed.Load()
			var ie *InfeasibleError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *InfeasibleError", err)
			}
			if len(ie.Minima) != len(tc.lim.Set()) {
				t.Errorf("%d minima for %d limits", len(ie.Minima), len(tc.lim.Set()))
			}
			for _, m := range ie.Minima {
				w, ok := tc.want[m.Metric]
				if !ok {
					continue
				}
				if math.Abs(m.Value-w.Value) > 1e-9*w.Value || m.OthersMet != w.OthersMet {
					t.Errorf("%s minimum %v (others met %v), want %v (%v)", m.Metric, m.Value, m.OthersMet, w.Value, w.OthersMet)
				}
				if e := estimateOf(sc, m.Config); math.Abs(m.Metric.Of(&e)-m.Value) > 1e-9*m.Value {
					t.Errorf("%s minimum's config scores %v, not %v", m.Metric, m.Metric.Of(&e), m.Value)
				}
			}
			for _, s := range tc.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
			// Promptly: no accuracy prediction, a bounded number of cost checks.
			if scored != 0 {
				t.Errorf("an infeasible search made %d accuracy predictions", scored)
			}
			if costed > 60000 {
				t.Errorf("an infeasible search made %d cost checks", costed)
			}
		})
	}
}

// TestNonMonotoneLatency: when 3x3 kernels are slow, the smallest subnet
// is not the fastest. A limit only the fastest subnets meet must still
// be met, and the reported minimum must be the exact one.
func TestNonMonotoneLatency(t *testing.T) {
	sp := space(t, 1.2)
	sp, _ = sp.WithResolutions([]int{160, 176, 192, 208, 224})
	sc := newSynth(sp)
	sc.slowK3 = 0.4
	// Latency is a sum over blocks, so the exact minimum takes, at d=2
	// and r=160, each block's fastest (kernel, expand) pair.
	best := sp.MinConfig(160)
	for b := range supernet.NumBlocks {
		if !best.Active(b) {
			continue
		}
		for _, k := range sp.KernelSizes {
			for _, e := range sp.Expands {
				c := best
				c.KS[b], c.E[b] = k, e
				if estimateOf(sc, c).LatencyMS < estimateOf(sc, best).LatencyMS {
					best = c
				}
			}
		}
	}
	minLat := estimateOf(sc, best).LatencyMS
	if minLat >= estimateOf(sc, sp.MinConfig(160)).LatencyMS-0.1 {
		t.Fatalf("test setup: slow 3x3 kernels should make the min subnet slower than %v", minLat)
	}
	_, err := Run(context.Background(), sp, sc, Limits{MaxLatencyMS: minLat * 0.999}, Options{Seed: 3})
	var ie *InfeasibleError
	if !errors.As(err, &ie) || math.Abs(ie.Minima[0].Value-minLat) > 1e-9 {
		t.Fatalf("got %v, want an infeasible error naming %v ms", err, minLat)
	}
	lim := Limits{MaxLatencyMS: minLat * 1.001}
	res, err := Run(context.Background(), sp, sc, lim, Options{Seed: 3, Population: 30, Generations: 10})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, sp, sc, lim, res, 1)
}

func TestDeterministic(t *testing.T) {
	sp := space(t, 1.2)
	sp, _ = sp.WithResolutions([]int{160, 176, 192, 208, 224})
	lim := Limits{MaxLatencyMS: 14, MaxMemory: 40e6}
	opt := Options{Seed: 42, Population: 40, Generations: 30, TopK: 5, Pareto: true}
	run := func(procs int) *Result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := Run(context.Background(), sp, newSynth(sp), lim, opt)
		if err != nil {
			t.Fatal(err)
		}
		res.Stats.Wall = 0
		return res
	}
	a, b, c := run(2), run(2), run(1)
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs with the same seed differ")
	}
	if !reflect.DeepEqual(a, c) {
		t.Error("GOMAXPROCS 1 and 2 give different results")
	}
	opt.Seed = 43
	d, err := Run(context.Background(), sp, newSynth(sp), lim, opt)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Evaluated, d.Evaluated) {
		t.Error("seeds 42 and 43 scored the same subnets")
	}
}

func TestCancel(t *testing.T) {
	sp := space(t, 1.0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gens := 0
	_, err := Run(ctx, sp, newSynth(sp), Limits{MaxLatencyMS: 20}, Options{Seed: 1, Patience: -1,
		Progress: func(done, total int) {
			gens = done
			if done == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if gens != 3 {
		t.Errorf("ran %d generations after cancelling at 3", gens)
	}
	if _, err := Run(ctx, sp, newSynth(sp), Limits{}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

func TestPlainScorer(t *testing.T) {
	sp := space(t, 1.0)
	sc := newSynth(sp)
	lim := Limits{MaxLatencyMS: 12, MaxParams: 5e6}
	res, err := Run(context.Background(), sp, scoreOnly{sc}, lim, Options{Seed: 5, Population: 20, Generations: 10, TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, sp, sc, lim, res, 3)
	if sc.costed.Load() != 0 {
		t.Error("ScoreCosts called on a scorer without it")
	}
	_, err = Run(context.Background(), sp, scoreOnly{sc}, Limits{MaxMACs: 1000}, Options{})
	var ie *InfeasibleError
	if !errors.As(err, &ie) {
		t.Errorf("got %v, want *InfeasibleError", err)
	}
}

func TestOptionsAndLimitsRefused(t *testing.T) {
	sp := space(t, 1.0)
	sc := newSynth(sp)
	for _, tc := range []struct {
		lim  Limits
		opt  Options
		want string
	}{
		{Limits{}, Options{Method: "annealing"}, `unknown search method "annealing": use "evolution", "random" or "rl"`},
		{Limits{}, Options{MaxPredictions: -1}, "prediction cap -1 is negative"},
		{Limits{}, Options{Method: MethodRL, RL: RLOptions{Hidden: -3}}, "rl hidden size -3"},
		{Limits{}, Options{Method: MethodRL, RL: RLOptions{Batch: -1}}, "rl samples per update -1"},
		{Limits{}, Options{Method: MethodRL, RL: RLOptions{LearningRate: -0.1}}, "rl learning rate -0.1"},
		{Limits{}, Options{Method: MethodRL, RL: RLOptions{BaselineDecay: 1}}, "rl baseline decay 1 is outside (0, 1)"},
		{Limits{}, Options{Method: MethodRL, RL: RLOptions{Penalty: -1}}, "rl penalty -1"},
		{Limits{}, Options{Method: MethodRL, RL: RLOptions{Entropy: math.Inf(1)}}, "rl entropy weight +Inf"},
		{Limits{}, Options{Population: 1}, "population 1 is too small"},
		{Limits{}, Options{Generations: -2}, "generations -2"},
		{Limits{}, Options{TopK: -1}, "top-k -1"},
		{Limits{}, Options{MutateProb: 1.5}, "mutation probability 1.5"},
		{Limits{MaxLatencyMS: -1}, Options{}, "latency limit -1"},
		{Limits{MaxLatencyMS: math.NaN()}, Options{}, "latency limit NaN"},
		{Limits{MaxMemory: -5}, Options{}, "memory limit -5 is negative"},
		{Limits{}, Options{Resolutions: []int{8}}, "resolution 8 is outside"},
	} {
		if _, err := Run(context.Background(), sp, sc, tc.lim, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v, %+v) error %v, want %q", tc.lim, tc.opt, err, tc.want)
		}
	}
}

// TestRepairEnds walks random subnets toward random canonical anchors:
// every walk must arrive within maxRepairSteps.
func TestRepairEnds(t *testing.T) {
	sp := space(t, 1.0)
	s := &searcher{space: sp, opt: Options{}.withDefaults()}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 500 {
		c, to := sp.RandomConfig(rng), sp.RandomConfig(rng)
		steps := 0
		for ; c != to && steps < maxRepairSteps; steps++ {
			c = s.stepToward(c, to, rng)
		}
		if c != to {
			t.Fatalf("walk did not reach the anchor in %d steps", maxRepairSteps)
		}
	}
}

func TestOperatorsKeepConfigsValid(t *testing.T) {
	sp := space(t, 1.2)
	s := &searcher{space: sp, opt: Options{}.withDefaults()}
	rng := rand.New(rand.NewPCG(2, 2))
	a, b := sp.RandomConfig(rng), sp.RandomConfig(rng)
	for range 1000 {
		for _, c := range []supernet.Config{s.mutate(a, rng), s.crossover(a, b, rng)} {
			if err := sp.Validate(c); err != nil || c != c.Canonical(sp) {
				t.Fatalf("operator made %v: %v", c, err)
			}
		}
		a, b = s.crossover(a, b, rng), s.mutate(b, rng)
	}
}
