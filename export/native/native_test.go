package native

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"runtime"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/internal/testfix/ofafixture"
	"github.com/edgefit/edgefit/supernet"
)

// images returns n images of r×r of smooth random colour fields with some
// noise, scaled like ImageNet-normalized inputs.
func images(n, r int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]float32, 0, n*3*r*r)
	for range n * 3 {
		fx, fy, ph, off := rng.Float64()*8, rng.Float64()*8, rng.Float64()*6, rng.NormFloat64()
		for y := range r {
			for x := range r {
				v := off + math.Cos(fx*float64(x)/float64(r)+fy*float64(y)/float64(r)+ph) + 0.2*rng.NormFloat64()
				out = append(out, float32(v))
			}
		}
	}
	return out
}

// statsError is the parity metric of the export package's calibration
// tests: per BatchNorm, ‖Δmean‖/‖std‖ and ‖Δvar‖/‖var‖ over the channels.
// Where every variance is 0 (one image whose map is 1x1) the errors are
// absolute.
func statsError(got, want export.BatchStats) (float64, float64) {
	var dm, nm, dv, nv float64
	for c := range want.Mean {
		dm += math.Pow(got.Mean[c]-want.Mean[c], 2)
		nm += want.Var[c]
		dv += math.Pow(got.Var[c]-want.Var[c], 2)
		nv += want.Var[c] * want.Var[c]
	}
	if nv == 0 {
		nm, nv = 1, 1
	}
	return math.Sqrt(dm / nm), math.Sqrt(dv / nv)
}

// worstError compares every BatchNorm's statistics and returns the worst
// errors of the means and of the variances.
func worstError(t *testing.T, net *supernet.Net, got, want []export.BatchStats) (float64, float64) {
	t.Helper()
	bns := net.BatchNorms()
	if len(got) != len(bns) || len(want) != len(bns) {
		t.Fatalf("%d statistics, %d reference statistics, %d BatchNorms", len(got), len(want), len(bns))
	}
	wm, wv := 0.0, 0.0
	for i, nb := range bns {
		if len(got[i].Mean) != len(nb.BN.Mean) || len(got[i].Var) != len(nb.BN.Mean) {
			t.Fatalf("%s: %d means and %d variances, want %d", nb.Name, len(got[i].Mean), len(got[i].Var), len(nb.BN.Mean))
		}
		m, v := statsError(got[i], want[i])
		if math.IsNaN(m) || math.IsNaN(v) {
			t.Fatalf("%s: NaN statistics", nb.Name)
		}
		wm, wv = max(wm, m), max(wv, v)
	}
	return wm, wv
}

type fixtureCase struct {
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config"`
	Input  string          `json:"input"`  // float32 NCHW file beside reference.json
	Logits []float64       `json:"logits"` // PyTorch's, for Input
}

// fixtureDir is the OFA w1.0 fixture's directory below ../shared: its
// checkpoint, reference.json and the cases' inputs.
var fixtureDir = path.Dir(ofafixture.Path)

