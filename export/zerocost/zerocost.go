package zerocost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/native"
	"github.com/edgefit/edgefit/supernet"
)

// DefaultCacheSize is how many subnets' scores a Model remembers.
const DefaultCacheSize = 1 << 16

// Options configure a [Model].
type Options struct {
	// Images is the batch every subnet is scored on (required).
	Images *Images
	// Checkpoint, when set, is the supernet whose subnets are scored with
	// their trained weights; nil scores each subnet at a seeded untrained
	// initialization ([supernet.Init] with Seed), as NASWOT defines the
	// score. Either way BatchNorm normalizes with the batch's statistics.
	Checkpoint *supernet.Checkpoint
	// Seed seeds the untrained weights (the same seed and config give the
	// same weights).
	Seed uint64
	// Threads is the native engine's goroutines; 0 means GOMAXPROCS.
	Threads int
	// Context bounds the forward passes that Accuracy runs, since
	// predictor.AccuracyModel's Accuracy takes none; nil means
	// context.Background(). Once it is done, Accuracy gives NaN.
	Context context.Context
	// CacheSize is how many scores are remembered, by config; 0 means
	// DefaultCacheSize. When full, the memory is dropped.
	CacheSize int
}

// Result is one subnet's score.
type Result struct {
	// Score is NASWOT's log det(K + Ridge·N·I) (see [Kernel.LogDet]).
	Score float64 `json:"score"`
	// Normalized is Score mapped to [0, 1] as [Model.Accuracy] reports it
	// (see [Model.Normalize]).
	Normalized float64 `json:"normalized"`
	// Units is N, the activation units coded per image.
	Units int64 `json:"units"`
	// Seconds is the time the score took to compute (0 from the cache).
	Seconds float64 `json:"seconds,omitempty"`
}

// Model scores subnets with NASWOT. It implements predictor.AccuracyModel
// (Accuracy and Source) and labels itself a proxy (AccuracyIsProxy): its
// numbers rank subnets, they are not accuracies. It is safe for concurrent
// use; one subnet is scored at a time, on Options.Threads goroutines, and
// scores are cached by config. The engine's activation buffers pass from
// one subnet to the next (about 0.4 GB for 64 images of the mid w1.0
// subnet at 224, 0.8 GB for the largest w1.2 one) until [Model.Close].
type Model struct {
	space  *supernet.Space
	opts   Options
	source string
	lo, hi float64 // the normalization's floor and bound

	run  sync.Mutex         // one forward pass at a time
	last *native.Calibrator // the previous subnet's, whose buffers the next one takes over

	mu     sync.Mutex
	ctx    context.Context // Accuracy's, from Options.Context or SetContext
	cache  map[supernet.Config]Result
	err    error
	scored int
	busy   time.Duration
}

