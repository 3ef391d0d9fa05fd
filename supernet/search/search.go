package search

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// Scorer predicts everything the search needs to know about subnets.
// predictor.Scorer implements it.
type Scorer interface {
	// Score writes the estimate of cfgs[i] to out[i]. It must give the
	// same estimate for the same config every time, whatever the batch,
	// and be safe for concurrent use: Run splits large batches over
	// GOMAXPROCS goroutines.
	Score(cfgs []supernet.Config, out []predictor.Estimate)
}

// CostScorer is a [Scorer] that can fill in every field but Accuracy far
// more cheaply than Score. The search then checks limits (and repairs
// subnets that miss them) with ScoreCosts and spends Score only on
// subnets that meet every limit. Without it, every check calls Score.
type CostScorer interface {
	Scorer
	// ScoreCosts writes the estimate of cfgs[i] to out[i], except for
	// Accuracy, which it may leave zero.
	ScoreCosts(cfgs []supernet.Config, out []predictor.Estimate)
}

// LatencyScorer is implemented by scorers that can predict latency alone
// (predictor.Scorer does). When latency is the only limit, the search
// checks it with LatencyMS and skips the other costs.
type LatencyScorer interface {
	LatencyMS(c supernet.Config) float64
}

// Resolutioner is implemented by scorers that can only predict some
// resolutions (a lookup table profiled at 160..224, say). When
// Options.Resolutions is empty, the search uses the ones it returns.
type Resolutioner interface {
	Resolutions() []int
}

// Methods Run accepts.
const (
	MethodEvolution = "evolution"
	MethodRandom    = "random"
	MethodRL        = "rl"
)

// Options tune a search. The zero value of each field selects the default
// shown.
type Options struct {
	Method     string // MethodEvolution (default), MethodRandom or MethodRL
	Population int    // subnets per generation: 100
	// Generations caps the generations of each phase: 120. Most searches
	// stop earlier (see Patience); the cap bounds the rare long one to
	// about 12,000 predictions. OFA runs 500.
	Generations int
	// Patience ends the search once the best accuracy has not improved
	// by 0.01 percentage points for this many generations: 30. Negative
	// disables early stopping.
	Patience int
	// Screen is how many children are bred for each one scored: a ridge
	// regression on the subnets scored so far ranks them, and the best
	// 80% of each generation's scored children are the ones it ranks
	// highest (the rest are drawn at random): 3. 1 turns screening off.
	Screen int
	// ParentRatio is the share of the population kept as parents: 0.25.
	ParentRatio float64
	// MutationRatio is the share of children made by mutation; the rest
	// are crossovers of two parents: 0.5.
	MutationRatio float64
	// MutateProb is the chance that mutation redraws one block's kernel
	// and expand ratio, or one stage's depth: 0.05. (OFA uses 0.1; here
	// repair and growth already change a child further, and 0.05 gives
	// better subnets for the same predictions.)
	MutateProb float64
	// ResolutionMutateProb is the chance that mutation redraws the
	// resolution: 0.1 (OFA's tutorial; its NAS code uses 0.5).
	ResolutionMutateProb float64
	// GrowTries is how many failed one-choice increases in a row end
	// the growing of a child toward the limits (see the package doc): 2.
	// Negative disables growing.
	GrowTries int
	// PolishOff disables the final linearized-knapsack local search.
	PolishOff bool
	// MaxPredictions caps the accuracy predictions (Stats.Scored) of the
	// search for the best subnets, whatever the method: it ends when the
	// cap is reached, the last batch cut to fit. 0 means no cap beyond
	// Generations and Patience. The Pareto phase, when asked for, runs
	// after it under its own bounds. With a scorer that has no cheap cost
	// path ([CostScorer]), limit checks count as predictions too and the
	// cap can be passed by one generation's checks.
	MaxPredictions int
	// RL tunes the controller of MethodRL.
	RL RLOptions
	// Seed makes a run reproducible: the same seed, space, scorer, limits
	// and options give the same result on any machine.
	Seed uint64
	// TopK is how many distinct subnets the result lists, best first: 1.
	TopK int
	// Resolutions restricts the input sizes searched. Empty means the
	// scorer's (see [Resolutioner]), or else the space's.
	Resolutions []int
	// Pareto adds the Pareto front of accuracy against latency among the
	// subnets that meet the limits, from a second, multi-objective search.
	Pareto bool
	// ParetoMemory makes peak memory a third objective of the front.
	ParetoMemory bool
	// KeepEvaluated returns every scored subnet that meets the limits in
	// Result.Evaluated (always done with Pareto, for plotting).
	KeepEvaluated bool
	// Progress, if set, is called after every generation with the
	// generations done and the most there can be. It runs on the
	// search's goroutine and should return quickly.
	Progress func(done, total int)
	// Logger receives a debug line per generation; nil means slog.Default.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Method == "" {
		o.Method = MethodEvolution
	}
	orDefault(&o.Population, 100)
	orDefault(&o.Generations, 120)
	orDefault(&o.Patience, 30)
	orDefault(&o.Screen, 3)
	orDefault(&o.TopK, 1)
	orDefault(&o.GrowTries, 2)
	orDefault(&o.ParentRatio, 0.25)
	orDefault(&o.MutationRatio, 0.5)
	orDefault(&o.MutateProb, 0.05)
	orDefault(&o.ResolutionMutateProb, 0.1)
	o.RL = o.RL.withDefaults()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// orDefault sets *v to d when it is zero.
