package search

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// encodeOFA writes a config as the choice indices the controller emits:
// resolution, depths, then each active block's kernel and expand ratio.
func encodeOFA(sp *supernet.Space, c supernet.Config) []int {
	a := []int{indexOf(sp.Resolutions, c.R)}
	for st := range supernet.NumStages {
		a = append(a, indexOf(sp.Depths, c.D[st]))
	}
	for i := range supernet.NumBlocks {
		if c.Active(i) {
			a = append(a, indexOf(sp.KernelSizes, c.KS[i]), indexOf(sp.Expands, c.E[i]))
		}
	}
	return a
}

// TestOFADecisions: the controller's sequence for a subnet is its
// resolution, its five depths and a kernel and expand ratio per active
// block, in block order, each in its own slot; decoding a sequence gives
// the subnet back.
func TestOFADecisions(t *testing.T) {
	sp := space(t, 1.0)
	d := ofaDecisions{sp}
	if got, want := d.choices(), []int{25, 3, 3, 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("choices %v, want %v", got, want)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for range 300 {
		c := sp.RandomConfig(rng)
		a := encodeOFA(sp, c)
		active := 0
		for _, x := range c.D {
			active += x
		}
		if len(a) != 1+supernet.NumStages+2*active {
			t.Fatalf("%v: %d decisions", c, len(a))
		}
		slots := map[int]bool{}
		for step := range a {
			typ, slot := d.next(step, a[:step])
			want := decResolution
			switch {
			case step >= 1 && step <= supernet.NumStages:
				want = decDepth
			case step > supernet.NumStages:
				want = decKernel + (step-1-supernet.NumStages)%2
			}
			if typ != want {
				t.Fatalf("%v: decision %d has type %d, want %d", c, step, typ, want)
			}
			if slot < 0 || slot >= d.slots() || slots[slot] {
				t.Fatalf("%v: decision %d in slot %d (taken or outside 0..%d)", c, step, slot, d.slots()-1)
			}
			slots[slot] = true
			if typ == decKernel {
				// Slot 6+2i is block i's kernel: block i must be active
				// and hold the kernel emitted here.
				b := (slot - 1 - supernet.NumStages) / 2
				if !c.Active(b) || sp.KernelSizes[a[step]] != c.KS[b] {
					t.Fatalf("%v: decision %d is a kernel in the slot of block %d", c, step, b)
				}
			}
		}
		if typ, _ := d.next(len(a), a); typ != -1 {
			t.Fatalf("%v: the sequence goes on after %d decisions", c, len(a))
		}
		if got := d.config(a); got != c {
			t.Fatalf("decoded %v, want %v", got, c)
		}
	}
}

// TestRLDeterministic: the same seed gives the same result, whatever
// GOMAXPROCS; another seed gives another search.
func TestRLDeterministic(t *testing.T) {
	sp := space(t, 1.2)
	sp, _ = sp.WithResolutions([]int{160, 176, 192, 208, 224})
	lim := Limits{MaxLatencyMS: 14, MaxMemory: 40e6}
	opt := Options{Method: MethodRL, Seed: 42, Population: 60, Generations: 12, TopK: 5, Pareto: true,
		RL: RLOptions{Hidden: 16, Batch: 23}}
	run := func(procs int, opt Options) *Result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		sc := newSynth(sp)
		res, err := Run(context.Background(), sp, sc, lim, opt)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, sp, sc, lim, res, 5)
		res.Stats.Wall = 0
		return res
	}
	a, b, c := run(2, opt), run(2, opt), run(1, opt)
	if a.Stats.Samples != 60*12 {
		t.Errorf("%d samples, want %d", a.Stats.Samples, 60*12)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs with the same seed differ")
	}
	if !reflect.DeepEqual(a, c) {
		t.Error("GOMAXPROCS 1 and 2 give different results")
	}
	opt.Seed = 43
	if d := run(2, opt); reflect.DeepEqual(a.Evaluated, d.Evaluated) {
		t.Error("seeds 42 and 43 scored the same subnets")
	}
}

