package search

import (
	"math"
	"math/rand/v2"
)

// The reinforcement-learning controller: an LSTM policy that emits a
// sequence of categorical decisions (NAS-RL, ENAS), written out by hand in
// float64 so that forward and backward passes are exact, checkable by
// finite differences, and deterministic.
//
// At step t the LSTM reads the embedding of the choice made at step t-1
// (a start token at t = 0), updates its state and feeds its output h_t to
// the linear head of the decision type due at step t; a softmax over the
// head's outputs is the distribution the choice is drawn from. The types
// and the length of the sequence follow from the choices made so far
// (see [decisions]). The input also carries a learned embedding of the
// decision's slot (for a subnet: which stage's depth, which block's
// kernel); without it the LSTM would have to learn to count steps before
// it could treat block 5 differently from block 9, and REINFORCE learns
// that slowly. With x_t = emb[choice_{t-1}] + pos[slot_t]:
//
//	z_t = Wx x_t + Wh h_{t-1} + b        (4H: input, forget, cell, output gates)
//	i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g)
//	c_t = f ⊙ c_{t-1} + i ⊙ g;  h_t = o ⊙ tanh(c_t)
//	p_t = softmax(W_k h_t + b_k)         (k: the type of decision t)
//
// The embeddings only ever enter through Wx emb[tok] + b and Wx pos[slot],
// so each step looks those 4H-vectors up (computed once per update)
// instead of multiplying by Wx; the backward pass accumulates their
// gradients per row and carries them to Wx, b and the embeddings at the
// end. Products are written with explicit float64 conversions, so that no
// architecture fuses them into FMAs.

// decisions describes the sequence a controller emits.
type decisions interface {
	// choices returns the number of choices of each decision type.
	choices() []int
	// next returns the type of decision t, given the choices (indices)
	// made at steps 0..t-1, or -1 when the sequence ends, and the slot
	// of decision t in [0, slots()).
	next(t int, prev []int) (typ, slot int)
	// slots returns the number of distinct decision slots.
	slots() int
}

// policy is the controller's parameters and shape. All parameters live in
// theta; the named slices are views of it.
type policy struct {
	hidden  int   // H, also the embedding size
	nChoice []int // choices per decision type
	tokOff  []int // embedding row of type k's first choice (row 0: start)
	nTok    int
	nSlot   int

	theta []float64
	wx    []float64 // 4H x H
	wh    []float64 // 4H x H
	b     []float64 // 4H
	emb   []float64 // nTok x H
	pos   []float64 // nSlot x H
	headW [][]float64
	headB [][]float64
	names []tensorView

	in  []float64 // the input table (see prepare)
	whT []float64 // Whᵀ, H x 4H
}

// tensorView names one parameter tensor inside theta.
type tensorView struct {
	name     string
	off, len int
}

// initScale bounds the uniform initialization of every parameter, as in
// ENAS: the first policy is close to uniform.
const initScale = 0.1

func newPolicy(nChoice []int, nSlot, hidden int, rng *rand.Rand) *policy {
	p := &policy{hidden: hidden, nChoice: append([]int(nil), nChoice...), nSlot: nSlot}
	p.nTok = 1
	for _, n := range nChoice {
		p.tokOff = append(p.tokOff, p.nTok)
		p.nTok += n
	}
	H := hidden
	size := 4*H*H*2 + 4*H + (p.nTok+nSlot)*H
	for _, n := range nChoice {
		size += n*H + n
	}
	p.theta = make([]float64, size)
	off := 0
	view := func(name string, n int) []float64 {
		v := p.theta[off : off+n : off+n]
		p.names = append(p.names, tensorView{name, off, n})
		off += n
		return v
	}
	p.wx = view("lstm.wx", 4*H*H)
	p.wh = view("lstm.wh", 4*H*H)
	p.b = view("lstm.b", 4*H)
	p.emb = view("embedding", p.nTok*H)
	p.pos = view("position", nSlot*H)
	for k, n := range nChoice {
		p.headW = append(p.headW, view("head"+string(rune('0'+k))+".w", n*H))
		p.headB = append(p.headB, view("head"+string(rune('0'+k))+".b", n))
	}
	for i := range p.theta {
		p.theta[i] = (2*rng.Float64() - 1) * initScale
	}
	p.prepare()
	return p
}

