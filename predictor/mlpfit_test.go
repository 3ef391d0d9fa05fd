package predictor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// synthResolutions are the sizes synthetic samples are measured at.
var synthResolutions = []int{160, 176, 192, 208, 224}

// synthTarget is a known accuracy function of a config, written here
// from the config's fields alone (not from any encoding the predictors
// use).
type synthTarget func(c *supernet.Config) float64

// linearTarget adds a fixed amount per active block for its kernel and
// expand ratio, and a linear resolution term: exactly what the ridge
// model can represent.
func linearTarget(c *supernet.Config) float64 {
	acc := 0.70 + 0.015*float64(c.R-192)/32
	for st, d := range c.D {
		for j := 0; j < d; j++ {
			b := st*supernet.MaxDepth + j
			acc += 0.001*float64(c.KS[b]-3) + 0.0008*float64(c.E[b]-3)
		}
	}
	return acc
}

// nonlinearTarget grows with a capacity that multiplies each active
// block's kernel and expand ratio, by more the larger the resolution: no
// sum of per-block, per-depth and resolution terms fits the products.
func nonlinearTarget(c *supernet.Config) float64 {
	capacity := 0.0
	for st, d := range c.D {
		for j := 0; j < d; j++ {
			b := st*supernet.MaxDepth + j
			capacity += float64(c.KS[b]) * float64(c.E[b]) / 42 // 7·6 = 42 is the largest
		}
	}
	z := (capacity - 7) / 2.5
	rr := float64(c.R-192) / 32
	return 0.76 + 0.01*z + 0.01*rr + 0.015*z*rr
}

// synthNoise is the measurement noise of synthetic samples, 0.3 points:
// below the binomial spread of a top-1 accuracy near 77% on OFA's
// 10,000 held-out images (√(0.77·0.23/10⁴) ≈ 0.42 points).
const synthNoise = 0.003

// synthSamples draws n random subnets of s and gives them f's accuracy
// plus Gaussian noise of sd noise (a fraction).
func synthSamples(s *supernet.Space, n int, f synthTarget, noise float64, seed uint64) *AccuracySamples {
	rng := rand.New(rand.NewPCG(seed, 77))
	a := &AccuracySamples{}
	for i := range n {
		c := s.RandomConfig(rng)
		c.R = synthResolutions[rng.IntN(len(synthResolutions))]
		c = c.Canonical(s)
		a.Samples = append(a.Samples, AccuracySample{Config: c, Accuracy: f(&c) + noise*rng.NormFloat64(), Line: i + 2})
	}
	return a
}

// testMLP are training options that keep unit tests quick: a narrower
// network than OFA's 400 on the same code path.
var testMLP = MLPFitOptions{Hidden: 128, Epochs: 150}

// TestFitMLPRecoversNonlinearTarget trains on a nonlinear target with
// measurement noise: the MLP's cross-validated error must be well below
// the ridge model's and near the noise. (With OFA's weight decay of 1e-4
// on labels that are fractions, the MLP stays biased by about 0.25
// points whatever the sample count; see MLPFitOptions.)
func TestFitMLPRecoversNonlinearTarget(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	const noise = synthNoise
	a := synthSamples(s, 1000, nonlinearTarget, noise, 1)
	_, rr, err := FitAccuracy(s, a, AccuracyFitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, mr, err := FitMLPAccuracy(context.Background(), s, a, testMLP)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nonlinear target, noise %.2f points: ridge CV RMSE %.3f, MLP CV RMSE %.3f (train %.3f, Spearman %.4f)",
		100*noise, rr.CVRMSE, mr.CVRMSE, mr.TrainRMS, mr.CVRho)
	if mr.CVRMSE > 0.8*rr.CVRMSE {
		t.Errorf("MLP CV RMSE %.3f points is not well below the ridge model's %.3f", mr.CVRMSE, rr.CVRMSE)
	}
	if mr.CVRMSE > 2*100*noise {
		t.Errorf("MLP CV RMSE %.3f points is far above the noise, %.2f", mr.CVRMSE, 100*noise)
	}
	// The model predicts unseen subnets near the noiseless target.
	fresh := synthSamples(s, 300, nonlinearTarget, 0, 2)
	cfgs := make([]supernet.Config, len(fresh.Samples))
	want := make([]float64, len(cfgs))
	for i, smp := range fresh.Samples {
		cfgs[i], want[i] = smp.Config, smp.Accuracy
	}
	got := make([]float64, len(cfgs))
	m.Accuracy(cfgs, got)
	rmse, _ := errorPoints(got, want)
	t.Logf("RMSE against the noiseless target on 300 fresh subnets: %.3f points", rmse)
	if rmse > 1.5*100*noise {
		t.Errorf("RMSE on fresh subnets %.3f points", rmse)
	}
	if mr.Resolutions == nil || len(mr.Resolutions) != len(synthResolutions) || mr.Samples != 1000 || mr.Folds != 5 {
		t.Errorf("report %+v", mr)
	}
	if math.Abs(mr.BaseAcc-meanAccuracy(a)) > 1e-6 {
		t.Errorf("base_acc %v, mean accuracy %v", mr.BaseAcc, meanAccuracy(a))
	}
}

