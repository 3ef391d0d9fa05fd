package predictor

import (
	"math"
	"math/rand/v2"
)

// This file trains the MLP of OFA's NAS AccuracyPredictor: a sparse 0/1
// input (the MobileNetArchEncoder one-hots), hidden ReLU layers of equal
// width, and a linear output without bias to which a constant base is
// added. The trainer is generic so that tests can check its gradients in
// float64; edgefit trains in float32, as PyTorch does by default, with
// the matrix products on an AVX2/FMA kernel where the CPU has one.

// float is what the trainer computes in.
type float interface{ float32 | float64 }

// adamConfig is torch.optim.Adam's update with its weight_decay: the
// decay is added to the gradient (L2), not applied to the weights
// directly as AdamW does.
type adamConfig struct {
	lr, beta1, beta2, eps, weightDecay float64
}

// mlpTrainer holds one network, its gradients, Adam's moments and the
// activations of one minibatch.
type mlpTrainer[T float] struct {
	in, hidden, layers int // layers: hidden layers (≥ 1)
	maxRows            int // the largest minibatch

	// All trainable parameters, then views into them in PyTorch order:
	// w0t is the first layer transposed ([in][hidden]) so that a sparse
	// input sums rows of it; w[l] is dense layer l+1 as PyTorch stores it
	// ([out][in]); wOut is the output row. base is not trained (OFA's
	// base_acc has requires_grad=False).
	param, grad, m1, m2 []T
	w0t, b0, wOut       []T
	w, b                [][]T
	gw0t, gb0, gwOut    []T
	gw, gb              [][]T
	base                T
	steps               int // Adam steps taken

	act    [][]T // per hidden layer: [maxRows][hidden] after ReLU
	dz, dh []T   // [maxRows][hidden]
	x      []T   // the batch's inputs, dense: [maxRows][in]
	pk     []T   // packed right operand: [max(hidden, maxRows)][hidden]
	y, gy  []T   // [maxRows]
	// tile is gemmTile's scratch for a last, partial tile of rows (float32
	// only): 6·(max(hidden, maxRows) + hidden), the most any product
	// here needs.
	tile []float32
}

func newMLPTrainer[T float](in, hidden, layers, maxRows int) *mlpTrainer[T] {
	n := in*hidden + hidden + (layers-1)*(hidden*hidden+hidden) + hidden
	t := &mlpTrainer[T]{in: in, hidden: hidden, layers: layers, maxRows: maxRows,
		param: make([]T, n), grad: make([]T, n), m1: make([]T, n), m2: make([]T, n)}
	carve := func(buf []T) (w0t, b0 []T, w, b [][]T, wOut []T) {
		next := func(k int) []T { s := buf[:k:k]; buf = buf[k:]; return s }
		w0t, b0 = next(in*hidden), next(hidden)
		for range layers - 1 {
			w, b = append(w, next(hidden*hidden)), append(b, next(hidden))
		}
		return w0t, b0, w, b, next(hidden)
	}
	t.w0t, t.b0, t.w, t.b, t.wOut = carve(t.param)
	t.gw0t, t.gb0, t.gw, t.gb, t.gwOut = carve(t.grad)
	for range layers {
		t.act = append(t.act, make([]T, maxRows*hidden))
	}
	t.dz, t.dh = make([]T, maxRows*hidden), make([]T, maxRows*hidden)
	t.pk = make([]T, max(hidden, maxRows)*hidden)
	t.x = make([]T, maxRows*in)
	t.y, t.gy = make([]T, maxRows), make([]T, maxRows)
	if _, ok := any(t.param).([]float32); ok {
		t.tile = make([]float32, tileRows*(max(hidden, maxRows)+hidden))
	}
	return t
}

// init draws the weights as PyTorch's nn.Linear.reset_parameters does:
// kaiming_uniform_ with a = √5, which is U(±1/√fan_in), for weights and
// U(±1/√fan_in) for biases, layer by layer, weight before bias, weights
// in [out][in] order.
func (t *mlpTrainer[T]) init(rng *rand.Rand) {
	u := func(bound float64) T { return T((2*rng.Float64() - 1) * bound) }
	bound := 1 / math.Sqrt(float64(t.in))
	for j := 0; j < t.hidden; j++ {
		for i := 0; i < t.in; i++ {
			t.w0t[i*t.hidden+j] = u(bound)
		}
	}
	for j := range t.b0 {
		t.b0[j] = u(bound)
	}
	bound = 1 / math.Sqrt(float64(t.hidden))
	for l := range t.w {
		for i := range t.w[l] {
			t.w[l][i] = u(bound)
		}
		for i := range t.b[l] {
			t.b[l][i] = u(bound)
		}
	}
	for i := range t.wOut {
		t.wOut[i] = u(bound)
	}
}