// tensorsOf returns, for grad (laid out as theta), the slices of the
// LSTM's tensors and of the embeddings.
func (p *policy) tensorsOf(grad []float64) (wx, wh, b, emb, pos []float64) {
	at := func(v tensorView) []float64 { return grad[v.off : v.off+v.len : v.off+v.len] }
	return at(p.names[0]), at(p.names[1]), at(p.names[2]), at(p.names[3]), at(p.names[4])
}

// headsOf returns, for grad (laid out as theta), the slices of each
// head's weights and biases, in headW and headB (whose room it reuses).
func (p *policy) headsOf(grad []float64, headW, headB [][]float64) ([][]float64, [][]float64) {
	headW, headB = headW[:0], headB[:0]
	for k := range p.nChoice {
		w, b := p.names[5+2*k], p.names[6+2*k]
		headW = append(headW, grad[w.off:w.off+w.len:w.off+w.len])
		headB = append(headB, grad[b.off:b.off+b.len:b.off+b.len])
	}
	return headW, headB
}

// inputRows is the number of rows of the input table: tokens, then slots.
func (p *policy) inputRows() int { return p.nTok + p.nSlot }

// prepare computes what the passes read besides theta, after every change
// of theta: the input table, Wx·emb[tok] + b for every token, then
// Wx·pos[slot] for every slot ((nTok + nSlot) x 4H), and Whᵀ.
func (p *policy) prepare() {
	H := p.hidden
	p.in = grow(p.in, p.inputRows()*4*H)
	for i := range p.inputRows() {
		x, bias := p.inputVector(i)
		row := p.in[i*4*H : (i+1)*4*H]
		for r := range 4 * H {
			row[r] = dot(p.wx[r*H:(r+1)*H], x)
			if bias {
				row[r] += p.b[r]
			}
		}
	}
	p.whT = grow(p.whT, 4*H*H)
	for r := range 4 * H {
		for j := range H {
			p.whT[j*4*H+r] = p.wh[r*H+j]
		}
	}
}

// inputVector returns the embedding behind row i of the input table, and
// whether the row carries the bias.
func (p *policy) inputVector(i int) (x []float64, bias bool) {
	H := p.hidden
	if i < p.nTok {
		return p.emb[i*H : (i+1)*H], true
	}
	i -= p.nTok
	return p.pos[i*H : (i+1)*H], false
}

// episode is one emitted sequence with the activations its backward pass
// needs.
type episode struct {
	types, actions, tokens []int // per step; tokens[t] is the input of step t
	slots                  []int
	gates                  []float64 // T x 4H: i, f, g, o after their nonlinearities
	cell, tcell, out       []float64 // T x H: c_t, tanh(c_t), h_t
	probs                  []float64 // per step, its type's choices
	probOff                []int
	logProb, entropy       float64   // of the whole sequence
	logits                 []float64 // scratch
}

func (e *episode) reset() {
	e.types, e.actions, e.tokens, e.slots = e.types[:0], e.actions[:0], e.tokens[:0], e.slots[:0]
	e.gates, e.cell, e.tcell, e.out = e.gates[:0], e.cell[:0], e.tcell[:0], e.out[:0]
	e.probs, e.probOff = e.probs[:0], e.probOff[:0]
	e.logProb, e.entropy = 0, 0
}

