package predictor

import "math"

// mlpNet is a ReLU multi-layer perceptron whose input is a sparse 0/1
// vector: what OFA's accuracy predictors are. It evaluates batches in
// float32:
//
//   - the first layer is the sum of the weight columns of the active
//     inputs (at most a few dozen of them), not a dense product;
//   - the hidden layers are matrix products over blocks of rows against
//     weights packed in 16-column panels, fused with bias and ReLU, by an
//     AVX2/FMA kernel where the CPU has one and portable Go elsewhere;
//   - the output layer is a dot product per row.
type mlpNet struct {
	in, hidden int
	w0t        []float32 // first layer, transposed: [in][hidden]
	// first is the matrix whose rows forwardBlock sums for the first
	// layer: w0t, or a table of pre-added rows (see MLPAccuracy).
	first []float32
	b0    []float32
	dense []denseLayer
	wOut  []float32 // [hidden]
	bOut  float32
	base  float32 // added to the output (the NAS predictor's base_acc)
}

type denseLayer struct {
	w      []float32 // [out][in] as PyTorch stores it, for the reference path
	wt     []float32 // [in][out], for the portable path
	packed []float32 // hidden/16 panels of [in][16], for the kernel
	b      []float32
}

const (
	panel    = 16 // output columns per packed panel
	tileRows = 6  // rows per micro-kernel call
	// blockRows is how many candidates go through the network together: a
	// multiple of tileRows whose activations (3 × rows × hidden floats)
	// stay in L2 while each weight panel stays in L1.
	blockRows = 48
	// maxActive is the most inputs a config can switch on: 20 kernels,
	// 20 expand ratios and one resolution, with room to spare.
	maxActive = 48
)

// newMLPNet builds the network from PyTorch-layout weights: w0 [hidden][in],
// hidden layers [hidden][hidden], output [1][hidden].
func newMLPNet(in, hidden int, w0, b0 []float32, ws, bs [][]float32, wOut []float32, bOut, base float32) *mlpNet {
	n := &mlpNet{in: in, hidden: hidden, b0: b0, wOut: wOut, bOut: bOut, base: base}
	n.w0t = make([]float32, in*hidden)
	for j := 0; j < hidden; j++ {
		for i := 0; i < in; i++ {
			n.w0t[i*hidden+j] = w0[j*in+i]
		}
	}
	n.first = n.w0t
	for l := range ws {
		d := denseLayer{w: ws[l], b: bs[l], wt: make([]float32, hidden*hidden)}
		for j := 0; j < hidden; j++ {
			for k := 0; k < hidden; k++ {
				d.wt[k*hidden+j] = ws[l][j*hidden+k]
			}
		}
		if hidden%panel == 0 {
			d.packed = make([]float32, hidden*hidden)
			packPanelsT(d.packed, ws[l], hidden, hidden)
		}
		n.dense = append(n.dense, d)
	}
	return n
}

// mlpScratch holds one goroutine's activations.
type mlpScratch struct {
	h   [2][]float32 // [blockRows][hidden] each
	idx []int32      // [blockRows][maxActive]
	cnt []int
	ks  []int32 // per tile: the columns with a non-zero entry
	nks []int
}

func (n *mlpNet) scratch() *mlpScratch {
	return &mlpScratch{
		h:   [2][]float32{make([]float32, blockRows*n.hidden), make([]float32, blockRows*n.hidden)},
		idx: make([]int32, blockRows*maxActive),
		cnt: make([]int, blockRows),
		ks:  make([]int32, blockRows/tileRows*n.hidden),
		nks: make([]int, blockRows/tileRows),
	}
}