// TestRLLearnsSynth: on the synthetic scorer the controller must find
// better subnets than uniform random search given the same predictions.
func TestRLLearnsSynth(t *testing.T) {
	sp := space(t, 1.2)
	sp, _ = sp.WithResolutions([]int{160, 176, 192, 208, 224})
	lim := Limits{MaxLatencyMS: 11}
	const n = 1500
	rl, err := Run(context.Background(), sp, newSynth(sp), lim, Options{Method: MethodRL, Seed: 3, Patience: -1, MaxPredictions: n})
	if err != nil {
		t.Fatal(err)
	}
	rnd, err := Run(context.Background(), sp, newSynth(sp), lim, Options{Method: MethodRandom, Seed: 3, Patience: -1, MaxPredictions: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rl %.4f (%d predictions, %d samples), random %.4f (%d predictions)",
		rl.Best().Accuracy, rl.Stats.Scored, rl.Stats.Samples, rnd.Best().Accuracy, rnd.Stats.Scored)
	if rl.Stats.Scored > n || rnd.Stats.Scored != n {
		t.Errorf("predictions: rl %d, random %d; cap %d", rl.Stats.Scored, rnd.Stats.Scored, n)
	}
	if rl.Best().Accuracy <= rnd.Best().Accuracy {
		t.Errorf("rl (%.4f) is no better than random search (%.4f)", rl.Best().Accuracy, rnd.Best().Accuracy)
	}
}

// TestInfeasibleSameForEveryMethod: limits no subnet meets end every
// method the same way, with the same minima and no accuracy prediction.
func TestInfeasibleSameForEveryMethod(t *testing.T) {
	sp := space(t, 1.0)
	minLat := estimateOf(newSynth(sp), sp.MinConfig(128)).LatencyMS
	lim := Limits{MaxLatencyMS: minLat * 0.9, MaxParams: 6e6}
	var first *InfeasibleError
	for _, m := range []string{MethodEvolution, MethodRandom, MethodRL} {
		sc := newSynth(sp)
		_, err := Run(context.Background(), sp, sc, lim, Options{Method: m, Seed: 1})
		var ie *InfeasibleError
		if !errors.As(err, &ie) {
			t.Fatalf("%s: got %v, want an *InfeasibleError", m, err)
		}
		if n := sc.scored.Load(); n != 0 {
			t.Errorf("%s: %d accuracy predictions before the verdict", m, n)
		}
		if first == nil {
			first = ie
		} else if !reflect.DeepEqual(ie, first) || err.Error() != first.Error() {
			t.Errorf("%s: %v, evolution: %v", m, err, first)
		}
	}
}

// TestMaxPredictions: every method stops at the prediction cap.
func TestMaxPredictions(t *testing.T) {
	sp := space(t, 1.0)
	lim := Limits{MaxLatencyMS: 12, MaxMACs: 250e6}
	for _, m := range []string{MethodEvolution, MethodRandom, MethodRL} {
		for _, n := range []int{1, 137, 1000} {
			sc := newSynth(sp)
			res, err := Run(context.Background(), sp, sc, lim, Options{Method: m, Seed: 2, MaxPredictions: n, Patience: -1, Population: 50})
			if err != nil {
				t.Fatal(err)
			}
			made := int(sc.scored.Load())
			checkResult(t, sp, sc, lim, res, 1)
			got := res.Stats.Scored
			if got > n || made != got {
				t.Errorf("%s, cap %d: %d predictions counted, %d made", m, n, got, made)
			}
			if m == MethodRandom && got != n {
				t.Errorf("random, cap %d: stopped at %d", n, got)
			}
		}
	}
}

// TestRLCancel: cancelling ends the controller's training between
// generations.
func TestRLCancel(t *testing.T) {
	sp := space(t, 1.0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gens := 0
	_, err := Run(ctx, sp, newSynth(sp), Limits{MaxLatencyMS: 20}, Options{Method: MethodRL, Seed: 1, Patience: -1,
		Progress: func(done, total int) {
			gens = done
			if done == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) || gens != 3 {
		t.Fatalf("got %v after %d generations, want context.Canceled after 3", err, gens)
	}
}

// TestRLPlainScorer: without a cheap cost path every limit check is a
// prediction, and the results still meet the limits.
func TestRLPlainScorer(t *testing.T) {
	sp := space(t, 1.0)
	sc := newSynth(sp)
	lim := Limits{MaxLatencyMS: 12, MaxParams: 5e6}
	res, err := Run(context.Background(), sp, scoreOnly{sc}, lim, Options{Method: MethodRL, Seed: 5, Population: 40, Generations: 5, TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	if made := int(sc.scored.Load()); made != res.Stats.Scored {
		t.Errorf("%d predictions made, %d counted", made, res.Stats.Scored)
	}
	checkResult(t, sp, sc, lim, res, 3)
}
