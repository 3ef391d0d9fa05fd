package profiler

import (
	"slices"

	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/timing"
)

// Interleaved measurement.
//
// Shared machines (cloud VMs, phones with background work) have slow
// windows: for half a second to a second everything runs 25–45% slower.
// A small model's whole measurement fits inside one such window, so timed
// all at once it comes out either right or a third too slow, and no
// statistic of its own samples can tell. Spreading each model's timed
// runs over the whole batch in rounds (every model's first round, then
// every model's second, ...) puts the rounds of one model seconds apart,
// in different windows; a slow window then shows as a round slower than
// the model's others, and is left out.

// On a Firecracker VM the slow windows are the host taking the vCPU away
// for scheduler ticks of about 4 ms: a timed sample either escapes them or
// is longer by whole ticks. Time is only ever added, so the samples within
// sampleSlack of the model's fastest are the undisturbed ones, and the
// model's statistics are those of these samples.

// sampleSlack is how much slower than a model's fastest sample another
// may be and still count as undisturbed: above the spread of samples on a
// quiet device (a few percent, session to session included), below a lost
// tick (+50% for a 7 ms network, more for a 2 ms sample).
const sampleSlack = 0.10

// roundSlack is how much slower than the lowest another reference level
// may be and still count (see fastLevel).
const roundSlack = 0.06

// roundSpec is the spec of one round of a model timed in rounds rounds:
// one warm-up run (the session is created afresh for every round) and a
// fixed share of the timed samples, at least 3, so that every round of
// every model takes about the same time and the rounds stay spread evenly
// over the batch.
func roundSpec(s wire.ModelSpec, rounds int) wire.ModelSpec {
	s.Warmup = min(s.Warmup, 2)
	s.Runs = max(3, (s.MinRuns+rounds-1)/rounds)
	s.MinRuns, s.MaxRuns, s.TargetCI = s.Runs, s.Runs, 0
	if s.MaxSeconds > 0 {
		s.MaxSeconds = max(s.MaxSeconds/float64(rounds), 0.1)
	}
	s.Samples = true
	return s
}

// interleave lays out models for one agent invocation measured in
// rounds rounds: round 1 of every model in order, then round 2, ... A
// model whose Rounds is set (and below rounds) is in that many of them,
// spread evenly, each with a correspondingly larger share of the samples:
// a whole network costs a session load of 100–300 ms per round. The drift
// reference is interleaved like the rest, so that its level, too, is that
// of the whole batch rather than of the second or so around its sessions.
// It returns the models and specs to run and, for each of them, the index
// in models it measures.
func interleave(models []runModel, spec wire.ModelSpec, rounds int) ([]runModel, []wire.ModelSpec, []int) {
	var out []runModel
	var specs []wire.ModelSpec
	var owner []int
	for k := range rounds {
		for i, m := range models {
			r := rounds
			if m.Rounds > 0 && m.Rounds < rounds {
				r = m.Rounds
			}
			if (k*r)%rounds >= r {
				continue // not in this round
			}
			out = append(out, m)
			specs = append(specs, roundSpec(spec, r))
			owner = append(owner, i)
		}
	}
	return out, specs, owner
}

// mergeRounds combines one model's rounds (the timed samples of each)
// into one result: the samples within sampleSlack of the fastest, which
// no lost tick or slow window touched, summarised together. Their number
// (Stats.N) can be below Measurement.MinRuns, which counts the runs timed
// (Stats.Timed): the disturbed samples are left out rather than let in to
// make up the count, as a tick makes a small model's sample several times
// too slow.
func mergeRounds(rounds [][]float64) runResult {
	var all []float64
	for _, r := range rounds {
		all = append(all, r...)
	}
	if len(all) == 0 {
		return runResult{}
	}
	lo := slices.Min(all)
	var kept []float64
	for _, x := range all {
		if x <= lo*(1+sampleSlack) {
			kept = append(kept, x)
		}
	}
	st := timing.Summarize(kept)
	st.Timed = len(all)
	return runResult{Stats: st}
}

// fastLevel is the median of the values within roundSlack of the
// smallest: the level of an undisturbed device, from measurements some of
// which a slow window may have caught.
func fastLevel(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	lo := slices.Min(v)
	var kept []float64
	for _, x := range v {
		if x <= lo*(1+roundSlack) {
			kept = append(kept, x)
		}
	}
	return timing.Median(kept)
}
