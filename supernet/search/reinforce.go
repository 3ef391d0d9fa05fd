package search

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// RLOptions tune the reinforcement-learning controller of [MethodRL]. The
// zero value of each field selects the default shown.
type RLOptions struct {
	// Hidden is the LSTM's hidden size, also the size of the choice
	// embeddings: 64.
	Hidden int
	// Entropy weighs the entropy bonus (in nats per standard deviation
	// of the reward, see [trainer]), which keeps the controller
	// exploring: 0.1. Negative turns it off. (0.01, the usual weight
	// for rewards that are not rescaled, lets the controller settle on
	// the first good subnet it finds: at 15 ms on the Note10 tables it
	// then does no better than random search.)
	Entropy float64
	// LearningRate is Adam's step size: 0.005.
	LearningRate float64
	// Batch is the number of subnets sampled per policy update: 20.
	Batch int
	// BaselineDecay is the weight of the past in the moving averages of
	// the reward (the baseline) and of its squared deviation (which
	// scales the advantages): 0.9.
	BaselineDecay float64
	// Penalty is λ in the reward of a subnet that misses a limit,
	// b − λ·(summed relative excess over the limits), where b is the
	// baseline: 0.1.
	Penalty float64
}

func (o RLOptions) withDefaults() RLOptions {
	orDefault(&o.Hidden, 64)
	orDefault(&o.Entropy, 0.1)
	o.Entropy = max(o.Entropy, 0) // negative: no bonus
	orDefault(&o.LearningRate, 0.005)
	orDefault(&o.Batch, 20)
	orDefault(&o.BaselineDecay, 0.9)
	orDefault(&o.Penalty, 0.1)
	return o
}

// trainer is REINFORCE with a moving-average baseline, an entropy bonus
// and Adam, over a [policy] emitting the sequences of a [decisions].
//
// Each update draws a batch of sequences, one random stream each, and
// takes one Adam step on
//
//	loss = -(1/B) Σ_j [ A_j · log π(seq_j) + β · H(seq_j) ]
//
// where A_j = (R_j − b)/σ: b is the moving average of the rewards seen
// before this batch (the baseline) and σ² that of their squared
// deviation from it, so that the weight β of the entropy bonus means the
// same whatever the rewards' scale: accuracies near the optimum differ in
// the third decimal, while a first batch that misses the limits spreads
// over whole units of penalty. The first batch sets b and σ² to its own
// mean and variance.
type trainer struct {
	pol  *policy
	seq  decisions
	opt  RLOptions
	adam *adam

	baseline, spread float64
	started          bool

	pool     []*episode
	last     int // sequences of the last batch, pool[:last]
	grad     []float64
	chunks   [][]float64 // per chunk of episodes: gradient, then input-table gradient
	dIn      []float64   // the chunks' input-table gradients summed
	backWork []backWork
}

// chunkEpisodes is how many episodes share a gradient buffer. The chunks
// are fixed by episode index and summed in order, so the gradient does
// not depend on how many goroutines computed it.
const chunkEpisodes = 4

func newTrainer(seq decisions, opt RLOptions, rng *rand.Rand) *trainer {
	pol := newPolicy(seq.choices(), seq.slots(), opt.Hidden, rng)
	t := &trainer{pol: pol, seq: seq, opt: opt, adam: newAdam(len(pol.theta), opt.LearningRate)}
	t.grad = make([]float64, len(pol.theta))
	return t
}

// sample draws n sequences, the j-th from stream(j), in parallel.
func (t *trainer) sample(n int, stream func(j int) *rand.Rand) []*episode {
	for len(t.pool) < n {
		t.pool = append(t.pool, &episode{})
	}
	eps := t.pool[:n]
	t.last = n
	parallelForMin(n, 2, func(_, j int) { t.pol.run(t.seq, stream(j), nil, eps[j]) })
	return eps
}