func orDefault[T int | float64](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// Validate reports what Run would refuse in o, its defaults filled in
// (resolutions are checked against the space by Run).
func (o Options) Validate() error { return o.withDefaults().validate() }

func (o Options) validate() error {
	switch o.Method {
	case MethodEvolution, MethodRandom, MethodRL:
	default:
		return fmt.Errorf("unknown search method %q: use %q, %q or %q", o.Method, MethodEvolution, MethodRandom, MethodRL)
	}
	if o.MaxPredictions < 0 {
		return fmt.Errorf("prediction cap %d is negative: use 0 (none) or more", o.MaxPredictions)
	}
	if err := o.RL.validate(); err != nil {
		return err
	}
	if o.Population < 2 {
		return fmt.Errorf("population %d is too small: use at least 2 (default 100)", o.Population)
	}
	if o.Generations < 1 {
		return fmt.Errorf("generations %d: use at least 1 (default 120)", o.Generations)
	}
	if o.Screen < 1 {
		return fmt.Errorf("screen factor %d: use 1 (off) or more (default 3)", o.Screen)
	}
	if o.TopK < 1 {
		return fmt.Errorf("top-k %d: ask for at least 1 subnet", o.TopK)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"parent ratio", o.ParentRatio}, {"mutation ratio", o.MutationRatio}, {"mutation probability", o.MutateProb},
		{"resolution mutation probability", o.ResolutionMutateProb}} {
		if !(p.v > 0 && p.v <= 1) {
			return fmt.Errorf("%s %v is outside (0, 1]", p.name, p.v)
		}
	}
	return nil
}

// Candidate is one scored subnet.
type Candidate struct {
	Config supernet.Config
	predictor.Estimate
}

// Stats describe the work a search did.
type Stats struct {
	Scored      int           // accuracy predictions: distinct subnets passed to Score
	CostChecks  int           // subnets passed to ScoreCosts (limit checks and repairs)
	Repaired    int           // children that missed a limit and were repaired
	Samples     int           // subnets the rl controller drew (MethodRL)
	Generations int           // generations run (both searches with Pareto)
	Converged   bool          // stopped early because the best stopped improving
	Wall        time.Duration // wall time of the whole run

	repairChecks, growChecks int
}

// Result is what [Run] found.
type Result struct {
	Space  string // the space's name
	Method string
	Limits Limits
	// Top holds up to Options.TopK distinct subnets that meet every
	// limit, most accurate first (ties: faster first).
	Top []Candidate
	// Front is the Pareto front among scored subnets that meet the
	// limits, by increasing latency (only with Options.Pareto).
	Front []Candidate
	// Objectives names the front's objectives, e.g. accuracy and latency.
	Objectives []string
	// Evaluated holds every scored subnet that meets the limits, in the
	// order scored (with Options.Pareto or Options.KeepEvaluated).
	Evaluated []Candidate
	// Trace records each rise of the best accuracy among subnets that
	// meet the limits, with the predictions made up to it, in order.
	Trace []TracePoint
	Stats Stats
}

