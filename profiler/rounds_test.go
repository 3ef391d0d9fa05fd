package profiler

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/timing"
)

func TestInterleave(t *testing.T) {
	ref := runModel{Name: "reference.onnx", Reference: true}
	a, net := runModel{Name: "a.onnx"}, runModel{Name: "net.onnx", Rounds: 2}
	spec := wire.ModelSpec{Warmup: 5, MinRuns: 10, MaxRuns: 200, TargetCI: 0.02, MaxSeconds: 2, SampleMS: 2}
	models := []runModel{ref, a, net, ref}
	runs, specs, owner := interleave(models, spec, 4)
	// Rounds 1 and 3 hold every model, rounds 2 and 4 all but the network.
	want := []int{0, 1, 2, 3, 0, 1, 3, 0, 1, 2, 3, 0, 1, 3}
	if len(owner) != len(want) || len(runs) != len(want) || len(specs) != len(want) {
		t.Fatalf("owners %v, want %v", owner, want)
	}
	for j, i := range want {
		if owner[j] != i || runs[j].Name != models[i].Name {
			t.Fatalf("run %d measures model %d (%s), want %d; owners %v", j, owner[j], runs[j].Name, i, owner)
		}
		s := specs[j]
		runs, secs := 3, 0.5
		if models[i].Rounds == 2 {
			runs, secs = 5, 1
		}
		if !s.Samples || s.Runs != runs || s.Warmup != 2 || s.TargetCI != 0 || s.SampleMS != 2 || s.MaxSeconds != secs {
			t.Errorf("run %d spec %+v: want samples kept, %d runs, 2 warm-up, no CI target, sample_ms kept, %gs", j, s, runs, secs)
		}
		s.ID, s.Path = "x", "x.onnx"
		if _, err := s.Normalize(); err != nil {
			t.Errorf("round spec invalid: %v", err)
		}
	}
}

func TestRoundSpecRuns(t *testing.T) {
	for _, tc := range []struct{ minRuns, rounds, want int }{{10, 4, 3}, {10, 2, 5}, {30, 4, 8}, {10, 1, 10}} {
		if got := roundSpec(wire.ModelSpec{MinRuns: tc.minRuns}, tc.rounds).Runs; got != tc.want {
			t.Errorf("min runs %d in %d rounds: %d runs per round, want %d", tc.minRuns, tc.rounds, got, tc.want)
		}
	}
}

func TestMergeRounds(t *testing.T) {
	clean := []float64{7.00, 7.05, 6.98, 7.10}
	tests := []struct {
		name   string
		rounds [][]float64
		median float64
		n      int
	}{
		{"all clean", [][]float64{clean, clean}, 7.025, 8},
		{"lost ticks dropped", [][]float64{{7.0, 11.2, 15.4, 7.1}, {11.3, 19.5, 7.05, 11.2}}, 7.05, 3},
		{"slow round dropped", [][]float64{clean, {9.9, 10.1, 10.0, 10.2}}, 7.025, 4},
		{"within slack kept", [][]float64{{1.0}, {1.09}, {1.11}}, 1.045, 2},
		{"empty round ignored", [][]float64{clean, nil}, 7.025, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mergeRounds(tc.rounds)
			timed := 0
			for _, s := range tc.rounds {
				timed += len(s)
			}
			if math.Abs(r.Stats.Median-tc.median) > 1e-9 || r.Stats.N != tc.n || r.Stats.Timed != timed {
				t.Errorf("median %v n %d, want %v n %d", r.Stats.Median, r.Stats.N, tc.median, tc.n)
			}
		})
	}
	if r := mergeRounds(nil); r.Stats.N != 0 {
		t.Errorf("no rounds gave %+v, want none", r.Stats)
	}
}

func TestFastLevel(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{
		{[]float64{1, 1.02, 1.01}, 1.01},
		{[]float64{1, 1.35, 1.01}, 1.005},
		{[]float64{1.3, 1.35, 1.0}, 1.0},
		{nil, 0},
	} {
		if got := fastLevel(tc.v); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("fastLevel(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestRunRounds profiles with the models timed in interleaved rounds on
// this machine's agent: every entry keeps only undisturbed samples (all
// within sampleSlack of its fastest), the journal resumes, and the
// setting is part of the table and of the journal's identity.
func TestRunRounds(t *testing.T) {
	requireAgent(t)
	dir := t.TempDir()
	o := quickOptions(filepath.Join(dir, "rounds.lut.json.journal"))
	o.Measure.Rounds = 2
	table, err := Run(context.Background(), devices.NewLocal(), o)
	if err != nil {
		t.Fatal(err)
	}
	if table.Settings.Extra["rounds"] != "2" {
		t.Errorf("settings say rounds %q, want 2", table.Settings.Extra["rounds"])
	}
	if len(table.Networks) != 2 {
		t.Errorf("%d networks, want 2", len(table.Networks))
	}
	check := func(what string, s timing.Stats) {
		// 2 rounds of 3 runs each; whole networks 1 round of 5.
		if s.N < 1 || s.N > 6 || !(s.Median > 0) || s.P10 > s.Median || s.Median > s.P90 || s.P90 > s.P10*(1+sampleSlack)*1.0001 {
			t.Errorf("%s: stats %+v: want 1..6 samples, all within %.0f%% of each other", what, s, 100*sampleSlack)
		}
	}
	for _, e := range table.Entries {
		check(e.Key, e.Stats)
	}
	for _, n := range table.Networks {
		check("network", n.Stats)
	}
	checkJournal(t, o.Journal, table)
	again, err := Run(context.Background(), devices.NewLocal(), o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Entries[0].Stats != table.Entries[0].Stats {
		t.Error("rerun of a finished journal changed the table")
	}
	o.Measure.Rounds = 1
	if _, err := Run(context.Background(), devices.NewLocal(), o); err == nil || !strings.Contains(err.Error(), "rounds") {
		t.Errorf("resuming with rounds 1 gave %v, want a refusal naming the setting", err)
	}
}

func TestRoundsValidate(t *testing.T) {
	for _, tc := range []struct {
		m    Measurement
		want int    // rounds after defaults
		err  string // "" = valid
	}{
		{Measurement{}, 4, ""},
		{Measurement{MinRuns: 5, MaxRuns: 8}, 1, ""},
		{Measurement{Rounds: 1}, 1, ""},
		{Measurement{Rounds: 4, MinRuns: 5, MaxRuns: 8}, 4, "raise max runs to 12"},
		{Measurement{Rounds: -1}, -1, "rounds must be 1..50"},
	} {
		m := tc.m.withDefaults()
		err := m.validate()
		if m.Rounds != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: rounds %d, error %v; want %d, %q", tc.m, m.Rounds, err, tc.want, tc.err)
		}
	}
}
