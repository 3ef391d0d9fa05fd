package search

import (
	"slices"

	"github.com/edgefit/edgefit/supernet"
)

// surrogate is a ridge regression of predicted accuracy on one-hot
// features of a subnet: each active block's kernel and expand ratio,
// each stage's depth and the resolution. It costs nanoseconds to
// evaluate, so the evolution can breed several times more children than
// it scores and spend the scorer on the ones the surrogate ranks best.
// It is refitted from every scored subnet, so it tracks the region the
// search is in.
type surrogate struct {
	space   *supernet.Space
	dim     int
	ata     []float64 // dim x dim, Xᵀ X
	atb     []float64 // Xᵀ (y - mean)
	sumY    float64
	n       int
	w       []float64
	dirty   bool
	scratch []int
	cg      []float64 // conjugate-gradient work space
}

const (
	// screenExplore is the share of scored children the surrogate does
	// not pick: drawn at random from the rest, they keep it honest where
	// it is wrong.
	screenExplore  = 0.2
	surrogateRidge = 1e-2
	surrogateIters = 10 // conjugate-gradient steps per refit; ranking needs no more
)

func newSurrogate(sp *supernet.Space) *surrogate {
	nk, ne, nd, nr := len(sp.KernelSizes), len(sp.Expands), len(sp.Depths), len(sp.Resolutions)
	dim := supernet.NumBlocks*(nk+ne) + supernet.NumStages*nd + nr
	return &surrogate{space: sp, dim: dim, ata: make([]float64, dim*dim), atb: make([]float64, dim), w: make([]float64, dim)}
}

// features appends the indices of c's one-hot features that are 1.
func (m *surrogate) features(c *supernet.Config, out []int) []int {
	sp := m.space
	nk, ne, nd := len(sp.KernelSizes), len(sp.Expands), len(sp.Depths)
	out = out[:0]
	for i := range supernet.NumBlocks {
		if c.Active(i) {
			out = append(out, i*nk+indexOf(sp.KernelSizes, c.KS[i]))
			out = append(out, supernet.NumBlocks*nk+i*ne+indexOf(sp.Expands, c.E[i]))
		}
	}
	base := supernet.NumBlocks * (nk + ne)
	for st := range supernet.NumStages {
		out = append(out, base+st*nd+indexOf(sp.Depths, c.D[st]))
	}
	base += supernet.NumStages * nd
	if r := indexOf(sp.Resolutions, c.R); r >= 0 {
		out = append(out, base+r)
	}
	return out
}

// add records one scored subnet. The mean is taken out when solving, so
// y is stored raw.
func (m *surrogate) add(c *supernet.Config, y float64) {
	f := m.features(c, m.scratch)
	m.scratch = f
	for _, i := range f {
		row := m.ata[i*m.dim:]
		for _, j := range f {
			row[j]++
		}
		m.atb[i] += y
	}
	m.sumY += y
	m.n++
	m.dirty = true
}

// fit solves (XᵀX + λnI) w = Xᵀ(y - mean) by conjugate gradients,
// warm-started from the previous weights: the system changes little
// between generations, so a few iterations suffice.
func (m *surrogate) fit() bool {
	if !m.dirty {
		return m.n > 1
	}
	m.dirty = false
	if m.n < 2 {
		return false
	}
	d := m.dim
	mean := m.sumY / float64(m.n)
	lambda := surrogateRidge * float64(m.n)
	if len(m.cg) < 4*d {
		m.cg = make([]float64, 4*d)
	}
	r, p, ap, b := m.cg[:d], m.cg[d:2*d], m.cg[2*d:3*d], m.cg[3*d:4*d]
	for i := range d {
		// Xᵀ1 for feature i is its count, the diagonal of XᵀX.
		b[i] = m.atb[i] - m.ata[i*d+i]*mean
	}
	mul := func(x, out []float64) {
		for i := range d {
			row := m.ata[i*d : (i+1)*d]
			v := lambda * x[i]
			for j, a := range row {
				v += a * x[j]
			}
			out[i] = v
		}
	}
	mul(m.w, ap)
	rr, bb := 0.0, 0.0
	for i := range d {
		r[i] = b[i] - ap[i]
		p[i] = r[i]
		rr += r[i] * r[i]
		bb += b[i] * b[i]
	}
	for it := 0; it < surrogateIters && rr > 1e-12*bb; it++ {
		mul(p, ap)
		pap := 0.0
		for i := range d {
			pap += p[i] * ap[i]
		}
		if pap <= 0 {
			break
		}
		alpha := rr / pap
		next := 0.0
		for i := range d {
			m.w[i] += alpha * p[i]
			r[i] -= alpha * ap[i]
			next += r[i] * r[i]
		}
		beta := next / rr
		rr = next
		for i := range d {
			p[i] = r[i] + beta*p[i]
		}
	}
	return true
}

func (m *surrogate) predict(c *supernet.Config) float64 {
	f := m.features(c, m.scratch)
	m.scratch = f
	v := 0.0
	for _, i := range f {
		v += m.w[i]
	}
	return v
}

// screen returns n of cands: the best n-explore by the surrogate, then
// explore drawn from the rest, in a deterministic order.
func (m *surrogate) screen(cands []supernet.Config, n, explore int, pickRest func(int) int) []supernet.Config {
	if len(cands) <= n || !m.fit() {
		return cands[:min(n, len(cands))]
	}
	pred := make([]float64, len(cands))
	idx := make([]int, len(cands))
	for i := range cands {
		pred[i] = m.predict(&cands[i])
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case pred[a] > pred[b]:
			return -1
		case pred[a] < pred[b]:
			return 1
		}
		return 0
	})
	top := n - explore
	out := make([]supernet.Config, 0, n)
	for _, i := range idx[:top] {
		out = append(out, cands[i])
	}
	rest := slices.Clone(idx[top:])
	for k := 0; k < explore && len(rest) > 0; k++ {
		j := pickRest(len(rest))
		out = append(out, cands[rest[j]])
		rest = slices.Delete(rest, j, j+1)
	}
	return out
}