func meanAccuracy(a *AccuracySamples) float64 {
	var s float64
	for _, smp := range a.Samples {
		s += smp.Accuracy
	}
	return s / float64(len(a.Samples))
}

// TestChooseAccuracy: on a linear target the ridge model wins the
// cross-validation and is returned as FitAccuracy fits it; on a
// nonlinear one the MLP wins. Both reports are filled either way.
func TestChooseAccuracy(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	opts := AccuracyFitOptions{MLP: testMLP}
	for _, tc := range []struct {
		name   string
		f      synthTarget
		noise  float64
		chosen string
	}{
		// Low noise: with 0.3 points the heavily regularized MLP is
		// nearly linear itself and comes within a few hundredths.
		{"linear", linearTarget, 0.001, ChoiceRidge},
		{"nonlinear", nonlinearTarget, synthNoise, ChoiceMLP},
	} {
		a := synthSamples(s, 600, tc.f, tc.noise, 3)
		m, ch, err := ChooseAccuracy(context.Background(), s, a, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s | %s", tc.name, ch.Reason, m.Source())
		if ch.Chosen != tc.chosen || ch.MLP == nil || ch.Ridge == nil || FitChoice(m) != ch {
			t.Fatalf("%s: chose %s (%+v)", tc.name, ch.Chosen, ch)
		}
		if ch.Ridge.Folds != ch.MLP.Folds || ch.Ridge.Samples != ch.MLP.Samples {
			t.Errorf("%s: the fits were scored differently: %+v vs %+v", tc.name, ch.Ridge, ch.MLP)
		}
		want := "chosen"
		switch tc.chosen {
		case ChoiceRidge:
			r, ok := m.(*RidgeAccuracy)
			if !ok || !strings.HasPrefix(m.Source(), "ridge regression") || ch.Ridge.CVRMSE > ch.MLP.CVRMSE {
				t.Fatalf("%s: %T %q", tc.name, m, m.Source())
			}
			// The ridge path is unchanged: the same coefficients as FitAccuracy alone.
			alone, _, _ := FitAccuracy(s, a, AccuracyFitOptions{})
			for i := range alone.coef {
				if alone.coef[i] != r.coef[i] {
					t.Fatalf("coefficient %d: %v alone, %v chosen", i, alone.coef[i], r.coef[i])
				}
			}
		case ChoiceMLP:
			if _, ok := m.(*FittedMLPAccuracy); !ok || !strings.HasPrefix(m.Source(), "MLP (OFA form") || ch.MLP.CVRMSE >= ch.Ridge.CVRMSE {
				t.Fatalf("%s: %T %q", tc.name, m, m.Source())
			}
		}
		if !strings.Contains(m.Source(), want) || !strings.Contains(m.Source(), fmtPoints(ch.Ridge.CVRMSE)) || !strings.Contains(m.Source(), fmtPoints(ch.MLP.CVRMSE)) {
			t.Errorf("%s: source %q does not give both errors and the choice", tc.name, m.Source())
		}
		var b strings.Builder
		if err := ch.WriteText(&b); err != nil || !strings.Contains(b.String(), "ridge  CV RMSE") || !strings.Contains(b.String(), "MLP    CV RMSE") {
			t.Errorf("%s: text report %q, %v", tc.name, b.String(), err)
		}
	}
}

// TestChooseAccuracySkipsMLPOnFewSamples: below MLPMinSamples only the
// ridge model is fitted, and the choice says why.
func TestChooseAccuracySkipsMLPOnFewSamples(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	a := synthSamples(s, MLPMinSamples-1, nonlinearTarget, 0.001, 4)
	m, ch, err := ChooseAccuracy(context.Background(), s, a, AccuracyFitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*RidgeAccuracy); !ok || ch.MLP != nil || !strings.Contains(ch.MLPSkipped, "fewer than the 50") || !strings.Contains(m.Source(), "no MLP trained") {
		t.Fatalf("%T %q %+v", m, m.Source(), ch)
	}
}

// TestFitMLPDeterministic: the same samples and seed give the same
// bytes whether the folds train on one goroutine or two; another seed
// gives another network.
func TestFitMLPDeterministic(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	a := synthSamples(s, 120, nonlinearTarget, 0.001, 5)
	opts := MLPFitOptions{Hidden: 32, Epochs: 20, BatchSize: 32}
	fit := func(procs int, seed uint64) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		o := opts
		o.Seed = seed
		m, _, err := FitMLPAccuracy(context.Background(), s, a, o)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := m.Write(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	one, two := fit(1, 7), fit(2, 7)
	if !bytes.Equal(one, two) {
		t.Fatal("GOMAXPROCS 1 and 2 trained different networks")
	}
	if bytes.Equal(one, fit(2, 8)) {
		t.Fatal("seeds 7 and 8 trained the same network")
	}
}

// TestFittedMLPSaveLoad: a saved MLP loads back, through the loader
// select uses, with bit-identical predictions, its report and choice.
func TestFittedMLPSaveLoad(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	a := synthSamples(s, 200, nonlinearTarget, 0.001, 6)
	m, _, err := FitMLPAccuracy(context.Background(), s, a, MLPFitOptions{Hidden: 32, Epochs: 10})
	if err != nil {
		t.Fatal(err)
	}
	m.choice = &AccuracyChoice{Chosen: ChoiceMLP, Reason: "test", Ridge: &AccuracyFitReport{Samples: 200}, MLP: m.report}
	path := filepath.Join(t.TempDir(), "acc.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadAccuracyModel(s, path, MLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, ok := got.(*FittedMLPAccuracy)
	if !ok {
		t.Fatalf("loaded %T", got)
	}
	cfgs := randomConfigs(s, 500, synthResolutions)
	want, have := make([]float64, len(cfgs)), make([]float64, len(cfgs))
	m.Accuracy(cfgs, want)
	q.Accuracy(cfgs, have)
	for i := range want {
		if want[i] != have[i] || math.IsNaN(want[i]) {
			t.Fatalf("config %d: %v before saving, %v after", i, want[i], have[i])
		}
	}
	if q.Source() != m.Source() || !reflect.DeepEqual(q.Report(), m.Report()) || FitChoice(q).Reason != "test" || q.SpaceName() != s.Name {
		t.Errorf("loaded %q %+v, saved %q %+v", q.Source(), q.Report(), m.Source(), m.Report())
	}
	// An unseen resolution is NaN, and a search restricted to it is refused.
	out := make([]float64, 1)
	q.Accuracy([]supernet.Config{s.MaxConfig(200)}, out)
	if !math.IsNaN(out[0]) {
		t.Errorf("r=200 (not trained): %v, want NaN", out[0])
	}
	if err := CheckAccuracyResolutions(q, s, []int{160, 200}); err == nil || !strings.Contains(err.Error(), "[200]") {
		t.Errorf("resolution check: %v", err)
	}
	if err := CheckAccuracyResolutions(q, s, []int{160, 224}); err != nil {
		t.Error(err)
	}
	// The space check accepts the full space (the search keeps to the
	// trained sizes) but not another space or disjoint sizes.
	if err := q.CheckSpace(s); err != nil {
		t.Error(err)
	}
	w12, _ := supernet.NewSpace(1.2)
	if err := q.CheckSpace(w12); err == nil {
		t.Error("w1.0 MLP accepted for w1.2")
	}
	only, _ := s.WithResolutions([]int{128, 132})
	if err := q.CheckSpace(only); err == nil || !strings.Contains(err.Error(), "none of which") {
		t.Errorf("disjoint resolutions: %v", err)
	}
}

// TestFitAccuracyBadInput: clear errors, before any training.
func TestFitAccuracyBadInput(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	ctx := context.Background()
	constant := synthSamples(s, 80, linearTarget, 0, 7)
	for i := range constant.Samples {
		constant.Samples[i].Accuracy = 0.75
	}
	offGrid := synthSamples(s, 80, linearTarget, 0.001, 8)
	offGrid.Samples[5].Config.R = 240
	offGrid.Samples[5].Line = 9
	for _, tc := range []struct {
		name string
		a    *AccuracySamples
		want string
	}{
		{"too few", synthSamples(s, 5, linearTarget, 0.001, 9), "5 samples; measure at least 10"},
		{"constant", constant, "all 80 samples have accuracy 0.75: there is nothing to fit"},
		{"resolution outside the space", offGrid, "line 9: resolution 240 is not one of ofa-mbv3-w1.0's searchable resolutions 128..224 step 4"},
	} {
		if _, _, err := ChooseAccuracy(ctx, s, tc.a, AccuracyFitOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ChooseAccuracy: %v, want %q", tc.name, err, tc.want)
		}
		if _, _, err := FitMLPAccuracy(ctx, s, tc.a, MLPFitOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: FitMLPAccuracy: %v, want %q", tc.name, err, tc.want)
		}
	}
	a := synthSamples(s, 60, linearTarget, 0.001, 10)
	if _, _, err := FitMLPAccuracy(ctx, s, a, MLPFitOptions{Hidden: 100}); err == nil || !strings.Contains(err.Error(), "multiple of 16") {
		t.Errorf("hidden 100: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := FitMLPAccuracy(cancelled, s, a, MLPFitOptions{Hidden: 16}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled: %v", err)
	}
}

// tinyMLPJSON is a valid saved MLP small enough to seed the fuzzer: one
// hidden layer of width h over resolutions rs, every weight v.
func tinyMLPJSON(rs []int, h int, v float32) []byte {
	in := len(rs) + 120
	row := func(n int) []float32 {
		r := make([]float32, n)
		for i := range r {
			r[i] = v
		}
		return r
	}
	w := &mlpWeights{Base: 0.7}
	l0 := mlpLayer{Bias: row(h)}
	for range h {
		l0.Weight = append(l0.Weight, row(in))
	}
	w.Layers = []mlpLayer{l0, {Weight: [][]float32{row(h)}}}
	m := &FittedMLPAccuracy{space: "ofa-mbv3-w1.0", weights: w, source: "tiny"}
	net, err := w.model(m.space, rs)
	if err != nil {
		panic(err)
	}
	m.net = net
	var b bytes.Buffer
	m.Write(&b)
	return b.Bytes()
}

func TestReadFittedMLPAccuracyErrors(t *testing.T) {
	good := string(tinyMLPJSON([]int{160, 224}, 2, 0))
	if _, err := ReadFittedMLPAccuracy(strings.NewReader(good)); err != nil {
		t.Fatalf("tiny model: %v", err)
	}
	for _, tc := range []struct{ old, new, want string }{
		{`"format":"edgefit-accuracy-mlp"`, `"format":"edgefit-accuracy-ridge"`, "not an edgefit MLP accuracy predictor"},
		{`"version":1`, `"version":2`, "version 2"},
		{`"space":"ofa-mbv3-w1.0"`, `"space":"resnet50"`, "unknown search space"},
		{`"encoding":"ofa-nas"`, `"encoding":"ofa-tutorial"`, "want \"ofa-nas\""},
		{`"resolutions":[160,224]`, `"resolutions":[]`, "no resolutions"},
		{`"resolutions":[160,224]`, `"resolutions":[224,160]`, "must ascend"},
		{`"resolutions":[160,224]`, `"resolutions":[160]`, "122 inputs = 2 resolutions + 120, but 1 image sizes"},
		{`"base_acc":0.7`, `"base_acc":0.7,"extra":1`, "unknown field"},
		{`]],"bias"`, `],[0]],"bias"`, "weight row 2 has 1 columns, row 0 has 122"},
		{`{"weight":[[0,0]]}`, `{"weight":[[0,0]],"bias":[0]}`, "output layer 1 has a bias"},
		{`{"weight":[[0,0]]}`, `{"weight":[[0,0,0]]}`, "shape [1 3], want [1 2]"},
	} {
		bad := strings.Replace(good, tc.old, tc.new, 1)
		if bad == good {
			t.Fatalf("%q is not in the tiny model", tc.old)
		}
		if _, err := ReadFittedMLPAccuracy(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}

// FuzzReadFittedMLPAccuracy: the loader never panics, and a model it
// accepts scores subnets without panicking: at its resolutions (finite
// unless its weights overflow float32) and NaN at others.
func FuzzReadFittedMLPAccuracy(f *testing.F) {
	f.Add(tinyMLPJSON([]int{160, 224}, 2, 0))
	f.Add(tinyMLPJSON([]int{192}, 16, 0.5))
	f.Add([]byte(`{"format":"edgefit-accuracy-mlp","version":1,"space":"ofa-mbv3-w1.0","encoding":"ofa-nas","resolutions":[224],"base_acc":0.7,"layers":[{"weight":[[1]],"bias":[0]},{"weight":[[1]]}]}`))
	s, _ := supernet.NewSpace(1.0)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadFittedMLPAccuracy(bytes.NewReader(data))
		if err != nil {
			return
		}
		rs := m.Resolutions()
		if len(rs) == 0 {
			t.Fatal("a model without resolutions loaded")
		}
		out := make([]float64, 3)
		above := rs[len(rs)-1] + 1 // ascending, so not trained
		m.Accuracy([]supernet.Config{s.MinConfig(rs[0]), s.MaxConfig(rs[len(rs)-1]), s.MaxConfig(above)}, out)
		if !math.IsNaN(out[2]) {
			t.Fatalf("r=%d is not trained but scored %v", above, out[2])
		}
	})
}

// TestAccuracyChoiceJSONKeys pins the report's keys and units.
func TestAccuracyChoiceJSONKeys(t *testing.T) {
	ch := &AccuracyChoice{Chosen: ChoiceMLP, Reason: "mlp: CV RMSE 0.31 points vs 0.52 for ridge",
		Ridge: &AccuracyFitReport{Samples: 1000, Percent: true, Unit: "percent", Lambda: 0.1, Folds: 5, CVRMSE: 0.52, CVMAE: 0.4, CVRho: 0.97, TrainRMS: 0.45},
		MLP: &MLPFitReport{Samples: 1000, Percent: true, Resolutions: []int{160, 224}, Hidden: 400, Layers: 3, Epochs: 150, BatchSize: 256,
			LR: 0.001, WeightDecay: 0.0001, Seed: 1, BaseAcc: 0.77, Folds: 5, CVRMSE: 0.31, CVMAE: 0.25, CVRho: 0.99, TrainRMS: 0.2}}
	b, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"chosen":"mlp","reason":"mlp: CV RMSE 0.31 points vs 0.52 for ridge",` +
		`"ridge":{"samples":1000,"percent":true,"unit":"percent","lambda":0.1,"folds":5,"cv_rmse_pct_points":0.52,"cv_mae_pct_points":0.4,"cv_spearman":0.97,"train_rmse_pct_points":0.45},` +
		`"mlp":{"samples":1000,"percent":true,"resolutions":[160,224],"hidden":400,"hidden_layers":3,"epochs":150,"batch_size":256,"learning_rate":0.001,"weight_decay":0.0001,"seed":1,"base_acc":0.77,"folds":5,"cv_rmse_pct_points":0.31,"cv_mae_pct_points":0.25,"cv_spearman":0.99,"train_rmse_pct_points":0.2}}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
	skipped, _ := json.Marshal(&AccuracyChoice{Chosen: ChoiceRidge, Reason: "r", Ridge: &AccuracyFitReport{}, MLPSkipped: "30 samples"})
	if !strings.Contains(string(skipped), `"mlp_skipped":"30 samples"`) || strings.Contains(string(skipped), `"mlp":`) {
		t.Errorf("skipped MLP: %s", skipped)
	}
}

// TestFittedMLPFileKeys pins the saved file's top-level keys and the
// layer layout (weights elided).
func TestFittedMLPFileKeys(t *testing.T) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(tinyMLPJSON([]int{160, 224}, 2, 0), &f); err != nil {
		t.Fatal(err)
	}
	var layers []map[string]json.RawMessage
	if err := json.Unmarshal(f["layers"], &layers); err != nil {
		t.Fatal(err)
	}
	shape := make([]string, len(layers))
	for i, l := range layers {
		var w [][]float32
		json.Unmarshal(l["weight"], &w)
		shape[i] = fmt.Sprintf("%dx%d bias=%v", len(w), len(w[0]), l["bias"] != nil)
	}
	f["layers"], _ = json.Marshal(shape)
	b, _ := json.Marshal(f) // keys sorted
	const want = `{"base_acc":0.7,"encoding":"ofa-nas","format":"edgefit-accuracy-mlp","layers":["2x122 bias=true","1x2 bias=false"],` +
		`"resolutions":[160,224],"source":"tiny","space":"ofa-mbv3-w1.0","version":1}`
	if string(b) != want {
		t.Errorf("file\n%s\nwant\n%s", b, want)
	}
}
