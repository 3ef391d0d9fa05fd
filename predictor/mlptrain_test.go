package predictor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// gemm is gemmTile with its own scratch, for the tests.
func gemm[T float](m, k, n int, a []T, lda int, at bool, pk, c []T) {
	gemmTile(m, k, n, a, lda, at, pk, c, nil)
}

// tinyBatch is a minibatch of sparse 0/1 inputs over in inputs.
func tinyBatch(rng *rand.Rand, rows, in, active int) ([][]int32, []float64) {
	idx := make([][]int32, rows)
	y := make([]float64, rows)
	for r := range idx {
		for _, i := range rng.Perm(in)[:active] {
			idx[r] = append(idx[r], int32(i))
		}
		y[r] = 0.7 + 0.1*rng.Float64()
	}
	return idx, y
}

// lossOf is the mean squared error of the network's forward pass,
// recomputed from the parameters with plain loops (not the trainer's
// packed products), in float64.
func lossOf(t *mlpTrainer[float64], idx [][]int32, y []float64) float64 {
	h := t.hidden
	var loss float64
	for r, active := range idx {
		x := make([]float64, h)
		for j := range x {
			x[j] = t.b0[j]
			for _, i := range active {
				x[j] += t.w0t[int(i)*h+j]
			}
			x[j] = math.Max(x[j], 0)
		}
		for l := range t.w {
			next := make([]float64, h)
			for j := range next {
				s := t.b[l][j]
				for k := range x {
					s += t.w[l][j*h+k] * x[k]
				}
				next[j] = math.Max(s, 0)
			}
			x = next
		}
		out := t.base
		for j := range x {
			out += t.wOut[j] * x[j]
		}
		loss += (out - y[r]) * (out - y[r])
	}
	return loss / float64(len(idx))
}

// TestMLPGradientCheck compares the backward pass with central finite
// differences of the loss, for every parameter of a small float64
// network with three hidden layers. Five rows exercise the portable
// tail of gemm (tiles are six rows).
func TestMLPGradientCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const in, hidden, layers = 11, 16, 3
	idx, y := tinyBatch(rng, 5, in, 4)
	tr := newMLPTrainer[float64](in, hidden, layers, len(idx))
	tr.init(rng)
	tr.base = 0.75
	tr.forward(idx)
	loss := tr.backward(idx, y)
	if want := lossOf(tr, idx, y); math.Abs(loss-want) > 1e-12*math.Max(1, want) {
		t.Fatalf("backward's loss %v, recomputed %v", loss, want)
	}
	const eps = 1e-6
	worst := 0.0
	for i := range tr.param {
		p := tr.param[i]
		tr.param[i] = p + eps
		up := lossOf(tr, idx, y)
		tr.param[i] = p - eps
		down := lossOf(tr, idx, y)
		tr.param[i] = p
		num := (up - down) / (2 * eps)
		diff := math.Abs(num - tr.grad[i])
		if diff > 1e-7+1e-5*math.Abs(num) {
			t.Errorf("parameter %d: backward %.10g, finite difference %.10g", i, tr.grad[i], num)
		}
		worst = max(worst, diff)
	}
	t.Logf("%d parameters, largest gradient difference %.2g", len(tr.param), worst)
}

// TestGemmKernelMatchesFloat64 checks the float32 product (AVX2 tiles
// where available, portable Go elsewhere) against a float64 triple loop,
// for each layout of either operand the trainer uses.
func TestGemmKernelMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range []struct{ m, k, n int }{{13, 7, 32}, {6, 1, 16}, {400, 37, 48}, {5, 64, 16}} {
		a := make([]float32, sz.m*sz.k)
		b := make([]float32, sz.k*sz.n)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
			if i%5 == 0 {
				a[i] = 0 // ReLU zeros take the skipping path
			}
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		at := make([]float32, len(a)) // a stored [k][m]
		for i := 0; i < sz.m; i++ {
			for k := 0; k < sz.k; k++ {
				at[k*sz.m+i] = a[i*sz.k+k]
			}
		}
		bt := make([]float32, len(b)) // b stored [n][k], as a PyTorch weight
		for k := 0; k < sz.k; k++ {
			for j := 0; j < sz.n; j++ {
				bt[j*sz.k+k] = b[k*sz.n+j]
			}
		}
		for _, layout := range []struct{ aT, bT bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			pk := make([]float32, len(b))
			if layout.bT {
				packPanelsT(pk, bt, sz.n, sz.k)
			} else {
				packPanels(pk, b, sz.k, sz.n)
			}
			c := make([]float32, sz.m*sz.n)
			for i := range c {
				c[i] = 99 // gemm overwrites
			}
			if layout.aT {
				gemm(sz.m, sz.k, sz.n, at, sz.m, true, pk, c)
			} else {
				gemm(sz.m, sz.k, sz.n, a, sz.k, false, pk, c)
			}
			for i := 0; i < sz.m; i++ {
				for j := 0; j < sz.n; j++ {
					var want, mag float64
					for k := 0; k < sz.k; k++ {
						want += float64(a[i*sz.k+k]) * float64(b[k*sz.n+j])
						mag += math.Abs(float64(a[i*sz.k+k]) * float64(b[k*sz.n+j]))
					}
					if got := float64(c[i*sz.n+j]); math.Abs(got-want) > 1e-6*mag+1e-7 {
						t.Fatalf("%v %+v: c[%d][%d] = %v, want %v", sz, layout, i, j, got, want)
					}
				}
			}
		}
	}
}