// forwardBlock evaluates rows 0..rows-1 of s (rows ≤ blockRows), whose
// active inputs are s.idx[r*maxActive : r*maxActive+s.cnt[r]], into out.
func (n *mlpNet) forwardBlock(s *mlpScratch, rows int, out []float64) {
	h := n.hidden
	// Pad to whole micro-kernel tiles with empty rows.
	padded := (rows + tileRows - 1) / tileRows * tileRows
	for r := rows; r < padded; r++ {
		s.cnt[r] = 0
	}
	cur := s.h[0]
	for r := 0; r < padded; r++ {
		sumRows(cur[r*h:(r+1)*h], n.first, h, s.idx[r*maxActive:r*maxActive+s.cnt[r]], n.b0)
	}
	next := s.h[1]
	for _, d := range n.dense {
		if d.packed != nil && useAsm {
			// Columns that are zero in all rows of a tile (ReLU zeros,
			// padding) contribute nothing: list the others per tile.
			for r := 0; r < padded; r += tileRows {
				ks := s.ks[r/tileRows*h : (r/tileRows+1)*h]
				n := 0
				for k := 0; k < h; k++ {
					if cur[r*h+k] != 0 || cur[(r+1)*h+k] != 0 || cur[(r+2)*h+k] != 0 ||
						cur[(r+3)*h+k] != 0 || cur[(r+4)*h+k] != 0 || cur[(r+5)*h+k] != 0 {
						ks[n] = int32(k)
						n++
					}
				}
				s.nks[r/tileRows] = n
			}
			for p := 0; p < h/panel; p++ {
				pw := d.packed[p*h*panel : (p+1)*h*panel]
				for r := 0; r < padded; r += tileRows {
					t := r / tileRows
					switch n := s.nks[t]; {
					case n == h:
						kernel6x16(h, &cur[r*h], h, &pw[0], &next[r*h+p*panel], h, &d.b[p*panel])
					case n > 0:
						kernel6x16idx(n, &cur[r*h], h, &pw[0], &next[r*h+p*panel], h, &d.b[p*panel], &s.ks[t*h])
					default:
						kernel6x16(0, &cur[r*h], h, &pw[0], &next[r*h+p*panel], h, &d.b[p*panel])
					}
				}
			}
		} else {
			denseGo(cur[:padded*h], next[:padded*h], padded, h, &d)
		}
		cur, next = next, cur
	}
	for r := 0; r < rows; r++ {
		out[r] = float64(dot32(cur[r*h:(r+1)*h], n.wOut)+n.bOut) + float64(n.base)
	}
}

// sumRows sets dst to relu(bias + Σ_t w[idx[t]][:]).
func sumRows(dst, w []float32, h int, idx []int32, bias []float32) {
	if useAsm && h%panel == 0 {
		if len(idx) == 0 {
			sumRowsAsm(&dst[0], h, &w[0], nil, 0, &bias[0])
		} else {
			sumRowsAsm(&dst[0], h, &w[0], &idx[0], len(idx), &bias[0])
		}
		return
	}
	copy(dst, bias)
	for _, i := range idx {
		row := w[int(i)*h : int(i)*h+h]
		for j := range dst {
			dst[j] += row[j]
		}
	}
	for j, v := range dst {
		if v < 0 {
			dst[j] = 0
		}
	}
}

// denseGo is the portable hidden layer: dst = relu(src · wᵀ + b), written
// as row-times-matrix so that the inner loop runs over contiguous memory,
// and skipping the zeros ReLU leaves in src.
func denseGo(src, dst []float32, rows, h int, d *denseLayer) {
	wt := d.wt
	for r := 0; r < rows; r++ {
		o := dst[r*h : (r+1)*h]
		copy(o, d.b)
		for k, a := range src[r*h : (r+1)*h] {
			if a == 0 {
				continue
			}
			row := wt[k*h : (k+1)*h]
			for j := range o {
				o[j] += a * row[j]
			}
		}
		for j, v := range o {
			if v < 0 {
				o[j] = 0
			}
		}
	}
}

func dot32(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// forwardRef evaluates one input exactly in float64, for tests.
func (n *mlpNet) forwardRef(active []int32) float64 {
	h := n.hidden
	x := make([]float64, h)
	for j := range x {
		x[j] = float64(n.b0[j])
		for _, i := range active {
			x[j] += float64(n.w0t[int(i)*h+j])
		}
		x[j] = math.Max(x[j], 0)
	}
	for _, d := range n.dense {
		y := make([]float64, h)
		for j := range y {
			s := float64(d.b[j])
			for k := range x {
				s += float64(d.w[j*h+k]) * x[k]
			}
			y[j] = math.Max(s, 0)
		}
		x = y
	}
	s := float64(n.bOut)
	for j := range x {
		s += float64(n.wOut[j]) * x[j]
	}
	return s + float64(n.base)
}
