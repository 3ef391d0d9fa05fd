package edgefit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export/zerocost"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

func TestZeroCostSearch(t *testing.T) {
	got := ZeroCostSearch(search.Options{Seed: 3})
	if got.Population != ZeroCostPopulation || got.Generations != ZeroCostGenerations || !got.PolishOff || got.Seed != 3 {
		t.Errorf("defaults: %+v", got)
	}
	got = ZeroCostSearch(search.Options{Population: 50})
	if got.Population != 50 || got.Generations != ZeroCostGenerations || !got.PolishOff {
		t.Errorf("a population given is kept: %+v", got)
	}
}

// note10Latency fits a latency predictor on OFA's Note10 tables (w1.2).
func note10Latency(t *testing.T) *predictor.LatencyPredictor {
	t.Helper()
	tbl, err := lut.ImportOFADir("ofa-mbv3-w1.2", testfix.SharedFile(t, "ofa-upstream/note10"))
	if err != nil {
		t.Fatal(err)
	}
	lat, _, err := predictor.Fit(tbl, predictor.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lat
}

// TestSelectZeroCost searches with the proxy on a small synthetic batch:
// the selection is labelled a proxy that names the synthetic batch, the
// status lines say so before the search, and the top subnet's number is
// the proxy's score of it, normalized.
func TestSelectZeroCost(t *testing.T) {
	lat := note10Latency(t)
	space := lat.Space()
	ctx := context.Background()
	var rec recorder
	am, err := OpenAccuracy(ctx, space, AccuracyRequest{Source: "Zero-Cost", ZeroCost: ZeroCostOptions{Images: 4}}, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.status) != 1 || !strings.Contains(rec.status[0], "synthetic batch of 4") || !strings.Contains(rec.status[0], "proxy") {
		t.Errorf("status before the search: %q", rec.status)
	}
	opts := search.Options{Seed: 1, Population: 4, Generations: 2, PolishOff: true, TopK: 2, Resolutions: []int{160, 176}}
	sel, err := SelectWith(ctx, space, lat, am, search.Limits{MaxLatencyMS: 20}, opts, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.AccuracyProxy || !IsZeroCostSource(sel.AccuracySource) || !strings.Contains(sel.AccuracySource, "synthetic batch") || !strings.Contains(sel.AccuracySource, "PROXY, not an accuracy") {
		t.Errorf("selection: proxy %v, source %q", sel.AccuracyProxy, sel.AccuracySource)
	}
	if !strings.Contains(rec.status[len(rec.status)-1], "subnets scored") {
		t.Errorf("last status %q does not count the subnets scored", rec.status[len(rec.status)-1])
	}
	// A fresh model computes the same score for the best subnet.
	im, err := zerocost.SyntheticImages(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := zerocost.New(space, zerocost.Options{Images: im})
	if err != nil {
		t.Fatal(err)
	}
	best := sel.Top[0]
	r, err := fresh.Score(ctx, best.Config)
	if err != nil {
		t.Fatal(err)
	}
	if best.Accuracy != r.Normalized || best.LatencyMS > 20 || !slices.Contains(opts.Resolutions, best.Config.R) {
		t.Errorf("best %+v: proxy %v, want %v", best, best.Accuracy, r.Normalized)
	}
	if len(sel.Top) > 1 && sel.Top[1].Accuracy > best.Accuracy {
		t.Errorf("top list out of order: %v then %v", best.Accuracy, sel.Top[1].Accuracy)
	}
}

// TestOpenAccuracyZeroCostBadInput: what the zero-cost source refuses,
// each an InputError that says what to do.
func TestOpenAccuracyZeroCostBadInput(t *testing.T) {
	space, _ := supernet.NewSpace(1.0)
	ctx := context.Background()
	one := t.TempDir()
	testfix.WritePicture(t, filepath.Join(one, "only.png"), 48, 40, 1)
	for _, tc := range []struct {
		name string
		req  AccuracyRequest
		want string
	}{
		{"empty folder", AccuracyRequest{Source: ZeroCostSource, ZeroCost: ZeroCostOptions{Data: t.TempDir()}}, "empty"},
		{"one image", AccuracyRequest{Source: ZeroCostSource, ZeroCost: ZeroCostOptions{Data: one}}, "at least 2"},
		{"one image asked for", AccuracyRequest{Source: ZeroCostSource, ZeroCost: ZeroCostOptions{Images: 1}}, "at least 2"},
		{"missing folder", AccuracyRequest{Source: ZeroCostSource, ZeroCost: ZeroCostOptions{Data: filepath.Join(one, "nope")}}, "nope"},
		{"data without zero-cost", AccuracyRequest{ZeroCost: ZeroCostOptions{Data: one}}, "--acc zero-cost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenAccuracy(ctx, space, tc.req, nil)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an InputError mentioning %q", err, tc.want)
			}
		})
	}
}