// TestGemmPortableMatchesKernel runs the same float32 product with the
// kernel turned off: both paths must agree to rounding.
func TestGemmPortableMatchesKernel(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA kernel on this CPU")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const m, k, n = 12, 50, 32
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	pk := make([]float32, k*n)
	packPanels(pk, b, k, n)
	for _, at := range []bool{false, true} {
		lda := k
		if at {
			lda = m // the same numbers read as [k][m]
		}
		fast, slow := make([]float32, m*n), make([]float32, m*n)
		gemm(m, k, n, a, lda, at, pk, fast)
		useAsm = false
		gemm(m, k, n, a, lda, at, pk, slow)
		useAsm = true
		for i := range fast {
			if d := math.Abs(float64(fast[i] - slow[i])); d > 1e-4 {
				t.Fatalf("transposed=%v element %d: kernel %v, portable %v", at, i, fast[i], slow[i])
			}
		}
	}
}

// TestAdamMatchesTorchFormula checks one parameter through three Adam
// steps against torch.optim.Adam's update written out by hand: the
// weight decay joins the gradient before the moments (L2, not AdamW).
func TestAdamMatchesTorchFormula(t *testing.T) {
	tr := newMLPTrainer[float64](1, 16, 1, 1)
	cfg := adamConfig{lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4}
	p, m, v := 0.5, 0.0, 0.0
	tr.param[0] = p
	for step, g := range []float64{0.2, -0.1, 0.05} {
		tr.grad[0] = g
		tr.adam(cfg)
		g += 1e-4 * p
		m = 0.9*m + 0.1*g
		v = 0.999*v + 0.001*g*g
		mhat := m / (1 - math.Pow(0.9, float64(step+1)))
		vhat := v / (1 - math.Pow(0.999, float64(step+1)))
		p -= 1e-3 * mhat / (math.Sqrt(vhat) + 1e-8)
		if math.Abs(tr.param[0]-p) > 1e-15 {
			t.Fatalf("step %d: parameter %v, want %v", step+1, tr.param[0], p)
		}
	}
}

// TestMLPInitBounds checks PyTorch's nn.Linear initialization: every
// weight and bias within ±1/√fan_in, and spread over that range.
func TestMLPInitBounds(t *testing.T) {
	tr := newMLPTrainer[float32](125, 400, 3, 1)
	tr.init(rand.New(rand.NewPCG(1, 2)))
	check := func(name string, v []float32, fanIn int) {
		bound := 1 / math.Sqrt(float64(fanIn))
		var lo, hi float64
		for _, x := range v {
			lo, hi = min(lo, float64(x)), max(hi, float64(x))
		}
		if lo < -bound || hi > bound || lo > -0.95*bound || hi < 0.95*bound {
			t.Errorf("%s: range [%v, %v], want ±%v", name, lo, hi, bound)
		}
	}
	check("layer 0 weight", tr.w0t, 125)
	check("layer 0 bias", tr.b0, 125)
	check("layer 1 weight", tr.w[0], 400)
	check("layer 2 bias", tr.b[1], 400)
	check("output weight", tr.wOut, 400)
}

// TestTrainedWeightsMatchInference: the network a trainer holds and the
// MLPAccuracy built from its exported weights (the NAS layout, through
// the .pth loader's code) predict the same for the same subnets.
func TestTrainedWeightsMatchInference(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	a := synthSamples(s, 40, nonlinearTarget, 0.001, 12)
	d, err := encodeMLPSamples(a)
	if err != nil {
		t.Fatal(err)
	}
	tr := newMLPTrainer[float32](d.in, 32, 3, len(d.idx))
	tr.init(rand.New(rand.NewPCG(1, 1)))
	tr.base = 0.7
	tr.forward(d.idx)
	m, err := tr.weights().model(s.Name, d.res)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, len(d.cfgs))
	m.Accuracy(d.cfgs, got)
	for i := range got {
		if math.Abs(got[i]-float64(tr.y[i])) > 1e-5 {
			t.Fatalf("subnet %d (r=%d): inference %v, trainer %v", i, d.cfgs[i].R, got[i], tr.y[i])
		}
	}
	if !slices.Equal(m.Resolutions(), synthResolutions) {
		t.Errorf("resolutions %v", m.Resolutions())
	}
}