// New returns a model scoring subnets of space on opts.Images.
func New(space *supernet.Space, opts Options) (*Model, error) {
	if space == nil {
		return nil, errors.New("zero-cost: no search space")
	}
	if opts.Images == nil {
		return nil, errors.New("zero-cost: no images: give an image folder (OpenImages) or a synthetic batch (SyntheticImages)")
	}
	if ck := opts.Checkpoint; ck != nil && ck.Space.Name != space.Name {
		return nil, fmt.Errorf("zero-cost: checkpoint %s is %s, but the search space is %s", ck.Path, ck.Space.Name, space.Name)
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("zero-cost: %d threads: want 0 (GOMAXPROCS) or more", opts.Threads)
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	m := &Model{space: space, opts: opts, ctx: opts.Context, cache: map[supernet.Config]Result{}}
	rs := space.Resolutions
	n := opts.Images.N()
	// The largest subnet at the highest resolution must fit the engine,
	// or the search would fail on its first large candidate.
	largest := space.MaxConfig(rs[len(rs)-1])
	if need, err := native.SubnetMemoryBytes(space, largest, n); err != nil {
		return nil, fmt.Errorf("zero-cost: %w", err)
	} else if need > native.DefaultMemoryLimit {
		return nil, fmt.Errorf("zero-cost: %d images of the largest %s subnet at %d need %.1f GB of activations, over the native engine's %.1f GB: use fewer images",
			n, space.Name, largest.R, float64(need)/1e9, float64(native.DefaultMemoryLimit)/1e9)
	}
	m.lo = Floor(n, Units(space, space.MinConfig(rs[0])))
	m.hi = Bound(n, Units(space, space.MaxConfig(rs[len(rs)-1])))
	m.source = m.describe()
	return m, nil
}

// Units returns the number of activation units per image of subnet c,
// the N of its kernel.
func Units(s *supernet.Space, c supernet.Config) int64 {
	var n int64
	for _, l := range export.CodeLayers(s, c) {
		n += int64(l.Units())
	}
	return n
}

// SourcePrefix starts every zero-cost Source, as predictor.ProxySource
// starts the MACs proxy's.
const SourcePrefix = "PROXY, not an accuracy: zero-cost NASWOT score"

func (m *Model) describe() string {
	weights := fmt.Sprintf("at an untrained seeded initialization (seed %d)", m.opts.Seed)
	if ck := m.opts.Checkpoint; ck != nil {
		weights = "with the weights of " + ck.Path
	}
	return fmt.Sprintf("%s (Mellor et al. 2021: log|det K| of the binary codes of every ReLU and h_swish input, K_ij = units on which images i and j agree) of each subnet %s, BatchNorm on batch statistics, on %s; "+
		"reported normalized to [0, 1] between the lowest score and an upper bound for this space (raw score = %.1f + %.1f × value). It ranks subnets by how well they tell the images apart; check it against real accuracies with 'edgefit predictor correlate'",
		SourcePrefix, weights, m.opts.Images.Describe(), m.lo, m.hi-m.lo)
}

// Source says what the numbers are: a proxy, not an accuracy, with how it
// was computed.
func (m *Model) Source() string { return m.source }

// AccuracyIsProxy reports that the numbers are a stand-in for accuracy.
func (m *Model) AccuracyIsProxy() bool { return true }

// SpaceName returns the space the model scores.
func (m *Model) SpaceName() string { return m.space.Name }

// CheckSpace refuses another space than the model's.
func (m *Model) CheckSpace(s *supernet.Space) error {
	if s.Name != m.space.Name {
		return fmt.Errorf("zero-cost proxy was set up for %s, not %s", m.space.Name, s.Name)
	}
	return nil
}

// Images returns the batch the model scores on.
func (m *Model) Images() *Images { return m.opts.Images }

// Normalize maps a score to [0, 1]: 0 at the lowest score any subnet of
// the space can have (Floor of the smallest subnet at the lowest
// resolution), 1 at the upper bound of the largest subnet at the highest
// resolution (Bound), linearly between, clamped. It keeps the order of
// scores.
func (m *Model) Normalize(score float64) float64 {
	if math.IsNaN(score) {
		return score
	}
	return min(1, max(0, (score-m.lo)/(m.hi-m.lo)))
}

// Err returns the first error Accuracy met, or nil.
func (m *Model) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Stats returns how many subnets were scored (not counting cache hits)
// and the time spent on them.
func (m *Model) Stats() (scored int, busy time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.scored, m.busy
}

// SetContext sets the context Accuracy's forward passes run in, in place
// of Options.Context, for a model opened before the work it serves.
func (m *Model) SetContext(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx = ctx
}

// Accuracy writes the normalized score of cfgs[i] to out[i], computing
// what the cache lacks; NaN for a config that could not be scored (see
// Err) or once the context (Options.Context, SetContext) is done.
func (m *Model) Accuracy(cfgs []supernet.Config, out []float64) {
	m.mu.Lock()
	ctx := m.ctx
	m.mu.Unlock()
	for i, c := range cfgs {
		r, err := m.Score(ctx, c)
		if err != nil {
			m.mu.Lock()
			if m.err == nil && ctx.Err() == nil {
				m.err = err
			}
			m.mu.Unlock()
			out[i] = math.NaN()
			continue
		}
		out[i] = r.Normalized
	}
}

// Score returns subnet c's score, from the cache or computed now: the
// subnet's weights (extracted or initialized), one forward pass of the
// batch at c's resolution on the native engine with the codes of every
// activation packed 64 to a word, the kernel counted with popcounts, and
// its log-determinant.
func (m *Model) Score(ctx context.Context, c supernet.Config) (Result, error) {
	if err := m.validate(c); err != nil {
		return Result{}, fmt.Errorf("zero-cost: %w", err)
	}
	key := c.Canonical(m.space)
	if r, ok := m.lookup(key); ok {
		return r, nil
	}
	m.run.Lock()
	defer m.run.Unlock()
	if r, ok := m.lookup(key); ok { // scored while waiting
		return r, nil
	}
	start := time.Now()
	k, err := m.kernel(ctx, key)
	if err != nil {
		return Result{}, err
	}
	score, _ := k.LogDet()
	r := Result{Score: score, Normalized: m.Normalize(score), Units: k.Units(), Seconds: time.Since(start).Seconds()}
	m.mu.Lock()
	if len(m.cache) >= m.opts.CacheSize {
		clear(m.cache)
	}
	m.cache[key] = r
	m.scored++
	m.busy += time.Since(start)
	m.mu.Unlock()
	return r, nil
}

// validate checks c against the space at any resolution the engine runs
// (ValidateAnyResolution), not only the space's own.
func (m *Model) validate(c supernet.Config) error {
	return m.space.ValidateAnyResolution(c)
}

func (m *Model) lookup(c supernet.Config) (Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.cache[c]
	if ok {
		r.Seconds = 0
	}
	return r, ok
}

// kernel runs subnet c on the batch and counts its kernel.
func (m *Model) kernel(ctx context.Context, c supernet.Config) (*Kernel, error) {
	net, err := m.net(c)
	if err != nil {
		return nil, err
	}
	batch, err := m.opts.Images.Batch(ctx, c.R)
	if err != nil {
		return nil, err
	}
	n := m.opts.Images.N()
	cal, err := native.NewCalibratorOptions(net, n, native.Options{Threads: m.opts.Threads, Reuse: m.last})
	if err != nil {
		return nil, fmt.Errorf("zero-cost %s: %w", c, err)
	}
	m.last = cal
	k := NewKernel(n)
	err = cal.ActivationCodes(ctx, batch, n, func(co *native.Codes) error {
		return k.Add(co.Bits, co.Words, co.Units())
	})
	if err != nil {
		return nil, fmt.Errorf("zero-cost %s: %w", c, err)
	}
	return k, nil
}

// Close releases the activation memory the model keeps between subnets
// (a batch's worth for the largest subnet scored so far). The model stays
// usable; the next score allocates it again.
func (m *Model) Close() error {
	m.run.Lock()
	defer m.run.Unlock()
	err := m.last.Close()
	m.last = nil
	return err
}

// net returns subnet c's weights: extracted from the checkpoint, or a
// seeded initialization.
func (m *Model) net(c supernet.Config) (*supernet.Net, error) {
	if ck := m.opts.Checkpoint; ck != nil {
		return supernet.Extract(ck, c)
	}
	return supernet.Init(m.space, c, m.opts.Seed), nil
}