// TracePoint is one rise of the best accuracy during a search.
type TracePoint struct {
	Predictions int     // Stats.Scored when the subnet was scored
	Accuracy    float64 // the new best accuracy
}

// Best returns the most accurate subnet found.
func (r *Result) Best() Candidate { return r.Top[0] }

// Run searches space for the subnets scorer predicts to be most accurate
// among those meeting lim. It returns an [*InfeasibleError] when no subnet
// meets lim, and ctx's error (wrapped) when ctx ends first.
func Run(ctx context.Context, space *supernet.Space, scorer Scorer, lim Limits, opt Options) (*Result, error) {
	start := time.Now()
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	if space == nil || scorer == nil {
		return nil, fmt.Errorf("search needs a space and a scorer")
	}
	rs := opt.Resolutions
	if len(rs) == 0 {
		if rr, ok := scorer.(Resolutioner); ok {
			rs = rr.Resolutions()
		}
	}
	if len(rs) > 0 {
		var err error
		if space, err = space.WithResolutions(rs); err != nil {
			return nil, fmt.Errorf("search resolutions: %w", err)
		}
	}
	s := &searcher{ctx: ctx, space: space, opt: opt, seen: newConfigTable(1024), best: math.Inf(-1)}
	s.scorer = scorer
	s.coster, _ = scorer.(CostScorer)
	if lim.Relative() {
		e, _ := s.largest()
		lim = lim.Resolve(e)
	}
	s.lim = lim
	if l, ok := scorer.(LatencyScorer); ok && lim.MaxMemory == 0 && lim.MaxParams == 0 && lim.MaxMACs == 0 {
		s.latOnly = l
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("search cancelled: %w", err)
	}
	if err := s.findAnchor(); err != nil {
		return nil, err
	}
	res := &Result{Space: space.Name, Method: opt.Method, Limits: lim}
	if opt.Screen > 1 && opt.Method == MethodEvolution {
		s.sur = newSurrogate(space)
	}
	if opt.Pareto {
		s.archive = &archive{s: s, memory: opt.ParetoMemory}
	}
	s.total = opt.Generations
	if opt.Pareto {
		s.total *= 2
	}
	s.budget = opt.MaxPredictions
	var err error
	switch opt.Method {
	case MethodEvolution:
		err = s.evolve()
	case MethodRandom:
		err = s.randomSearch()
	case MethodRL:
		err = s.reinforce()
	}
	if err == nil && len(s.all) == 0 {
		// Only a cap spent on limit checks leaves nothing scored: the
		// anchor meets every limit.
		err = fmt.Errorf("the prediction cap of %d was spent on limit checks before any subnet that meets the limits was scored (without ScoreCosts every check is a prediction): raise MaxPredictions", s.budget)
	}
	s.budget = 0
	if err == nil && opt.Pareto {
		err = s.nsga()
		res.Front = s.archive.front()
		res.Objectives = s.archive.names()
	}
	if err != nil {
		return nil, err
	}
	if opt.Progress != nil {
		opt.Progress(s.total, s.total)
	}
	res.Top = s.top(opt.TopK)
	res.Trace = s.trace
	if opt.Pareto || opt.KeepEvaluated {
		res.Evaluated = slices.Clone(s.all)
	}
	s.stats.Wall = time.Since(start)
	res.Stats = s.stats
	return res, nil
}

// largest returns the estimate of the space's largest subnet, at its
// largest resolution (what relative limits are shares of, and the scales
// of the Pareto phase without limits), from the cheap path where there is
// one. It is estimated on the first call, which fresh reports, and not
// counted in the stats: the callers count it.
func (s *searcher) largest() (e *predictor.Estimate, fresh bool) {
	if s.largestEst == nil {
		sp := s.space
		c := []supernet.Config{sp.MaxConfig(sp.Resolutions[len(sp.Resolutions)-1])}
		est := make([]predictor.Estimate, 1)
		if s.coster != nil {
			s.coster.ScoreCosts(c, est)
		} else {
			parallelScore(s.scorer, c, est)
		}
		s.largestEst, fresh = &est[0], true
	}
	return s.largestEst, fresh
}