// run emits one sequence into e. With rng it samples each choice; with
// rng nil it takes the choices in forced (teacher forcing), which must
// follow seq. It reads what prepare computed.
func (p *policy) run(seq decisions, rng *rand.Rand, forced []int, e *episode) {
	H := p.hidden
	e.reset()
	tok := 0
	logits := e.logits
	for t := 0; ; t++ {
		k, slot := seq.next(t, e.actions)
		if k < 0 {
			return
		}
		e.gates = append(e.gates, p.in[tok*4*H:(tok+1)*4*H]...)
		z := e.gates[t*4*H : (t+1)*4*H]
		axpy(z, 1, p.in[(p.nTok+slot)*4*H:(p.nTok+slot+1)*4*H])
		var cPrev []float64
		if t > 0 {
			hPrev := e.out[(t-1)*H : t*H]
			cPrev = e.cell[(t-1)*H : t*H]
			for r := range 4 * H {
				z[r] += dot(p.wh[r*H:(r+1)*H], hPrev)
			}
		}
		for j := range H {
			z[j] = sigmoid(z[j])           // input
			z[H+j] = sigmoid(z[H+j])       // forget
			z[2*H+j] = math.Tanh(z[2*H+j]) // cell candidate
			z[3*H+j] = sigmoid(z[3*H+j])   // output
		}
		for j := range H {
			c := float64(z[j] * z[2*H+j])
			if cPrev != nil {
				c += float64(z[H+j] * cPrev[j])
			}
			tc := math.Tanh(c)
			e.cell = append(e.cell, c)
			e.tcell = append(e.tcell, tc)
			e.out = append(e.out, float64(z[3*H+j]*tc))
		}
		h := e.out[t*H : (t+1)*H]
		n := p.nChoice[k]
		logits = grow(logits, n)
		e.logits = logits
		for a := range n {
			logits[a] = p.headB[k][a] + dot(p.headW[k][a*H:(a+1)*H], h)
		}
		e.probOff = append(e.probOff, len(e.probs))
		e.probs = append(e.probs, logits[:n]...)
		pr := e.probs[len(e.probs)-n:]
		softmax(pr)
		var a int
		if rng != nil {
			a = drawIndex(pr, rng.Float64())
		} else {
			a = forced[t]
		}
		e.logProb += math.Log(pr[a])
		e.entropy += entropyOf(pr)
		e.types = append(e.types, k)
		e.actions = append(e.actions, a)
		e.tokens = append(e.tokens, tok)
		e.slots = append(e.slots, slot)
		tok = p.tokOff[k] + a
	}
}

// entropyOf returns the entropy of a distribution, in nats.
func entropyOf(pr []float64) float64 {
	ent := 0.0
	for _, q := range pr {
		if q > 0 {
			ent -= float64(q * math.Log(q))
		}
	}
	return ent
}

// backward adds to grad (laid out as theta) and dIn (laid out as the
// input table) the gradient of
//
//	loss = -scale · (adv · log π(e) + beta · H(e))
//
// where H(e) sums the entropies of the distributions e's choices were
// drawn from. w is scratch space.
func (p *policy) backward(e *episode, adv, beta, scale float64, grad, dIn []float64, w *backWork) {
	H := p.hidden
	T := len(e.types)
	_, dwh, _, _, _ := p.tensorsOf(grad)
	w.headW, w.headB = p.headsOf(grad, w.headW, w.headB)
	dHeadW, dHeadB := w.headW, w.headB
	w.dh = grow(w.dh, H)
	w.dc = grow(w.dc, H)
	w.dz = grow(w.dz, T*4*H)
	dhNext, dcNext := w.dh, w.dc
	clear(dhNext)
	clear(dcNext)
	for t := T - 1; t >= 0; t-- {
		k, a := e.types[t], e.actions[t]
		n := p.nChoice[k]
		pr := e.probs[e.probOff[t] : e.probOff[t]+n]
		ent := entropyOf(pr)
		w.dl = grow(w.dl, n)
		dl := w.dl
		for j, q := range pr {
			ind := 0.0
			if j == a {
				ind = 1
			}
			dEnt := 0.0
			if q > 0 {
				dEnt = -q * (math.Log(q) + ent)
			}
			dl[j] = -scale * (adv*(ind-q) + beta*dEnt)
		}
		h := e.out[t*H : (t+1)*H]
		// Head: dW_k += dl ⊗ h, db_k += dl, dh += W_kᵀ dl.
		for j := range n {
			axpy(dHeadW[k][j*H:(j+1)*H], dl[j], h)
			dHeadB[k][j] += dl[j]
			axpy(dhNext, dl[j], p.headW[k][j*H:(j+1)*H])
		}
		g := e.gates[t*4*H : (t+1)*4*H]
		tc := e.tcell[t*H : (t+1)*H]
		dz := w.dz[t*4*H : (t+1)*4*H]
		for j := range H {
			ig, fg, cg, og := g[j], g[H+j], g[2*H+j], g[3*H+j]
			dh := dhNext[j]
			do := float64(dh * tc[j])
			dc := float64(float64(dh*og)*(1-float64(tc[j]*tc[j]))) + dcNext[j]
			cPrev := 0.0
			if t > 0 {
				cPrev = e.cell[(t-1)*H+j]
			}
			dz[j] = float64(float64(dc*cg) * float64(ig*(1-ig)))
			dz[H+j] = float64(float64(dc*cPrev) * float64(fg*(1-fg)))
			dz[2*H+j] = float64(float64(dc*ig) * (1 - float64(cg*cg)))
			dz[3*H+j] = float64(do * float64(og*(1-og)))
			dcNext[j] = float64(dc * fg)
		}
		axpy(dIn[e.tokens[t]*4*H:(e.tokens[t]+1)*4*H], 1, dz)
		row := p.nTok + e.slots[t]
		axpy(dIn[row*4*H:(row+1)*4*H], 1, dz)
		// dh_{t-1} = Whᵀ dz_t.
		if t > 0 {
			for j := range H {
				dhNext[j] = dot(p.whT[j*4*H:(j+1)*4*H], dz)
			}
		}
	}
	// dWh = Σ_t dz_t ⊗ h_{t-1}, row by row so that each row stays in cache.
	for r := range 4 * H {
		row := dwh[r*H : (r+1)*H]
		for t := 1; t < T; t++ {
			if d := w.dz[t*4*H+r]; d != 0 {
				axpy(row, d, e.out[(t-1)*H:t*H])
			}
		}
	}
}

