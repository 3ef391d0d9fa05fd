package search

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// plainScorer has Score only: every limit check is a prediction.
type plainScorer struct{ s *synthScorer }

func (p plainScorer) Score(cfgs []supernet.Config, out []predictor.Estimate) { p.s.Score(cfgs, out) }

// TestCapSpentOnChecks: with a scorer that has no cheap cost path, limit
// checks are predictions and can spend the cap (Options.MaxPredictions
// says so). A cap spent before even the anchor is scored leaves evolution
// nothing to breed from: the search ends with what it has (it used to
// panic drawing a parent from an empty population).
func TestCapSpentOnChecks(t *testing.T) {
	sp := space(t, 1.0)
	lim := Limits{MaxLatencyMS: 14, MaxMemory: 40 << 20}
	spent := 0
	for _, m := range []string{MethodEvolution, MethodRandom, MethodRL} {
		for _, n := range []int{1, 40, 150} {
			sc := plainScorer{newSynth(sp)}
			res, err := Run(context.Background(), sp, sc, lim, Options{Method: m, Seed: 7, Population: 40, Generations: 8, MaxPredictions: n})
			if err != nil {
				if !strings.Contains(err.Error(), fmt.Sprintf("prediction cap of %d was spent on limit checks", n)) {
					t.Fatalf("%s, cap %d: %v", m, n, err)
				}
				spent++
				continue
			}
			checkResult(t, sp, sc, lim, res, 1)
		}
	}
	if spent == 0 {
		t.Error("no cap was spent on checks alone: the case this test is for did not occur")
	}
}