// forward evaluates the rows whose active inputs are idx[r] into t.y,
// keeping the activations for backward.
func (t *mlpTrainer[T]) forward(idx [][]int32) {
	h, rows := t.hidden, len(idx)
	a := t.act[0]
	for r, active := range idx {
		firstLayer(a[r*h:(r+1)*h], t.w0t, h, active, t.b0)
	}
	for l := range t.w {
		in, out := t.act[l][:rows*h], t.act[l+1][:rows*h]
		packPanelsT(t.pk, t.w[l], h, h) // right operand Wᵀ
		gemmTile(rows, h, h, in, h, false, t.pk, out, t.tile)
		for r := 0; r < rows; r++ {
			biasReLU(out[r*h:(r+1)*h], t.b[l])
		}
	}
	last := t.act[t.layers-1]
	for r := 0; r < rows; r++ {
		t.y[r] = dotT(last[r*h:(r+1)*h], t.wOut) + t.base
	}
}

// backward sets t.grad to the gradient of the mean squared error of the
// last forward against target (PyTorch's MSELoss, mean reduction) and
// returns that error.
func (t *mlpTrainer[T]) backward(idx [][]int32, target []T) float64 {
	h, rows := t.hidden, len(idx)
	var loss float64
	for r := 0; r < rows; r++ {
		d := t.y[r] - target[r]
		loss += float64(d) * float64(d)
		t.gy[r] = 2 * d / T(rows)
	}
	last := t.act[t.layers-1]
	clear(t.gwOut)
	for r := 0; r < rows; r++ {
		axpy(t.gy[r], last[r*h:(r+1)*h], t.gwOut)
	}
	dz := t.dz[:rows*h]
	for r := 0; r < rows; r++ {
		o := dz[r*h : (r+1)*h]
		clear(o)
		axpy(t.gy[r], t.wOut, o)
	}
	maskReLU(dz, last[:rows*h])
	for l := len(t.w) - 1; l >= 0; l-- {
		in := t.act[l][:rows*h]
		sumRowsInto(t.gb[l], dz, rows, h)
		// gW = dzᵀ · in: [out][rows] times [rows][in].
		packPanels(t.pk, in, rows, h)
		gemmTile(h, rows, h, dz, h, true, t.pk, t.gw[l], t.tile)
		// d(in) = dz · W, then through in's ReLU.
		packPanels(t.pk, t.w[l], h, h)
		dh := t.dh[:rows*h]
		gemmTile(rows, h, h, dz, h, false, t.pk, dh, t.tile)
		maskReLU(dh, in)
		dz, t.dh, t.dz = dh, t.dz, t.dh
	}
	sumRowsInto(t.gb0, dz, rows, h)
	// gW0ᵀ = xᵀ · dz with x dense: a product on the kernel beats adding
	// the rows of the few active inputs one at a time.
	x := t.x[:rows*t.in]
	clear(x)
	for r, active := range idx {
		for _, i := range active {
			x[r*t.in+int(i)] = 1
		}
	}
	packPanels(t.pk, dz, rows, h)
	gemmTile(t.in, rows, h, x, t.in, true, t.pk, t.gw0t, t.tile)
	return loss / float64(rows)
}

// adam takes one step of torch.optim.Adam over every trainable
// parameter.
func (t *mlpTrainer[T]) adam(c adamConfig) {
	t.steps++
	bc1 := 1 - math.Pow(c.beta1, float64(t.steps))
	bc2 := math.Sqrt(1 - math.Pow(c.beta2, float64(t.steps)))
	b1, b2 := T(c.beta1), T(c.beta2)
	c1, c2 := 1-b1, 1-b2
	wd, step, inv2, eps := T(c.weightDecay), T(c.lr/bc1), T(1/bc2), T(c.eps)
	p, g, m, v := t.param, t.grad[:len(t.param)], t.m1[:len(t.param)], t.m2[:len(t.param)]
	for i := range p {
		gi := g[i] + wd*p[i]
		m[i] = b1*m[i] + c1*gi
		v[i] = b2*v[i] + c2*gi*gi
		p[i] -= step * m[i] / (T(math.Sqrt(float64(v[i])))*inv2 + eps)
	}
}