// searcher holds one run's state.
type searcher struct {
	ctx    context.Context
	space  *supernet.Space
	scorer Scorer
	coster CostScorer // nil when the scorer has no cheap path
	// latOnly, when set, checks limits that bound latency alone.
	latOnly LatencyScorer
	lim     Limits
	opt     Options

	anchor supernet.Config // meets every limit; repairs head here

	// seen maps every scored subnet to its index in all, or to -1-i for
	// over[i] when it misses a limit.
	seen    *configTable
	all     []Candidate          // scored subnets that meet every limit, in order
	over    []predictor.Estimate // scored subnets that miss a limit
	archive *archive

	best        float64 // highest accuracy in all
	trace       []TracePoint
	budget      int        // accuracy predictions allowed in all (0: no cap)
	sur         *surrogate // nil when screening is off
	done, total int
	stats       Stats
	buf         []predictor.Estimate
	largestEst  *predictor.Estimate // see largest
}

// stream returns the random stream of one phase and generation. Streams
// are independent of each other and of how work is scheduled.
func (s *searcher) stream(phase, gen uint64) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(s.opt.Seed^0x9e3779b97f4a7c15), splitmix(phase<<40^gen)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// costs fills out with what the limits need: everything but (possibly)
// accuracy, or only the latency when that is the only limit and the
// scorer can predict it alone.
func (s *searcher) costs(cfgs []supernet.Config, out []predictor.Estimate) {
	if len(cfgs) == 0 {
		return
	}
	if s.latOnly != nil {
		s.stats.CostChecks += len(cfgs)
		for i := range cfgs {
			out[i] = predictor.Estimate{LatencyMS: s.latOnly.LatencyMS(cfgs[i])}
		}
		return
	}
	s.fullCosts(cfgs, out)
}

// fullCosts fills out with everything but (possibly) accuracy.
func (s *searcher) fullCosts(cfgs []supernet.Config, out []predictor.Estimate) {
	if s.coster != nil {
		s.stats.CostChecks += len(cfgs)
		s.coster.ScoreCosts(cfgs, out)
		return
	}
	s.stats.Scored += len(cfgs)
	parallelScore(s.scorer, cfgs, out)
}

// scoreAll scores the configs not scored before and returns the
// estimates of all of cfgs, in order, whether they meet the limits or
// not. Those that meet them join s.all (and the archive). Under a
// prediction cap the configs beyond it stay unscored, with zero
// estimates.
func (s *searcher) scoreAll(cfgs []supernet.Config) []predictor.Estimate {
	var fresh []supernet.Config
	pending := newConfigTable(len(cfgs))
	for i := range cfgs {
		c := &cfgs[i]
		if _, ok := s.seen.get(c); !ok {
			if _, dup := pending.get(c); !dup {
				pending.put(c, 0)
				fresh = append(fresh, *c)
			}
		}
	}
	if left := s.predictionsLeft(); len(fresh) > left {
		fresh = fresh[:left]
	}
	if len(fresh) > 0 {
		s.buf = slices.Grow(s.buf[:0], len(fresh))[:len(fresh)]
		done := s.stats.Scored
		s.stats.Scored += len(fresh)
		parallelScore(s.scorer, fresh, s.buf)
		for i, c := range fresh {
			e := s.buf[i]
			if s.sur != nil {
				s.sur.add(&c, e.Accuracy)
			}
			if s.lim.Met(&e) {
				s.seen.put(&c, len(s.all))
				s.all = append(s.all, Candidate{Config: c, Estimate: e})
				if e.Accuracy > s.best {
					s.best = e.Accuracy
					s.trace = append(s.trace, TracePoint{Predictions: done + i + 1, Accuracy: e.Accuracy})
				}
				if s.archive != nil {
					s.archive.add(len(s.all) - 1)
				}
			} else {
				s.seen.put(&c, -1-len(s.over))
				s.over = append(s.over, e)
			}
		}
	}
	out := make([]predictor.Estimate, len(cfgs))
	for i, c := range cfgs {
		out[i], _, _ = s.known(c)
	}
	return out
}

