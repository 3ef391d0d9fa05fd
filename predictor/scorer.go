package predictor

import (
	"errors"
	"fmt"
	"sync"

	"github.com/edgefit/edgefit/supernet"
)

// spaceChecker is implemented by models that know which space they were
// fitted for ([LatencyPredictor], [MLPAccuracy], [RidgeAccuracy]).
type spaceChecker interface {
	CheckSpace(*supernet.Space) error
}

// parallelMin is the batch size from which Score splits its work across
// two goroutines; below it the goroutine start-up is not worth it.
const parallelMin = 512

// Scorer fills in everything a search needs about candidate subnets:
// predicted accuracy, predicted latency and exact costs. It is safe for
// concurrent use, and its results depend only on each config, never on
// the batch it came in or on scheduling.
type Scorer struct {
	space *supernet.Space
	lat   LatencyModel
	acc   AccuracyModel
	proxy *ProxyAccuracy // acc, when it is the MACs proxy

	mu    sync.Mutex
	cache map[supernet.Config]Estimate
	limit int
}

// NewScorer checks that the models suit the space and returns a scorer.
// A nil accuracy model means the documented MACs proxy
// ([NewProxyAccuracy]); check [Scorer.AccuracySource] before calling its
// numbers accuracies.
func NewScorer(space *supernet.Space, lat LatencyModel, acc AccuracyModel) (*Scorer, error) {
	if space == nil {
		return nil, errors.New("scorer: no search space")
	}
	if lat == nil {
		return nil, errors.New("scorer: no latency model: fit one from the device's lookup table (edgefit predictor fit)")
	}
	if acc == nil {
		acc = NewProxyAccuracy(space)
	}
	for _, m := range []any{lat, acc} {
		if c, ok := m.(spaceChecker); ok {
			if err := c.CheckSpace(space); err != nil {
				return nil, fmt.Errorf("scorer: %w", err)
			}
		}
	}
	s := &Scorer{space: space, lat: lat, acc: acc}
	s.proxy, _ = acc.(*ProxyAccuracy)
	return s, nil
}

// WithCache makes the scorer remember up to n estimates by config, for
// searches that score the same subnets repeatedly; the memory is dropped
// when it fills. It returns s.
func (s *Scorer) WithCache(n int) *Scorer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
	s.cache = nil
	if n > 0 {
		s.cache = make(map[supernet.Config]Estimate, min(n, 1<<16))
	}
	return s
}

// AccuracySource says where accuracies come from (see
// [AccuracyModel.Source]).
func (s *Scorer) AccuracySource() string { return s.acc.Source() }

// AccuracyIsProxy reports whether the accuracies are a proxy: the MACs
// proxy, or a model that labels itself one (see [IsProxy]).
func (s *Scorer) AccuracyIsProxy() bool { return IsProxy(s.acc) }

// Space returns the scorer's space.
func (s *Scorer) Space() *supernet.Space { return s.space }

// Score writes the estimate of cfgs[i] to out[i]; out must be at least as
// long as cfgs. Configs must be valid for the space (see
// [supernet.Space.Validate]); for an invalid one the accuracy and latency
// are NaN. Large batches are split over two goroutines.
func (s *Scorer) Score(cfgs []supernet.Config, out []Estimate) {
	out = out[:len(cfgs)]
	if s.cache == nil {
		s.score(cfgs, out)
		return
	}
	// Look up what is known; score the rest; remember it.
	var miss []supernet.Config
	var where []int
	s.mu.Lock()
	for i, c := range cfgs {
		if e, ok := s.cache[c]; ok {
			out[i] = e
		} else {
			miss = append(miss, c)
			where = append(where, i)
		}
	}
	s.mu.Unlock()
	if len(miss) == 0 {
		return
	}
	tmp := make([]Estimate, len(miss))
	s.score(miss, tmp)
	s.mu.Lock()
	for j, i := range where {
		out[i] = tmp[j]
		if len(s.cache) >= s.limit {
			clear(s.cache)
		}
		s.cache[miss[j]] = tmp[j]
	}
	s.mu.Unlock()
}

func (s *Scorer) score(cfgs []supernet.Config, out []Estimate) {
	if len(cfgs) < parallelMin {
		s.scoreRange(cfgs, out, nil)
		return
	}
	half := len(cfgs) / 2
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.scoreRange(cfgs[half:], out[half:], nil)
	}()
	s.scoreRange(cfgs[:half], out[:half], nil)
	wg.Wait()
}

// scoreRange scores on the calling goroutine; acc is scratch space.
func (s *Scorer) scoreRange(cfgs []supernet.Config, out []Estimate, acc []float64) {
	// The accuracy model batches internally; feed it chunks so that the
	// scratch stays small.
	const chunk = 1024
	if cap(acc) < chunk {
		acc = make([]float64, chunk)
	}
	for start := 0; start < len(cfgs); start += chunk {
		end := min(start+chunk, len(cfgs))
		cs, os, as := cfgs[start:end], out[start:end], acc[:end-start]
		for i := range cs {
			os[i].Costs = s.space.Costs(cs[i])
			os[i].LatencyMS = s.lat.LatencyMS(cs[i])
		}
		if s.proxy != nil {
			for i := range cs {
				os[i].Accuracy = s.proxy.score(os[i].MACs)
			}
			continue
		}
		s.acc.Accuracy(cs, as)
		for i := range cs {
			os[i].Accuracy = as[i]
		}
	}
}
