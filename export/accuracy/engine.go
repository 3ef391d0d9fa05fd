package accuracy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/native"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/supernet"
)

// Batch is one batch of preprocessed images.
type Batch struct {
	Data   []float32 // N·3·r·r values, NCHW, ImageNet-normalized
	N      int
	Labels []int // N class indices; nil for calibration images
}

// Source yields batches in order; Next returns io.EOF after the last one.
type Source interface {
	Next(ctx context.Context) (*Batch, error)
}

// Stats is one BatchNorm's recalibrated statistics: the batch means and the
// batch (biased) variances, each averaged over the batches weighted by
// batch size, as OFA's AverageMeter averages them.
type Stats struct {
	Name      string // the BatchNorm's module name, as supernet.Net.BatchNorms gives it
	Mean, Var []float64
}

// meter accumulates Σ n·mean and Σ n·var per BatchNorm.
type meter struct {
	sumMean, sumVar [][]float64
	images          int
}

func newMeter(net *supernet.Net) *meter {
	bns := net.BatchNorms()
	m := &meter{sumMean: make([][]float64, len(bns)), sumVar: make([][]float64, len(bns))}
	for i, nb := range bns {
		m.sumMean[i] = make([]float64, len(nb.BN.Mean))
		m.sumVar[i] = make([]float64, len(nb.BN.Mean))
	}
	return m
}

// add records one batch of n images.
func (m *meter) add(stats []export.BatchStats, n int) {
	for i := range m.sumMean {
		for c, v := range stats[i].Mean {
			m.sumMean[i][c] += float64(n) * v
		}
		for c, v := range stats[i].Var {
			m.sumVar[i][c] += float64(n) * v
		}
	}
	m.images += n
}

func (m *meter) stats(net *supernet.Net) []Stats {
	bns := net.BatchNorms()
	out := make([]Stats, len(bns))
	for i, nb := range bns {
		s := Stats{Name: nb.Name, Mean: make([]float64, len(m.sumMean[i])), Var: make([]float64, len(m.sumVar[i]))}
		for c := range s.Mean {
			s.Mean[c] = m.sumMean[i][c] / float64(m.images)
			s.Var[c] = m.sumVar[i][c] / float64(m.images)
		}
		out[i] = s
	}
	return out
}

// ORTEngine runs a subnet's calibration graph ([export.CalibrationModel]) in
// ONNX Runtime on the host CPU. It keeps one session per batch size (the
// last, partial batch gets its own).
type ORTEngine struct {
	net *supernet.Net
	sessions
}

// NewEngine builds the calibration graph of net. threads sizes ONNX
// Runtime's intra-op pool (0: one per core).
func NewEngine(net *supernet.Net, threads int) (*ORTEngine, error) {
	if err := ort.Init(""); err != nil {
		return nil, err
	}
	model, err := export.CalibrationModel(net)
	if err != nil {
		return nil, err
	}
	return &ORTEngine{net: net, sessions: newSessions(model, threads, "calibration graph", nil)}, nil
}

// BatchStats runs one batch of n images (NCHW) and returns each
// BatchNorm's batch mean and variance, in supernet.Net.BatchNorms order.
func (e *ORTEngine) BatchStats(ctx context.Context, data []float32, n int) ([]export.BatchStats, error) {
	r := e.net.Config.R
	if n <= 0 || len(data) != n*3*r*r {
		return nil, fmt.Errorf("calibration batch of %d images has %d values, want %d (3x%dx%d each)", n, len(data), n*3*r*r, r, r)
	}
	s, err := e.session(n)
	if err != nil {
		return nil, err
	}
	outs, err := s.RunContext(ctx, data)
	if err != nil {
		return nil, err
	}
	stats := make([]export.BatchStats, len(outs)/2)
	for i := range stats {
		stats[i] = export.BatchStats{Mean: widen(outs[2*i]), Var: widen(outs[2*i+1])}
	}
	return stats, nil
}

func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// sessions keeps one ONNX Runtime session of a model per batch size (the
// last, partial batch of a folder gets its own).
type sessions struct {
	model   []byte
	threads int
	what    string                   // names the model in errors
	check   func(*ort.Session) error // run on each new session; nil: none
	byBatch map[int]*ort.Session
}

