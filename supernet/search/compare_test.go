package search

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The side-by-side comparison of the three methods (make compare): OFA's
// tutorial accuracy predictor and the Note10 lookup tables (w1.2 space,
// 160..224), latency budgets 15..50 ms, five seeds. Each seed's default
// evolution fixes the number of predictions N; random and rl then get at
// most N predictions each (no early stopping, their other options at
// their defaults), so the three compare at equal predictions.

// compareBudgets are the latency limits of the comparison, in ms.
var compareBudgets = []float64{15, 20, 25, 30, 40, 50}

var compareMethods = []string{MethodEvolution, MethodRandom, MethodRL}

// compareRun is one method's search at one budget and seed.
type compareRun struct {
	best   float64       // best predicted accuracy
	scored int           // predictions made
	to99   int           // predictions made when 99% of best was first reached
	to999  int           // the same for 99.9%
	wall   time.Duration // wall time of the search
}

// predictionsTo returns the predictions made when the trace first
// reached frac of the search's best accuracy.
func predictionsTo(res *Result, frac float64) int {
	goal := frac * res.Best().Accuracy
	for _, p := range res.Trace {
		if p.Accuracy >= goal {
			return p.Predictions
		}
	}
	return res.Stats.Scored
}

// compareAt runs the three methods at one budget for seeds 1..seeds and
// returns their runs, by method.
func compareAt(tb testing.TB, ms float64, seeds int) map[string][]compareRun {
	sc := note10(tb)
	lim := Limits{MaxLatencyMS: ms}
	out := map[string][]compareRun{}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		n := 0
		for _, m := range compareMethods {
			opt := Options{Method: m, Seed: seed}
			if m != MethodEvolution {
				opt.MaxPredictions, opt.Patience = n, -1
			}
			res, err := Run(context.Background(), sc.Space(), sc, lim, opt)
			if err != nil {
				tb.Fatalf("%s at %v ms, seed %d: %v", m, ms, seed, err)
			}
			if m == MethodEvolution {
				n = res.Stats.Scored
			}
			if res.Stats.Scored > n {
				tb.Fatalf("%s at %v ms, seed %d: %d predictions, more than evolution's %d", m, ms, seed, res.Stats.Scored, n)
			}
			out[m] = append(out[m], compareRun{best: res.Best().Accuracy, scored: res.Stats.Scored,
				to99: predictionsTo(res, 0.99), to999: predictionsTo(res, 0.999), wall: res.Stats.Wall})
		}
	}
	return out
}

func median[T int | float64 | time.Duration](runs []compareRun, f func(compareRun) T) T {
	v := make([]T, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// TestRLBeatsRandomNote10: at equal predictions (as many as the default
// evolution makes), the rl controller finds a more accurate subnet than
// random search, at the tightest and a loose Note10 budget.
func TestRLBeatsRandomNote10(t *testing.T) {
	if testing.Short() {
		t.Skip("full rl searches: skipped with -short")
	}
	for _, ms := range []float64{15, 40} {
		runs := compareAt(t, ms, 1)
		evo, rnd, rl := runs[MethodEvolution][0], runs[MethodRandom][0], runs[MethodRL][0]
		t.Logf("%v ms: evolution %.4f (%d predictions), random %.4f (%d), rl %.4f (%d)",
			ms, evo.best, evo.scored, rnd.best, rnd.scored, rl.best, rl.scored)
		if rl.best <= rnd.best {
			t.Errorf("%v ms: rl %.4f is no better than random search %.4f at %d predictions", ms, rl.best, rnd.best, evo.scored)
		}
	}
}

// BenchmarkCompareNote10 is the README's comparison table: evolution,
// random and rl at the Note10 budgets, five seeds each, at equal
// predictions. It runs once (90 searches, most of the time in rl) and
// prints the table as Markdown; the metrics are the medians per budget.
func BenchmarkCompareNote10(b *testing.B) {
	note10(b)
	const seeds = 5
	var table strings.Builder
	table.WriteString("| budget | N | method | best accuracy: median (min–max) | predictions made | to 99% of best | to 99.9% | wall per search |\n")
	table.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, ms := range compareBudgets {
		b.Run(fmt.Sprintf("%.0fms", ms), func(b *testing.B) {
			var runs map[string][]compareRun
			for b.Loop() {
				runs = compareAt(b, ms, seeds)
			}
			n := median(runs[MethodEvolution], func(r compareRun) int { return r.scored })
			for _, m := range compareMethods {
				rs := runs[m]
				acc := median(rs, func(r compareRun) float64 { return r.best })
				lo, hi := rs[0].best, rs[0].best
				for _, r := range rs {
					lo, hi = min(lo, r.best), max(hi, r.best)
				}
				made := median(rs, func(r compareRun) int { return r.scored })
				to99 := median(rs, func(r compareRun) int { return r.to99 })
				to999 := median(rs, func(r compareRun) int { return r.to999 })
				wall := median(rs, func(r compareRun) time.Duration { return r.wall })
				b.ReportMetric(acc, "acc-"+m)
				b.ReportMetric(float64(to99), "to99-"+m)
				fmt.Fprintf(&table, "| %.0f ms | %d | %s | %.4f (%.4f–%.4f) | %d | %d | %d | %v |\n",
					ms, n, m, acc, lo, hi, made, to99, to999, wall.Round(10*time.Millisecond))
			}
		})
	}
	// Printed, not logged: a parent benchmark's log is not shown.
	fmt.Printf("\nMedians over %d seeds. N is the median number of predictions of the default evolution;\n"+
		"in each seed random and rl may make as many as that seed's evolution made.\n\n%s\n", seeds, table.String())
}