// fixture returns the OFA w1.0 fixture checkpoint of ../shared and the
// subnet configs of its reference cases.
func fixture(t testing.TB) (*supernet.Checkpoint, []fixtureCase) {
	t.Helper()
	ck := ofafixture.Checkpoint(t)
	raw, err := os.ReadFile(testfix.SharedFile(t, fixtureDir+"/reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []fixtureCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ck, ref.Cases
}

// fixtureNet extracts the fixture case's subnet at resolution r.
func fixtureNet(t testing.TB, name string, r int) *supernet.Net {
	t.Helper()
	ck, cases := fixture(t)
	for _, fc := range cases {
		if fc.Name != name {
			continue
		}
		cfg, err := supernet.ParseConfig(ck.Space, fc.Config)
		if err != nil {
			t.Fatal(err)
		}
		cfg.R = r
		net, err := supernet.Extract(ck, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return net
	}
	t.Fatalf("fixture has no case %q", name)
	return nil
}

// randomNet returns a constructor of a random subnet of the named space
// at resolution r, with seeded weights.
func randomNet(t testing.TB, space string, seed uint64, r int) func() *supernet.Net {
	return func() *supernet.Net {
		s := spaceNamed(t, space)
		cfg := s.RandomConfig(rand.New(rand.NewPCG(seed, 3)))
		cfg.R = r
		return supernet.Init(s, cfg, seed)
	}
}

func spaceNamed(t testing.TB, name string) *supernet.Space {
	t.Helper()
	s, err := supernet.SpaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newCalibratorKernels is NewCalibrator with a chosen kernel set (nil:
// the default).
func newCalibratorKernels(tb testing.TB, net *supernet.Net, n int, ks *kernelSet) *Calibrator {
	tb.Helper()
	c, err := NewCalibrator(net, n)
	if err != nil {
		tb.Fatal(err)
	}
	if ks != nil {
		c.ks = ks
		c.plan = buildPlan(net, ks)
	}
	return c
}

func runCalibrator(tb testing.TB, ks *kernelSet, net *supernet.Net, in []float32, n int) []export.BatchStats {
	tb.Helper()
	c := newCalibratorKernels(tb, net, n, ks)
	defer c.Close()
	got, err := c.BatchStats(context.Background(), in, n)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// fusedLimit is what the fused multiply-add kernels are held to: their
// rounding differs from the reference's in every product, and a deep net
// with batch statistics amplifies that to about 1e-5 at 224 and far more
// when the last stages are 1x1 maps (r < 64), whose variances come from a
// handful of values.
func fusedLimit(r int) float64 {
	if r < 64 {
		return 1e-2
	}
	return 3e-5
}

// TestMatchesGoReference compares the engine with export.ForwardBatchStats
// on the fixture's trained subnets and on random subnets of both spaces,
// at several resolutions (odd ones, and 32, where the last stage is 1x1)
// and batch sizes, for every kernel set this machine runs.
func TestMatchesGoReference(t *testing.T) {
	type tc struct {
		name  string
		net   func() *supernet.Net
		n     int
		short bool
	}
	random := func(space string, seed uint64, r int) func() *supernet.Net { return randomNet(t, space, seed, r) }
	fixed := func(space string, max bool, r int) func() *supernet.Net {
		return func() *supernet.Net {
			s := spaceNamed(t, space)
			cfg := s.MinConfig(r)
			if max {
				cfg = s.MaxConfig(r)
			}
			return supernet.Init(s, cfg, 7)
		}
	}
	fix := func(name string, r int) func() *supernet.Net {
		return func() *supernet.Net { return fixtureNet(t, name, r) }
	}
	cases := []tc{
		{"w1.0 random r=128", random("w1.0", 1, 128), 2, true},
		{"w1.0 max r=130", fixed("w1.0", true, 130), 1, true},
		{"w1.2 random r=160", random("w1.2", 2, 160), 2, false},
		{"w1.2 max r=176", fixed("w1.2", true, 176), 1, false},
		{"w1.2 min r=33", fixed("w1.2", false, 33), 7, false},
		{"w1.0 random r=32", random("w1.0", 3, 32), 3, false},
		{"w1.2 random r=32", random("w1.2", 4, 32), 1, false},
		{"fixture random0 r=128", fix("random0", 128), 2, false},
		{"fixture max r=130", fix("max", 130), 1, false},
		{"fixture random3 r=176", fix("random3", 176), 1, false},
		{"fixture min r=224", fix("min", 224), 2, false},
	}
	for _, c := range cases {
		if testing.Short() && !c.short {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			net := c.net()
			r := net.Config.R
			in := images(c.n, r, uint64(r))
			want, err := export.ForwardBatchStats(net, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, ks := range kernelSets() {
				got := runCalibrator(t, ks, net, in, c.n)
				m, v := worstError(t, net, got, want)
				t.Logf("n=%d, kernels %s: worst error of the means %.2e, of the variances %.2e", c.n, ks.name, m, v)
				// The exact sets round every float32 operation as the
				// reference does and usually agree to 1e-14 (the order
				// of the float64 statistics sums differs). That order
				// can round a statistic's last float64 bit the other
				// way, and then, rarely, one normalized activation's
				// float32 rounding: at batch 1 a deep net carries such a
				// one-ulp difference to a few 1e-6.
				limit := 1e-5
				if !ks.exact {
					limit = fusedLimit(r)
				}
				if m > limit || v > limit {
					t.Errorf("%v n=%d, kernels %s: statistics differ from the Go reference: means %.2e, variances %.2e (limit %.0e)", net.Config, c.n, ks.name, m, v, limit)
				}
			}
		})
	}
}

// TestConvBias compares the engine with export.ForwardBatchStats on
// random subnets whose convolutions (each followed by a BatchNorm) have a
// bias, which CheckNet accepts though OFA's nets have none: the raw
// outputs leave the bias out, so the normalization must use their batch
// mean while the reported mean includes the bias.
//
// The reference adds the bias in float32 before its statistics, the engine
// adds it to the float64 mean, so even the exact kernel sets round
// differently here: by up to 1.5e-5 at r=64 and 6e-6 at 96 and 128
// (measured on several seeds), where a mishandled bias is off by about 1.
func TestConvBias(t *testing.T) {
	for _, tc := range []struct {
		space string
		seed  uint64
		r, n  int
	}{{"w1.0", 5, 96, 2}, {"w1.2", 6, 128, 3}} {
		net := randomNet(t, tc.space, tc.seed, tc.r)()
		rng := rand.New(rand.NewPCG(tc.seed, 17))
		withBias := func(c *supernet.ConvBN) {
			c.Bias = make([]float32, len(c.BN.Mean))
			for j := range c.Bias {
				c.Bias[j] = float32(0.5 * rng.NormFloat64())
			}
		}
		withBias(&net.FirstConv)
		for i := range net.Blocks {
			b := &net.Blocks[i]
			if b.Expand != nil {
				withBias(b.Expand)
			}
			withBias(&b.Depthwise)
			withBias(&b.Project)
		}
		withBias(&net.FinalExpand)
		in := images(tc.n, tc.r, tc.seed)
		want, err := export.ForwardBatchStats(net, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, ks := range kernelSets() {
			got := runCalibrator(t, ks, net, in, tc.n)
			m, v := worstError(t, net, got, want)
			t.Logf("%s r=%d n=%d, kernels %s: worst error of the means %.2e, of the variances %.2e", tc.space, tc.r, tc.n, ks.name, m, v)
			const limit = 5e-5
			if m > limit || v > limit {
				t.Errorf("%s r=%d n=%d with conv biases, kernels %s: statistics differ from the Go reference: means %.2e, variances %.2e (limit %.0e)", tc.space, tc.r, tc.n, ks.name, m, v, limit)
			}
		}
	}
}

// ortStats runs export.CalibrationModel in ONNX Runtime.
func ortStats(t *testing.T, net *supernet.Net, in []float32, n int) []export.BatchStats {
	t.Helper()
	model, err := export.CalibrationModel(net)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.Open(model, ort.Options{IntraOpThreads: 2, InterOpThreads: 1, Batch: n})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	outs, err := s.RunContext(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	bns := net.BatchNorms()
	if len(outs) != 2*len(bns) {
		t.Fatalf("%d graph outputs for %d BatchNorms", len(outs), len(bns))
	}
	stats := make([]export.BatchStats, len(bns))
	for i, nb := range bns {
		if got := s.OutputNames()[2*i]; got != nb.Name+".mean" {
			t.Fatalf("output %d is %q, want %q", 2*i, got, nb.Name+".mean")
		}
		stats[i] = export.BatchStats{Mean: make([]float64, len(outs[2*i])), Var: make([]float64, len(outs[2*i+1]))}
		for c := range outs[2*i] {
			stats[i].Mean[c] = float64(outs[2*i][c])
			stats[i].Var[c] = float64(outs[2*i+1][c])
		}
	}
	return stats
}

// TestMatchesONNXRuntime compares the engine with the ONNX Runtime
// calibration graph on the fixture's subnets at several resolutions and
// batch sizes, on random w1.2 subnets, and at OFA's calibration batch of
// 200 images at 224.
//
// The engine reproduces the Go reference's rounding, and ONNX Runtime has
// its own (fused multiply-adds, blocked sums): over some 60 batch-normalized
// layers the two drift apart by a few 1e-6, and by up to 1.3e-5 on the
// largest subnet with a single image (measured on the fixture over every
// subnet, r in {128, 130, 160, 176, 224} and n in {1, 2, 7}: 89 of 90 cases
// within 1e-5), where each variance comes from one image. Batches of one
// are therefore held to 2e-5, the rest to 1e-5.
func TestMatchesONNXRuntime(t *testing.T) {
	testfix.Need(t, testfix.ORT, ort.Init(""))
	type tc struct {
		name string
		net  func() *supernet.Net
		n    int
	}
	fix := func(name string, r int) func() *supernet.Net {
		return func() *supernet.Net { return fixtureNet(t, name, r) }
	}
	random := func(seed uint64, r int) func() *supernet.Net {
		return func() *supernet.Net {
			s := spaceNamed(t, "w1.2")
			cfg := s.RandomConfig(rand.New(rand.NewPCG(seed, 5)))
			cfg.R = r
			return supernet.Init(s, cfg, seed)
		}
	}
	cases := []tc{
		{"fixture max r=224", fix("max", 224), 2},
		{"fixture min r=128", fix("min", 128), 7},
		{"fixture random0 r=130", fix("random0", 130), 1},
		{"fixture random1 r=160", fix("random1", 160), 7},
		{"fixture random2 r=176", fix("random2", 176), 2},
		{"fixture random3 r=224", fix("random3", 224), 1},
		{"fixture max r=128", fix("max", 128), 1},
		{"w1.2 random r=160", random(1, 160), 2},
		{"w1.2 random r=224", random(2, 224), 7},
	}
	if !testing.Short() {
		cases = append(cases, tc{"fixture random1 r=224 batch 200", fix("random1", 224), 200})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			net := c.net()
			in := images(c.n, net.Config.R, uint64(c.n))
			got := runCalibrator(t, nil, net, in, c.n)
			want := ortStats(t, net, in, c.n)
			m, v := worstError(t, net, got, want)
			t.Logf("n=%d: worst error of the means %.2e, of the variances %.2e", c.n, m, v)
			limit := 1e-5
			if c.n == 1 {
				limit = 2e-5
			}
			if m > limit || v > limit {
				t.Errorf("%v n=%d: statistics differ from ONNX Runtime's: means %.2e, variances %.2e (limit %.0e)", net.Config, c.n, m, v, limit)
			}
		})
	}
}

// TestDeterministic checks that the statistics do not depend on the
// number of threads (Options.Threads, or GOMAXPROCS by default), bit for
// bit, for every kernel set.
func TestDeterministic(t *testing.T) {
	cfg := spaceNamed(t, "w1.0").RandomConfig(rand.New(rand.NewPCG(9, 9)))
	cfg.R = 96
	net := supernet.Init(spaceNamed(t, "w1.0"), cfg, 3)
	const n = 7
	in := images(n, 96, 5)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, ks := range kernelSets() {
		var ref []export.BatchStats
		for _, run := range []struct{ threads, procs int }{{1, 2}, {2, 2}, {3, 2}, {0, 1}, {0, 2}} {
			runtime.GOMAXPROCS(run.procs)
			c := newCalibratorKernels(t, net, n, ks)
			c.opts.Threads = run.threads
			got, err := c.BatchStats(context.Background(), in, n)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = got
				continue
			}
			for i := range ref {
				for j := range ref[i].Mean {
					if math.Float64bits(got[i].Mean[j]) != math.Float64bits(ref[i].Mean[j]) || math.Float64bits(got[i].Var[j]) != math.Float64bits(ref[i].Var[j]) {
						t.Fatalf("kernels %s: BatchNorm %d channel %d differs between 1 thread and %d threads with GOMAXPROCS %d: mean %v vs %v, var %v vs %v",
							ks.name, i, j, run.threads, run.procs, got[i].Mean[j], ref[i].Mean[j], got[i].Var[j], ref[i].Var[j])
					}
				}
			}
		}
	}
}

// TestReuse runs batches of different sizes through one Calibrator, the
// smaller after the larger, and checks each against a fresh Calibrator.
func TestReuse(t *testing.T) {
	s := spaceNamed(t, "w1.2")
	net := supernet.Init(s, s.MinConfig(64), 4)
	c, err := NewCalibrator(net, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{5, 2, 5, 1} {
		in := images(n, 64, uint64(n))
		got, err := c.BatchStats(context.Background(), in, n)
		if err != nil {
			t.Fatal(err)
		}
		want := runCalibrator(t, nil, net, in, n)
		if m, v := worstError(t, net, got, want); m != 0 || v != 0 {
			t.Errorf("batch of %d after others: differs from a fresh calibrator by %.2e, %.2e", n, m, v)
		}
	}
}

// countingCtx is a context whose Err turns Canceled after a number of
// calls.
type countingCtx struct {
	context.Context
	calls, after int
}

func (c *countingCtx) Err() error {
	c.calls++
	if c.calls > c.after {
		return context.Canceled
	}
	return nil
}

// TestContext checks that a cancelled context stops a batch between
// layers.
func TestContext(t *testing.T) {
	s := spaceNamed(t, "w1.0")
	net := supernet.Init(s, s.MinConfig(64), 1)
	c, err := NewCalibrator(net, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := images(2, 64, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.BatchStats(ctx, in, 2); err != context.Canceled {
		t.Errorf("cancelled context: got %v, want context.Canceled", err)
	}
	cc := &countingCtx{Context: context.Background(), after: 3}
	if _, err := c.BatchStats(cc, in, 2); err != context.Canceled {
		t.Errorf("context cancelled after 3 layers: got %v, want context.Canceled", err)
	}
	if cc.calls != 4 {
		t.Errorf("context checked %d times before stopping, want 4 (once per layer)", cc.calls)
	}
	// A batch still runs afterwards, and the number of checks is one per
	// BatchNorm.
	cc = &countingCtx{Context: context.Background(), after: 1 << 30}
	if _, err := c.BatchStats(cc, in, 2); err != nil {
		t.Fatal(err)
	}
	if want := len(net.BatchNorms()); cc.calls != want {
		t.Errorf("context checked %d times in a batch, want %d (once per BatchNorm)", cc.calls, want)
	}
}

// TestErrors checks that bad input gets an error, not a panic.
func TestErrors(t *testing.T) {
	s := spaceNamed(t, "w1.0")
	net := supernet.Init(s, s.MinConfig(64), 1)
	if _, err := NewCalibrator(nil, 1); err == nil {
		t.Error("nil net accepted")
	}
	broken := supernet.Init(s, s.MinConfig(64), 1)
	broken.Blocks[2].Project.Weight.Data = broken.Blocks[2].Project.Weight.Data[1:]
	if _, err := NewCalibrator(broken, 1); err == nil {
		t.Error("net with a truncated weight accepted")
	}
	if _, err := NewCalibrator(net, 0); err == nil {
		t.Error("batch size 0 accepted")
	}
	if _, err := NewCalibratorOptions(net, 1, Options{Threads: -1}); err == nil {
		t.Error("negative thread count accepted")
	}
	c, err := NewCalibrator(net, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := images(3, 64, 1)
	for _, bad := range []struct {
		what string
		data []float32
		n    int
	}{
		{"too few values", in[:len(in)-1], 3},
		{"too many values", append(in[:len(in):len(in)], 0), 3},
		{"n larger than the batch size", images(4, 64, 1), 4},
		{"n = 0", nil, 0},
		{"negative n", in, -1},
		{"values of another resolution", images(3, 65, 1), 3},
		{"a NaN", withValue(in, 5000, float32(math.NaN())), 3},
		{"an infinity", withValue(in, 7, float32(math.Inf(-1))), 3},
	} {
		if _, err := c.BatchStats(ctx, bad.data, bad.n); err == nil {
			t.Errorf("%s accepted", bad.what)
		}
	}
	if _, err := c.BatchStats(ctx, in, 3); err != nil {
		t.Fatalf("good batch after bad ones: %v", err)
	}
	c.Close()
	if _, err := c.BatchStats(ctx, in, 3); err == nil {
		t.Error("batch after Close accepted")
	}
	var nilC *Calibrator
	if _, err := nilC.BatchStats(ctx, in, 3); err == nil {
		t.Error("nil calibrator accepted")
	}
}

// withValue returns a copy of data with data[i] = v.
func withValue(data []float32, i int, v float32) []float32 {
	out := append([]float32(nil), data...)
	out[i] = v
	return out
}

// activationFloats recomputes, from the space's layer shapes alone, the
// three per-image buffer sizes MemoryBytes documents: the largest dense
// output, the largest depthwise output and the largest block output.
func activationFloats(net *supernet.Net) (dense, dw, resid int) {
	for _, l := range net.Space.Layers(net.Config, nil) {
		in, out := l.InSize*l.InSize, l.OutSize*l.OutSize
		switch l.Kind {
		case supernet.KindFirstConv:
			dense, resid = max(dense, out*l.Out), max(resid, out*l.Out)
		case supernet.KindBlock:
			if l.Expand {
				dense = max(dense, in*l.Mid)
			}
			dw = max(dw, out*l.Mid)
			dense, resid = max(dense, out*l.Out), max(resid, out*l.Out)
		case supernet.KindFinalExpand:
			dense = max(dense, out*l.Out)
		}
	}
	return dense, dw, resid
}

// TestMemory checks MemoryBytes against the documented formula and the
// buffers a batch really allocates, and that a Calibrator refuses a batch
// size whose buffers exceed the limit, naming one that fits.
func TestMemory(t *testing.T) {
	s := spaceNamed(t, "w1.0")
	net := supernet.Init(s, s.MaxConfig(224), 1)
	a, d, r := activationFloats(net)
	if a != 96*112*112 || d != 144*56*56 || r != 16*112*112 {
		t.Fatalf("largest w1.0 subnet at 224: buffers %d, %d, %d floats per image, want %d, %d, %d", a, d, r, 96*112*112, 144*56*56, 16*112*112)
	}
	got, err := MemoryBytes(net, 200)
	if err != nil {
		t.Fatal(err)
	}
	act := int64(4 * 200 * (a + d + 2*r))
	if got < act || got > act+64<<20 {
		t.Errorf("MemoryBytes = %d, want the activations' %d plus at most 64 MiB of statistics and scratch", got, act)
	}
	t.Logf("largest w1.0 subnet at 224, batch 200: %.2f GB", float64(got)/1e9)

	_, err = NewCalibratorOptions(net, 200, Options{MemoryLimit: 1 << 30})
	if err == nil {
		t.Fatal("batches of 200 of the largest subnet accepted under a 1 GiB limit")
	}
	if !strings.Contains(err.Error(), "MemoryLimit") {
		t.Errorf("memory error does not say how to proceed: %v", err)
	}

	small := supernet.Init(s, s.MinConfig(64), 1)
	c, err := NewCalibrator(small, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.BatchStats(context.Background(), images(2, 64, 1), 2); err != nil {
		t.Fatal(err)
	}
	a, d, r = activationFloats(small)
	if len(c.buf1) != 2*a || len(c.buf2) != 2*d || len(c.resid) != 2*r || len(c.proj) != 2*r {
		t.Errorf("buffers of %d, %d, %d, %d floats for 2 images, want %d, %d, %d, %d", len(c.buf1), len(c.buf2), len(c.resid), len(c.proj), 2*a, 2*d, 2*r, 2*r)
	}
}

// TestForward checks eval mode against export.Forward (bit for bit with the
// exact kernels, which round as it does) on random subnets of both spaces,
// and against the logits PyTorch computed for the fixture's subnets.
func TestForward(t *testing.T) {
	for _, tc := range []struct {
		space string
		seed  uint64
		r, n  int
	}{{"w1.0", 1, 96, 3}, {"w1.2", 2, 130, 2}, {"w1.0", 3, 32, 1}} {
		net := randomNet(t, tc.space, tc.seed, tc.r)()
		in := images(tc.n, tc.r, tc.seed)
		want, err := export.Forward(net, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, ks := range kernelSets() {
			c := newCalibratorKernels(t, net, tc.n, ks)
			got, err := c.Forward(context.Background(), in, tc.n)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d logits, want %d", len(got), len(want))
			}
			worst, scale := 0.0, 1.0
			for i := range want {
				worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
				scale = max(scale, math.Abs(float64(want[i])))
			}
			t.Logf("%s r=%d n=%d, kernels %s: max |Δ logit| %.3g (logits up to %.3g)", tc.space, tc.r, tc.n, ks.name, worst, scale)
			limit := 0.0
			if !ks.exact {
				limit = 1e-4 * scale
			}
			if worst > limit {
				t.Errorf("%s r=%d, kernels %s: logits differ from export.Forward by %.3g (limit %.3g)", tc.space, tc.r, ks.name, worst, limit)
			}
		}
	}

	ck, cases := fixture(t)
	for _, fc := range cases {
		cfg, err := supernet.ParseConfig(ck.Space, fc.Config)
		if err != nil {
			t.Fatal(err)
		}
		net, err := supernet.Extract(ck, cfg)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(testfix.SharedFile(t, fixtureDir+"/"+fc.Input))
		if err != nil {
			t.Fatal(err)
		}
		in := make([]float32, len(raw)/4)
		for i := range in {
			in[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		c, err := NewCalibrator(net, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Forward(context.Background(), in, 1)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, v := range fc.Logits {
			worst = max(worst, math.Abs(float64(got[i])-v))
		}
		t.Logf("fixture %s (r=%d): max |native - PyTorch| %.3g", fc.Name, cfg.R, worst)
		if len(got) != len(fc.Logits) || worst > 1e-4 {
			t.Errorf("fixture %s: %d logits, max difference from PyTorch's %.3g (limit 1e-4)", fc.Name, len(got), worst)
		}
	}
}