// spearmanNoTies is Spearman's ρ by 1 − 6Σd²/(n(n²−1)), valid without
// ties: independent of predictor.Spearman's Pearson-of-ranks.
func spearmanNoTies(a, b []float64) float64 {
	rank := func(x []float64) []float64 {
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(i, j int) bool { return x[idx[i]] < x[idx[j]] })
		r := make([]float64, len(x))
		for k, i := range idx {
			r[i] = float64(k)
		}
		return r
	}
	ra, rb := rank(a), rank(b)
	d2 := 0.0
	for i := range ra {
		d2 += (ra[i] - rb[i]) * (ra[i] - rb[i])
	}
	n := float64(len(a))
	return 1 - 6*d2/(n*(n*n-1))
}

// TestCorrelateTutorial compares the proxy with OFA's tutorial predictor
// on random w1.2 subnets: the rows hold the predictor's accuracies and the
// proxy's scores, ρ is Spearman's of those rows, and the JSON keys are
// pinned.
func TestCorrelateTutorial(t *testing.T) {
	space, _ := supernet.NewSpace(1.2)
	tut := testfix.SharedFile(t, "ofa-upstream/acc_predictor.pth")
	ctx := context.Background()
	var rec recorder
	c, err := Correlate(ctx, CorrelateRequest{Space: space, Real: tut, ZeroCost: ZeroCostOptions{Images: 4}, Subnets: 8, Seed: 2}, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subnets != 8 || len(c.Rows) != 8 || c.Measured || !strings.Contains(c.RealSource, "tutorial") || !strings.HasPrefix(c.ProxySource, zerocost.SourcePrefix) {
		t.Fatalf("correlation %+v", c)
	}
	mlp, err := predictor.LoadMLPAccuracy(tut, predictor.MLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := zerocost.SyntheticImages(4, 0)
	fresh, _ := zerocost.New(space, zerocost.Options{Images: im})
	acc, score := make([]float64, 8), make([]float64, 8)
	for i, r := range c.Rows {
		want := make([]float64, 1)
		mlp.Accuracy([]supernet.Config{r.Config}, want)
		z, err := fresh.Score(ctx, r.Config)
		if err != nil {
			t.Fatal(err)
		}
		if r.Accuracy != want[0] || r.ProxyScore != z.Score || r.Units != zerocost.Units(space, r.Config) || r.MACs != space.Costs(r.Config).MACs || r.Config.R%16 != 0 || r.Config.R < 160 {
			t.Errorf("row %d: %+v, want accuracy %v and score %v", i, r, want[0], z.Score)
		}
		acc[i], score[i] = r.Accuracy, r.ProxyScore
	}
	if want := spearmanNoTies(score, acc); math.Abs(c.Spearman-want) > 1e-12 {
		t.Errorf("ρ = %v, want %v", c.Spearman, want)
	}
	if math.IsNaN(c.Kendall) || math.IsNaN(c.MACsSpearman) || math.Abs(c.Kendall) > 1 {
		t.Errorf("τ %v, MACs ρ %v", c.Kendall, c.MACsSpearman)
	}
	if !slices.Contains(rec.phases, PhaseZeroCost) {
		t.Errorf("phases %v", rec.phases)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	want := []string{"kendall_tau", "macs_spearman_rho", "proxy_seconds_per_subnet", "proxy_source", "real_is_measured", "real_source", "rows", "space", "spearman_rho", "subnets", "wall_seconds"}
	if got := sortedKeys(keys); !slices.Equal(got, want) {
		t.Errorf("JSON keys %v, want %v", got, want)
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(keys["rows"], &rows); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(rows[0]); !slices.Equal(got, []string{"accuracy", "config", "macs", "proxy", "proxy_score", "units"}) {
		t.Errorf("row keys %v", got)
	}
	var text strings.Builder
	if err := c.WriteText(&text); err != nil || !strings.Contains(text.String(), "Spearman's ρ") || !strings.Contains(text.String(), "PROXY") {
		t.Errorf("text: %v\n%s", err, text.String())
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestCorrelateCSV compares the proxy with measured rows, in the file's
// order, the first Subnets of them; a constant column leaves ρ undefined
// and out of the JSON.
func TestCorrelateCSV(t *testing.T) {
	space, _ := supernet.NewSpace(1.0)
	var b strings.Builder
	b.WriteString("config,accuracy\n")
	cfgs := []supernet.Config{space.MinConfig(128), space.MaxConfig(128), space.MinConfig(160), space.MaxConfig(160), space.MinConfig(144)}
	for i, c := range cfgs {
		fmt.Fprintf(&b, "\"%s\",%v\n", strings.ReplaceAll(c.String(), `"`, `""`), 70+i)
	}
	path := filepath.Join(t.TempDir(), "measured.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Correlate(context.Background(), CorrelateRequest{Space: space, Real: path, ZeroCost: ZeroCostOptions{Images: 3}, Subnets: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Measured || c.Subnets != 4 {
		t.Fatalf("measured %v, %d subnets", c.Measured, c.Subnets)
	}
	for i, r := range c.Rows {
		if r.Config != cfgs[i] || math.Abs(r.Accuracy-(0.70+0.01*float64(i))) > 1e-12 {
			t.Errorf("row %d: %v %v, want %v %v", i, r.Config, r.Accuracy, cfgs[i], 0.70+0.01*float64(i))
		}
	}
	if _, err := Correlate(context.Background(), CorrelateRequest{Space: space, Real: ZeroCostSource}, nil); err == nil {
		t.Error("the proxy against itself was accepted")
	}
	c.Spearman = math.NaN()
	js, err := json.Marshal(c)
	if err != nil || strings.Contains(string(js), `"spearman_rho"`) {
		t.Errorf("undefined ρ in JSON: %v %s", err, js)
	}
}

// TestReportZeroCost: report.md calls the ranking the zero-cost proxy,
// not a missing accuracy source.
func TestReportZeroCost(t *testing.T) {
	r := &RunResult{Attempts: []Attempt{{Met: true}}, AccuracyProxy: true, AccuracySource: zerocost.SourcePrefix + " … on a synthetic batch of 64 seeded images"}
	var b strings.Builder
	r.mdSummary(mdWriter{&b})
	if s := b.String(); !strings.Contains(s, "Zero-cost proxy") || !strings.Contains(s, "synthetic batch") || strings.Contains(s, "No accuracy source") {
		t.Errorf("summary:\n%s", s)
	}
	r.AccuracySource = predictor.ProxySource
	b.Reset()
	r.mdSummary(mdWriter{&b})
	if !strings.Contains(b.String(), "No accuracy source") {
		t.Errorf("MACs proxy summary:\n%s", b.String())
	}
}

// TestPrepareZeroCost: run checks the zero-cost options before any device
// is contacted, and opens the proxy once for every selection.
func TestPrepareZeroCost(t *testing.T) {
	lim := search.Limits{MaxLatencyMS: 10}
	out := t.TempDir()
	if _, err := Prepare(RunOptions{OutDir: out, Limits: lim, Accuracy: ZeroCostSource, ZeroCost: ZeroCostOptions{Data: t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty --data: %v", err)
	}
	var ie *InputError
	if _, err := Prepare(RunOptions{OutDir: out, Limits: lim, ZeroCost: ZeroCostOptions{Images: 8}}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "--acc zero-cost") {
		t.Errorf("zero-cost options without --acc zero-cost: %v", err)
	}
	p, err := Prepare(RunOptions{OutDir: out, Limits: lim, Accuracy: ZeroCostSource, ZeroCost: ZeroCostOptions{Images: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := p.acc.(*zerocost.Model); !ok || m.Images().N() != 2 || !m.Images().Synthetic() {
		t.Errorf("prepared accuracy %T", p.acc)
	}
}