// gemmTile sets c[m][n] = A · B, where A is a[i*lda+t] ([m][k]) or, with
// at, a[t*lda+i] (stored [k][m]), and B ([k][n]) is packed in 16-column
// panels by packPanels or packPanelsT; n is a multiple of 16. In float32
// on a CPU with AVX2 and FMA whole 6-row tiles go to the kernels; the
// rest is portable Go. Each element is summed over t in order, so the
// result does not depend on how rows are scheduled. tile is scratch for
// the last, partial tile of rows: it holds 6·(k+n) floats, or gemmTile
// allocates them.
func gemmTile[T float](m, k, n int, a []T, lda int, at bool, pk, c []T, tile []float32) {
	i := 0
	if a32, ok := any(a).([]float32); ok && useAsm && k > 0 {
		p32, c32 := any(pk).([]float32), any(c).([]float32)
		rs, ts := lda, 1
		if at {
			rs, ts = 1, lda
		}
		for ; i+6 <= m; i += 6 {
			for p := 0; p < n/panel; p++ {
				gemm6x16(k, &a32[i*rs], rs, ts, &p32[p*k*panel], &c32[i*n+p*panel], n)
			}
		}
		if rem := m - i; rem > 0 {
			// The last rows go through the kernel too, as a tile padded
			// with zero rows in scratch space. The kernel computes each
			// row of a tile from the same row of ta alone and stores all
			// of tc, whose padding rows are then dropped, so neither
			// needs clearing for the result; ta's padding rows are
			// cleared anyway (at most 5·k floats) so that an earlier
			// product's numbers, denormals perhaps, never slow the
			// kernel down.
			if len(tile) < tileRows*(k+n) {
				tile = make([]float32, tileRows*(k+n))
			}
			ta, tc := tile[:tileRows*k], tile[tileRows*k:tileRows*(k+n)]
			for r := 0; r < rem; r++ {
				for t := 0; t < k; t++ {
					ta[r*k+t] = a32[(i+r)*rs+t*ts]
				}
			}
			clear(ta[rem*k:])
			for p := 0; p < n/panel; p++ {
				gemm6x16(k, &ta[0], k, 1, &p32[p*k*panel], &tc[p*panel], n)
			}
			copy(c32[i*n:m*n], tc)
			return
		}
	}
	for ; i < m; i++ {
		row := c[i*n : (i+1)*n]
		clear(row)
		for t := 0; t < k; t++ {
			var v T
			if at {
				v = a[t*lda+i]
			} else {
				v = a[i*lda+t]
			}
			if v == 0 {
				continue
			}
			for p := 0; p < n/panel; p++ {
				axpy(v, pk[(p*k+t)*panel:(p*k+t+1)*panel], row[p*panel:(p+1)*panel])
			}
		}
	}
}

// firstLayer sets dst to relu(bias + Σ_i w[idx[i]]): the first layer of a
// network whose input is 0/1 (w is [in][h], the weight transposed).
func firstLayer[T float](dst, w []T, h int, idx []int32, bias []T) {
	if d32, ok := any(dst).([]float32); ok && h%panel == 0 {
		sumRows(d32, any(w).([]float32), h, idx, any(bias).([]float32))
		return
	}
	copy(dst, bias)
	for _, i := range idx {
		axpy(1, w[int(i)*h:int(i+1)*h], dst)
	}
	relu(dst)
}

// biasReLU sets o to max(o + b, 0).
func biasReLU[T float](o, b []T) {
	b = b[:len(o)]
	for i, v := range o {
		o[i] = max(v+b[i], 0)
	}
}

// packPanels lays b ([k][n], row-major) out as n/16 panels of [k][16].
func packPanels[T float](dst, b []T, k, n int) {
	for p := 0; p < n/panel; p++ {
		for t := 0; t < k; t++ {
			copy(dst[(p*k+t)*panel:(p*k+t+1)*panel], b[t*n+p*panel:t*n+(p+1)*panel])
		}
	}
}

// packPanelsT packs the transpose of w ([n][k], row-major), which is a
// layer's weight in PyTorch's [out][in] layout, as packPanels packs a
// [k][n] matrix.
func packPanelsT[T float](dst, w []T, n, k int) {
	for p := 0; p < n/panel; p++ {
		for j := 0; j < panel; j++ {
			row := w[(p*panel+j)*k : (p*panel+j+1)*k]
			for t, v := range row {
				dst[(p*k+t)*panel+j] = v
			}
		}
	}
}

// axpy adds a·x to y.
func axpy[T float](a T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// dotT is dot32 (the inference's) or dot (the regression's) by type.
func dotT[T float](x, y []T) T {
	if x32, ok := any(x).([]float32); ok {
		return T(dot32(x32, any(y).([]float32)))
	}
	return T(dot(any(x).([]float64), any(y).([]float64)))
}

func relu[T float](x []T) {
	for i, v := range x {
		x[i] = max(v, 0) // +0 for -0 too
	}
}

// maskReLU zeroes g where the ReLU output a is zero: the ReLU's
// derivative (0 at 0, as PyTorch takes it).
func maskReLU[T float](g, a []T) {
	if g32, ok := any(g).([]float32); ok {
		maskReLU32(g32, any(a).([]float32))
		return
	}
	a = a[:len(g)]
	for i, v := range a {
		if v <= 0 {
			g[i] = 0
		}
	}
}

// maskReLU32 is maskReLU without branches, which half of the elements
// would mispredict: a ReLU output is +0 or positive, so its bits are
// zero exactly when it is.
func maskReLU32(g, a []float32) {
	a = a[:len(g)]
	for i, v := range a {
		b := math.Float32bits(v)
		mask := -((b | -b) >> 31) // all ones when b ≠ 0
		g[i] = math.Float32frombits(math.Float32bits(g[i]) & mask)
	}
}

// sumRowsInto sets dst[j] = Σ_r a[r][j].
func sumRowsInto[T float](dst, a []T, rows, cols int) {
	clear(dst)
	for r := 0; r < rows; r++ {
		axpy(1, a[r*cols:(r+1)*cols], dst)
	}
}

// float32Of converts a trainer's parameters for the float32 inference.
// It always copies.
func float32Of[T float](s []T) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}