// update takes one policy-gradient step on eps and their rewards.
func (t *trainer) update(eps []*episode, rewards []float64) {
	n := len(eps)
	if n == 0 {
		return
	}
	mean := 0.0
	for _, r := range rewards {
		mean += r
	}
	mean /= float64(n)
	if !t.started {
		t.baseline, t.spread, t.started = mean, 0, true
	}
	// The spread takes this batch in before it scales the advantages,
	// so that one reward far from all seen before (the first subnet that
	// meets the limits, a rare hit) gets a large advantage, not an
	// unbounded one: a spike that large would fill Adam's second moment
	// and stall its steps for hundreds of updates.
	dev := 0.0
	for _, r := range rewards {
		dev += (r - t.baseline) * (r - t.baseline)
	}
	d := t.opt.BaselineDecay
	t.spread = d*t.spread + (1-d)*dev/float64(n)
	scale := math.Sqrt(t.spread) + 1e-12
	adv := make([]float64, n)
	for j, r := range rewards {
		adv[j] = (r - t.baseline) / scale
	}
	t.baseline = d*t.baseline + (1-d)*mean
	t.gradient(eps, adv, 1/float64(n))
	t.adam.step(t.pol.theta, t.grad)
	t.pol.prepare()
}

// gradient fills t.grad with the gradient of the loss over eps with
// advantages adv, each episode weighted by scale.
func (t *trainer) gradient(eps []*episode, adv []float64, scale float64) {
	p := t.pol
	nIn := p.inputRows() * 4 * p.hidden
	nChunks := (len(eps) + chunkEpisodes - 1) / chunkEpisodes
	for len(t.chunks) < nChunks {
		t.chunks = append(t.chunks, make([]float64, len(p.theta)+nIn))
	}
	for len(t.backWork) < nChunks {
		t.backWork = append(t.backWork, backWork{})
	}
	parallelForMin(nChunks, 1, func(_, c int) {
		buf := t.chunks[c]
		clear(buf)
		for j := c * chunkEpisodes; j < min(len(eps), (c+1)*chunkEpisodes); j++ {
			p.backward(eps[j], adv[j], t.opt.Entropy, scale, buf[:len(p.theta)], buf[len(p.theta):], &t.backWork[c])
		}
	})
	clear(t.grad)
	t.dIn = grow(t.dIn, nIn)
	dIn := t.dIn
	clear(dIn)
	for c := range nChunks {
		buf := t.chunks[c]
		axpy(t.grad, 1, buf[:len(p.theta)])
		axpy(dIn, 1, buf[len(p.theta):])
	}
	p.inputBackward(dIn, t.grad)
}

func (o RLOptions) validate() error {
	switch {
	case o.Hidden < 1 || o.Hidden > 4096:
		return fmt.Errorf("rl hidden size %d: use 1..4096 (default 64)", o.Hidden)
	case o.Batch < 1:
		return fmt.Errorf("rl samples per update %d: use at least 1 (default 20)", o.Batch)
	case !(o.LearningRate > 0 && o.LearningRate < 10):
		return fmt.Errorf("rl learning rate %v: use a positive step such as 0.005", o.LearningRate)
	case !(o.BaselineDecay > 0 && o.BaselineDecay < 1):
		return fmt.Errorf("rl baseline decay %v is outside (0, 1)", o.BaselineDecay)
	case !(o.Penalty > 0) || math.IsInf(o.Penalty, 0):
		return fmt.Errorf("rl penalty %v: use a positive weight such as 0.1", o.Penalty)
	case math.IsNaN(o.Entropy) || math.IsInf(o.Entropy, 0):
		return fmt.Errorf("rl entropy weight %v: use a number such as 0.1", o.Entropy)
	}
	return nil
}

// meanEntropy returns the mean entropy of the last batch's sequences.
func (t *trainer) meanEntropy() float64 {
	if t.last == 0 {
		return 0
	}
	sum := 0.0
	for _, e := range t.pool[:t.last] {
		sum += e.entropy
	}
	return sum / float64(t.last)
}