// inputBackward carries the gradient of the input table to Wx, b and the
// embeddings.
func (p *policy) inputBackward(dIn, grad []float64) {
	H := p.hidden
	dwx, _, db, demb, dpos := p.tensorsOf(grad)
	for i := range p.inputRows() {
		row := dIn[i*4*H : (i+1)*4*H]
		x, bias := p.inputVector(i)
		var dx []float64
		if i < p.nTok {
			dx = demb[i*H : (i+1)*H]
		} else {
			dx = dpos[(i-p.nTok)*H : (i-p.nTok+1)*H]
		}
		for r, d := range row {
			if d == 0 {
				continue
			}
			if bias {
				db[r] += d
			}
			axpy(dwx[r*H:(r+1)*H], d, x)
			axpy(dx, d, p.wx[r*H:(r+1)*H])
		}
	}
}

// backWork is one goroutine's scratch space for backward.
type backWork struct {
	dh, dc, dz, dl []float64
	headW, headB   [][]float64 // views of the heads' gradients (headsOf)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// softmax replaces v by its softmax.
func softmax(v []float64) {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	sum := 0.0
	for i, x := range v {
		v[i] = math.Exp(x - m)
		sum += v[i]
	}
	for i := range v {
		v[i] /= sum
	}
}

// drawIndex returns the index u falls into on the cumulative distribution p.
func drawIndex(p []float64, u float64) int {
	acc := 0.0
	for i, q := range p {
		acc += q
		if u < acc {
			return i
		}
	}
	return len(p) - 1
}

// dot is the dot product of two equal-length vectors, summed in four
// interleaved partial sums.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+3 < len(a); i += 4 {
		s0 += float64(a[i] * b[i])
		s1 += float64(a[i+1] * b[i+1])
		s2 += float64(a[i+2] * b[i+2])
		s3 += float64(a[i+3] * b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += float64(a[i] * b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds alpha·x to y.
func axpy(y []float64, alpha float64, x []float64) {
	x = x[:len(y)]
	i := 0
	for ; i+3 < len(y); i += 4 {
		y[i] += float64(alpha * x[i])
		y[i+1] += float64(alpha * x[i+1])
		y[i+2] += float64(alpha * x[i+2])
		y[i+3] += float64(alpha * x[i+3])
	}
	for ; i < len(y); i++ {
		y[i] += float64(alpha * x[i])
	}
}

// grow returns v resized to n, reusing its storage when it can.
func grow(v []float64, n int) []float64 {
	if cap(v) < n {
		return make([]float64, n)
	}
	return v[:n]
}

// adam is the Adam optimizer (Kingma and Ba) over one flat parameter
// vector, minimizing.
type adam struct {
	lr, beta1, beta2, eps float64
	m, v                  []float64
	t                     int
}

func newAdam(n int, lr float64) *adam {
	return &adam{lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, m: make([]float64, n), v: make([]float64, n)}
}

// step moves theta against grad.
func (o *adam) step(theta, grad []float64) {
	o.t++
	c1 := 1 - math.Pow(o.beta1, float64(o.t))
	c2 := 1 - math.Pow(o.beta2, float64(o.t))
	for i, g := range grad {
		o.m[i] = o.beta1*o.m[i] + (1-o.beta1)*g
		o.v[i] = o.beta2*o.v[i] + (1-o.beta2)*float64(g*g)
		mh, vh := o.m[i]/c1, o.v[i]/c2
		theta[i] -= o.lr * mh / (math.Sqrt(vh) + o.eps)
	}
}