func newSessions(model []byte, threads int, what string, check func(*ort.Session) error) sessions {
	return sessions{model: model, threads: threads, what: what, check: check, byBatch: map[int]*ort.Session{}}
}

// session returns the session for batches of n images.
func (p *sessions) session(n int) (*ort.Session, error) {
	if s, ok := p.byBatch[n]; ok {
		return s, nil
	}
	s, err := ort.Open(p.model, ort.Options{IntraOpThreads: p.threads, InterOpThreads: 1, Batch: n})
	if err != nil {
		return nil, fmt.Errorf("%s for batches of %d: %w", p.what, n, err)
	}
	if p.check != nil {
		if err := p.check(s); err != nil {
			s.Close()
			return nil, err
		}
	}
	p.byBatch[n] = s
	return s, nil
}

// Close releases the sessions.
func (p *sessions) Close() error {
	var errs []error
	for n, s := range p.byBatch {
		errs = append(errs, s.Close())
		delete(p.byBatch, n)
	}
	return errors.Join(errs...)
}

// Engine names how batch statistics are computed. Both follow OFA's
// set_running_statistics exactly and agree to about 1e-6 (see
// export/native's tests); the native engine is about three times faster on
// a CPU.
type Engine string

const (
	// EngineNative is edgefit's Go forward pass with batch statistics
	// (package export/native): AVX-512 or AVX2 kernels where the CPU has
	// them, portable Go elsewhere. It is the default.
	EngineNative Engine = "native"
	// EngineORT runs [export.CalibrationModel] in ONNX Runtime.
	EngineORT Engine = "onnxruntime"
)

// CalibrateOptions say how [CalibrateBatches] runs.
type CalibrateOptions struct {
	Engine   Engine // "" means EngineNative
	Threads  int    // 0: one per core
	MaxBatch int    // the largest batch src yields (the native engine sizes its buffers by it); 0: DefaultCalibBatch
	Progress func(images int)
}

// statsEngine measures one batch's BatchNorm statistics.
type statsEngine interface {
	BatchStats(ctx context.Context, data []float32, n int) ([]export.BatchStats, error)
	Close() error
}

func newStatsEngine(net *supernet.Net, o CalibrateOptions) (statsEngine, error) {
	switch o.Engine {
	case "", EngineNative:
		maxBatch := o.MaxBatch
		if maxBatch <= 0 {
			maxBatch = DefaultCalibBatch
		}
		return native.NewCalibratorOptions(net, maxBatch, native.Options{Threads: o.Threads})
	case EngineORT:
		return NewEngine(net, o.Threads)
	}
	return nil, fmt.Errorf("unknown calibration engine %q: use %s or %s", o.Engine, EngineNative, EngineORT)
}

// CalibrateBatches measures net's BatchNorm statistics over every batch src
// yields, exactly as OFA's set_running_statistics: each BatchNorm
// normalizes with its batch's statistics while they are gathered, and the
// per-batch means and variances are averaged weighted by batch size. It
// returns the statistics and the number of images seen.
func CalibrateBatches(ctx context.Context, net *supernet.Net, src Source, o CalibrateOptions) ([]Stats, int, error) {
	e, err := newStatsEngine(net, o)
	if err != nil {
		return nil, 0, err
	}
	defer e.Close()
	m := newMeter(net)
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, m.images, err
		}
		stats, err := e.BatchStats(ctx, b.Data, b.N)
		if err != nil {
			return nil, m.images, err
		}
		m.add(stats, b.N)
		if o.Progress != nil {
			o.Progress(m.images)
		}
	}
	if m.images == 0 {
		return nil, 0, errors.New("no calibration images")
	}
	return m.stats(net), m.images, nil
}

// Apply returns a copy of net whose BatchNorms hold stats (rounded to
// float32, as PyTorch stores them).
func Apply(net *supernet.Net, stats []Stats) (*supernet.Net, error) {
	rs := make([]supernet.RunningStats, len(stats))
	for i, s := range stats {
		rs[i] = supernet.RunningStats{Mean: make([]float32, len(s.Mean)), Var: make([]float32, len(s.Var))}
		for c := range s.Mean {
			rs[i].Mean[c] = float32(s.Mean[c])
			rs[i].Var[c] = float32(s.Var[c])
		}
	}
	return net.WithRunningStats(rs)
}