// parallelMin is the smallest share of a batch worth a goroutine.
const parallelMin = 32

// parallelScore splits a batch over GOMAXPROCS goroutines. Each config's
// estimate depends on the config alone, so the split cannot change the
// result.
func parallelScore(sc Scorer, cfgs []supernet.Config, out []predictor.Estimate) {
	n := min(runtime.GOMAXPROCS(0), len(cfgs)/parallelMin)
	if n < 2 {
		sc.Score(cfgs, out)
		return
	}
	var wg sync.WaitGroup
	for k := range n {
		lo, hi := k*len(cfgs)/n, (k+1)*len(cfgs)/n
		wg.Go(func() { sc.Score(cfgs[lo:hi], out[lo:hi]) })
	}
	wg.Wait()
}

// known returns the estimate of a scored subnet and whether it meets the
// limits; ok is false when c was never scored.
func (s *searcher) known(c supernet.Config) (e predictor.Estimate, meets, ok bool) {
	i, ok := s.seen.get(&c)
	switch {
	case !ok:
		return e, false, false
	case i >= 0:
		return s.all[i].Estimate, true, true
	default:
		return s.over[-1-i], false, true
	}
}

// score scores the configs not scored before and returns the candidates
// of cfgs, in order, that meet the limits.
func (s *searcher) score(cfgs []supernet.Config) []Candidate {
	s.scoreAll(cfgs)
	out := make([]Candidate, 0, len(cfgs))
	for _, c := range cfgs {
		if i, ok := s.seen.get(&c); ok && i >= 0 {
			out = append(out, s.all[i])
		}
	}
	return out
}

// better orders candidates: more accurate first, then faster, then
// smaller, then by config so that the order is total.
func better(a, b *Candidate) int {
	if c := cmp.Compare(b.Accuracy, a.Accuracy); c != 0 {
		return c
	}
	if c := cmp.Compare(a.LatencyMS, b.LatencyMS); c != 0 {
		return c
	}
	if c := cmp.Compare(a.MACs, b.MACs); c != 0 {
		return c
	}
	return compareConfig(&a.Config, &b.Config)
}

func compareConfig(a, b *supernet.Config) int {
	if c := cmp.Compare(a.R, b.R); c != 0 {
		return c
	}
	if c := slices.Compare(a.D[:], b.D[:]); c != 0 {
		return c
	}
	if c := slices.Compare(a.KS[:], b.KS[:]); c != 0 {
		return c
	}
	return slices.Compare(a.E[:], b.E[:])
}

// top returns the k best candidates in s.all, best first.
func (s *searcher) top(k int) []Candidate {
	out := make([]Candidate, 0, k+1)
	for i := range s.all {
		c := &s.all[i]
		if len(out) == k && better(c, &out[k-1]) >= 0 {
			continue
		}
		pos, _ := slices.BinarySearchFunc(out, c, func(a Candidate, c *Candidate) int { return better(&a, c) })
		out = slices.Insert(out, pos, *c)
		if len(out) > k {
			out = out[:k]
		}
	}
	return out
}

// bestAccuracy returns the highest accuracy scored among subnets that
// meet the limits.
func (s *searcher) bestAccuracy() float64 { return s.best }

// predictionsLeft returns how many more accuracy predictions the cap
// allows (a large number without one).
func (s *searcher) predictionsLeft() int {
	if s.budget == 0 {
		return math.MaxInt
	}
	return max(0, s.budget-s.stats.Scored)
}

func (s *searcher) progress() {
	s.done++
	s.stats.Generations++
	if s.opt.Progress != nil {
		s.opt.Progress(s.done, s.total)
	}
}

func (s *searcher) cancelled() error {
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("search cancelled after %d generations: %w", s.done, err)
	}
	return nil
}
