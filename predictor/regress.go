package predictor

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// linearFit is a weighted, ridge-regularized least-squares problem in its
// normal-equation form: minimize Σ w_i (x_i·β − y_i)² + λ Σ_j pen_j β_j²,
// where the columns are first scaled to unit weighted RMS so that one λ
// suits columns of any magnitude.
type linearFit struct {
	p     int
	scale []float64 // column scale: β_j(original) = β_j(scaled) / scale_j
	ata   *mat.SymDense
	atb   []float64
}

// newLinearFit accumulates the normal equations of rows x (n × p), targets
// y and weights w. Columns that are zero everywhere get scale 1 and stay
// at zero.
func newLinearFit(x [][]float64, y, w []float64, lambda float64, penalize []bool) *linearFit {
	p := len(x[0])
	f := &linearFit{p: p, scale: make([]float64, p), ata: mat.NewSymDense(p, nil), atb: make([]float64, p)}
	var wsum float64
	for i := range x {
		wsum += w[i]
		for j, v := range x[i] {
			f.scale[j] += w[i] * v * v
		}
	}
	for j := range f.scale {
		if f.scale[j] > 0 {
			f.scale[j] = 1 / math.Sqrt(f.scale[j]/wsum)
		} else {
			f.scale[j] = 1
		}
	}
	for i := range x {
		for a := 0; a < p; a++ {
			xa := x[i][a] * f.scale[a]
			if xa == 0 {
				continue
			}
			f.atb[a] += w[i] * xa * y[i]
			for b := a; b < p; b++ {
				f.ata.SetSym(a, b, f.ata.At(a, b)+w[i]*xa*x[i][b]*f.scale[b])
			}
		}
	}
	for j := 0; j < p; j++ {
		if penalize == nil || penalize[j] {
			f.ata.SetSym(j, j, f.ata.At(j, j)+lambda*wsum)
		}
	}
	return f
}

// solve returns the unconstrained ridge solution over the columns in set
// (the others are zero), in original units.
func (f *linearFit) solve(set []int) ([]float64, error) {
	beta := make([]float64, f.p)
	if len(set) == 0 {
		return beta, nil
	}
	a := mat.NewSymDense(len(set), nil)
	b := mat.NewVecDense(len(set), nil)
	for i, ci := range set {
		b.SetVec(i, f.atb[ci])
		for j := i; j < len(set); j++ {
			a.SetSym(i, j, f.ata.At(ci, set[j]))
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		// Nearly collinear columns without ridge: add a tiny jitter.
		for i := range set {
			a.SetSym(i, i, a.At(i, i)*(1+1e-10)+1e-12)
		}
		if !ch.Factorize(a) {
			return nil, errors.New("regression: the features are linearly dependent; add a ridge penalty")
		}
	}
	var s mat.VecDense
	if err := ch.SolveVecTo(&s, b); err != nil {
		return nil, fmt.Errorf("regression: %w", err)
	}
	for i, ci := range set {
		beta[ci] = s.AtVec(i)
	}
	return beta, nil
}

// unscale converts a solution in scaled units to original units.
func (f *linearFit) unscale(beta []float64) []float64 {
	out := make([]float64, len(beta))
	for j := range beta {
		out[j] = beta[j] * f.scale[j]
	}
	return out
}

// all returns the unconstrained ridge solution in original units.
func (f *linearFit) all() ([]float64, error) {
	set := make([]int, f.p)
	for j := range set {
		set[j] = j
	}
	b, err := f.solve(set)
	if err != nil {
		return nil, err
	}
	return f.unscale(b), nil
}

// nonNegative returns the solution with every coefficient ≥ 0 (Lawson and
// Hanson's active-set method on the normal equations), in original units.
// Non-negative costs keep a latency model monotone in every feature, which
// is what lets it extrapolate to larger layers without turning negative.
func (f *linearFit) nonNegative() ([]float64, error) {
	p := f.p
	beta := make([]float64, p)
	passive := make([]bool, p)
	grad := func() []float64 {
		g := make([]float64, p)
		for i := 0; i < p; i++ {
			g[i] = f.atb[i]
			for j := 0; j < p; j++ {
				g[i] -= f.ata.At(i, j) * beta[j]
			}
		}
		return g
	}
	const tol = 1e-12
	for iter := 0; iter < 10*p+10; iter++ {
		g := grad()
		best, bj := tol*(1+maxAbs(f.atb)), -1
		for j := 0; j < p; j++ {
			if !passive[j] && g[j] > best {
				best, bj = g[j], j
			}
		}
		if bj < 0 {
			return f.unscale(beta), nil
		}
		passive[bj] = true
		for inner := 0; inner < 10*p+10; inner++ {
			var set []int
			for j := 0; j < p; j++ {
				if passive[j] {
					set = append(set, j)
				}
			}
			s, err := f.solve(set)
			if err != nil {
				return nil, err
			}
			feasible := true
			for _, j := range set {
				if s[j] <= 0 {
					feasible = false
				}
			}
			if feasible {
				copy(beta, s)
				break
			}
			alpha := math.Inf(1)
			for _, j := range set {
				if s[j] <= 0 {
					if a := beta[j] / (beta[j] - s[j]); a < alpha {
						alpha = a
					}
				}
			}
			for j := 0; j < p; j++ {
				beta[j] += alpha * (s[j] - beta[j])
				if passive[j] && beta[j] <= tol {
					passive[j] = false
					beta[j] = 0
				}
			}
		}
	}
	return f.unscale(beta), nil
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
