package profiler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/scratch"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
)

// runModel is one model of a batch handed to a runner.
type runModel struct {
	Name string // unique within the batch; the file name on the device
	Path string // the ONNX file on this machine
	// Reference marks the drift reference: it stays on the device for
	// later batches (pushed once per run) and is timed more tightly than
	// the rest, since its noise decides whether a batch is measured again.
	Reference bool
	// Shape is the model's input shape where known, for tools that must be
	// told the size of a symbolic batch dimension (trtexec --shapes).
	Shape []int64
	// Rounds, where set, is how many rounds a runner that interleaves
	// (Measurement.Rounds) times this model in, if fewer than the rest.
	Rounds int
}

// runResult is what a runner measured for one model.
type runResult struct {
	Stats timing.Stats // CI95 included: the relative half-width of the median's 95% confidence interval
}

// runner measures batches of models on a device with one runtime.
type runner interface {
	// Runtime describes what measures (name and version at least).
	Runtime() lut.Runtime
	// Measure pushes the models, runs each (warm-up, then timed runs
	// until the median's confidence interval is tight enough or a cap is
	// reached) and returns one result per model, in order.
	Measure(ctx context.Context, models []runModel) ([]runResult, error)
	// Close removes what the runner put on the device.
	Close(ctx context.Context) error
}

// runnerFactories maps Options.Runner to a constructor; each runner's file
// registers itself.
var runnerFactories = map[string]func(ctx context.Context, p *Plan) (runner, error){}

func newRunner(ctx context.Context, p *Plan) (runner, error) {
	f, ok := runnerFactories[p.Options.Runner]
	if !ok {
		return nil, &RuntimeError{Target: p.Target, Runner: p.Options.Runner, Err: errors.New("this build of edgefit has no such runner")}
	}
	r, err := f(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if isNoSpace(err) {
			return nil, &DeviceFullError{Target: p.Target, Where: "the runner's files", Err: err}
		}
		var re *RuntimeError
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, &RuntimeError{Target: p.Target, Runner: p.Options.Runner, Err: err}
	}
	return r, nil
}

// executor runs a plan's batches.
type executor struct {
	plan   *Plan
	runner runner
	jw     *journalWriter
	start  time.Time
	log    *slog.Logger

	dir       string // host directory for the batch's models
	refPath   string
	ref       runModel // the reference, as handed to the runner
	baseline  float64  // reference median the batches are held to
	startTemp float64  // hottest thermal zone at the start, NaN if unknown
	lastDrift float64
	refRanges []float64 // relative ranges of the reference's session groups

	totalW, doneW float64 // cost weights of this run's items
	batchesDone   int
	doneItems     int
}

func (ex *executor) run(ctx context.Context) error {
	p := ex.plan
	o := &p.Options
	dir, release, err := scratch.Dir("edgefit-profile-")
	if err != nil {
		return hostErr(os.TempDir(), err)
	}
	defer release()
	ex.dir = dir
	ex.refPath = filepath.Join(dir, "reference.onnx")
	ref, err := export.LayerModel(p.refLayer, o.Batch, o.Seed)
	if err != nil {
		return fmt.Errorf("build reference model: %w", err)
	}
	if err := os.WriteFile(ex.refPath, ref, 0o644); err != nil {
		return hostErr(ex.refPath, err)
	}
	ex.ref = runModel{Name: "reference.onnx", Path: ex.refPath, Reference: true, Shape: export.LayerInputShape(p.refLayer, o.Batch)}
	for _, it := range p.todo {
		ex.totalW += it.weight
	}
	ex.startTemp = maxTemp(p.Fingerprint)
	ex.report()
	if len(p.todo) == 0 {
		return nil
	}
	if err := ex.establishBaseline(ctx); err != nil {
		return err
	}
	for _, b := range batches(p.todo, o.BatchModels, o.BatchBytes) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ex.batch(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// establishBaseline measures the reference alone. A journal from an
// earlier run holds the baseline that run used; when the device now
// differs from it by more than the drift threshold even after cooling
// down, the run continues from a new baseline, with a warning.
func (ex *executor) establishBaseline(ctx context.Context) error {
	o := &ex.plan.Options
	var old float64
	for _, rec := range ex.plan.journal.Records {
		if rec.Kind == recReference && rec.Stats != nil {
			old = rec.Stats.Median
			if rec.Note == "baseline" {
				break
			}
		}
	}
	for attempt := 0; ; attempt++ {
		ex.cooldown(ctx)
		res, err := ex.measure(ctx, ex.refs())
		if err != nil {
			return err
		}
		sm := sessionMedians(res)
		ex.noteSessions(sm)
		m := ex.level(sm)
		if old == 0 || math.Abs(m/old-1) <= ex.threshold() {
			if old == 0 {
				ex.baseline = m
			} else {
				ex.baseline = old
			}
			break
		}
		if attempt >= o.Measure.DriftRetries {
			ex.log.Warn("the device is not as fast as when this journal was started; continuing from a new baseline",
				"reference_then_ms", old, "reference_now_ms", m)
			ex.plan.Warnings = append(ex.plan.Warnings, fmt.Sprintf("resumed on a device %.1f%% %s than when the journal was started",
				math.Abs(m/old-1)*100, map[bool]string{true: "slower", false: "faster"}[m > old]))
			ex.baseline = m
			break
		}
		ex.log.Info("reference differs from the journal's baseline; cooling down and measuring again",
			"reference_then_ms", old, "reference_now_ms", m)
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			return err
		}
	}
	st := timing.Summarize([]float64{ex.baseline})
	return ex.plan.record(ex.jw, journalRecord{Kind: recReference, Stats: &st, Drift: 1, Note: "baseline"})
}

// batch measures one batch between two measurements of the reference (each
// the median over ReferenceSessions sessions, since one session's median
// varies from session to session with where the runtime's buffers land)
// and journals it, measuring it again (after a cool-down) while the
// reference moved beyond the threshold from the last good one.
func (ex *executor) batch(ctx context.Context, items []item) error {
	p := ex.plan
	o := &p.Options
	nref := o.Measure.ReferenceSessions
	models := ex.refs()
	var written []string
	defer func() {
		for _, f := range written {
			os.Remove(f)
		}
	}()
	genStart := time.Now()
	for i := range items {
		path, _, err := writeModel(p.space, &items[i], o, ex.dir)
		if err != nil {
			return hostErr(ex.dir, err)
		}
		written = append(written, path)
		rm := runModel{Name: filepath.Base(path), Path: path, Shape: items[i].inputShape(o.Batch)}
		if items[i].kind != recEntry {
			// A whole network pays 100–300 ms of session creation per
			// round, and its runs are long enough to need fewer.
			rm.Rounds = (o.Measure.Rounds + 1) / 2
		}
		models = append(models, rm)
	}
	models = append(models, ex.refs()...)
	genTime := time.Since(genStart)

	for attempt := 0; ; attempt++ {
		ex.cooldown(ctx)
		mStart := time.Now()
		res, err := ex.measure(ctx, models)
		if err != nil {
			return err
		}
		ex.log.Debug("batch measured", "batch", ex.batchesDone+1, "models", len(items), "build", genTime.Round(time.Millisecond),
			"measure", time.Since(mStart).Round(time.Millisecond), "attempt", attempt+1)
		refBefore, refAfter := sessionMedians(res[:nref]), sessionMedians(res[len(res)-nref:])
		ex.noteSessions(refBefore)
		ex.noteSessions(refAfter)
		before, after := ex.level(refBefore), ex.level(refAfter)
		drift := after / ex.baseline
		drifted := drifts(ex.baseline, before, after, ex.threshold())
		ex.lastDrift = drift
		if drifted && attempt < o.Measure.DriftRetries {
			p.Remeasured++
			ex.log.Info("reference drifted during the batch; measuring it again",
				"last_good_ms", ex.baseline, "before_ms", before, "after_ms", after, "threshold", ex.threshold(), "attempt", attempt+1)
			if err := sleepCtx(ctx, time.Second); err != nil {
				return err
			}
			continue
		}
		note := ""
		if drifted {
			p.Rebaselined++
			// The device settled at another speed (a governor or a
			// background load changed): keep the batch, flagged.
			ex.log.Warn("reference still drifting after retries; keeping the batch with its drift recorded",
				"last_good_ms", ex.baseline, "after_ms", after)
			note = "rebaseline"
		}
		recs := make([]journalRecord, 0, len(items)+1)
		for i, it := range items {
			st := res[nref+i].Stats
			rec := journalRecord{Kind: it.kind, Batch: ex.batchesDone + 1, R: it.r, Stats: &st, CI: res[nref+i].Stats.CI95, Drift: drift}
			if it.kind == recEntry {
				rec.Key = it.layer.Key()
			} else {
				idx := it.index
				cfg := it.config
				rec.Index, rec.Config = &idx, &cfg
			}
			recs = append(recs, rec)
		}
		refSt := timing.Summarize(refAfter)
		recs = append(recs, journalRecord{Kind: recReference, Batch: ex.batchesDone + 1, Stats: &refSt, Drift: drift, Note: note})
		if err := p.record(ex.jw, recs...); err != nil {
			return err
		}
		// Later batches are held to the last good reference: the one
		// measured right after this batch.
		ex.baseline = after
		break
	}
	ex.batchesDone++
	ex.doneItems += len(items)
	for _, it := range items {
		ex.doneW += it.weight
	}
	ex.report()
	return nil
}

// noteSessions adds the spread of one measurement's session medians
// (taken back to back, so no drift between them) to the estimate of how
// much the reference varies from session to session by itself.
func (ex *executor) noteSessions(medians []float64) {
	if len(medians) < 2 {
		return
	}
	m := timing.Median(medians)
	if !(m > 0) {
		return
	}
	ex.refRanges = append(ex.refRanges, (slices.Max(medians)-slices.Min(medians))/m)
}

// threshold is the drift threshold in force: DriftThreshold, raised to
// three times the reference's own session-to-session noise where that is
// larger, so that noise alone does not void batches. (The noise is
// estimated robustly from the median range of the session groups; the
// range of three normal draws averages 1.69 standard deviations. The ratio
// of two medians of three has about one standard deviation of one
// session.)
func (ex *executor) threshold() float64 {
	t := ex.plan.Options.Measure.DriftThreshold
	if len(ex.refRanges) < 3 {
		return t
	}
	n := float64(ex.plan.Options.Measure.ReferenceSessions)
	d2 := map[float64]float64{2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326}[n]
	if d2 == 0 {
		d2 = 2.5
	}
	noise := timing.Median(ex.refRanges) / d2
	ex.plan.DriftNoise = noise
	return max(t, 3*noise)
}

// refs returns the reference, once per reference session.
func (ex *executor) refs() []runModel {
	n := ex.plan.Options.Measure.ReferenceSessions
	r := make([]runModel, n)
	for i := range r {
		r[i] = ex.ref
	}
	return r
}

// level is the reference's speed from its session medians: their median,
// or, where models are timed in rounds, the median of the sessions not
// slowed by a slow window (see fastLevel), so that a window that catches
// one session does not void a batch whose models are robust to it.
func (ex *executor) level(medians []float64) float64 {
	if ex.plan.Options.Measure.Rounds > 1 {
		return fastLevel(medians)
	}
	return timing.Median(medians)
}

// sessionMedians lists the medians of results.
func sessionMedians(res []runResult) []float64 {
	m := make([]float64, len(res))
	for i, r := range res {
		m[i] = r.Stats.Median
	}
	return m
}

// measure runs models, mapping device errors to clear ones.
func (ex *executor) measure(ctx context.Context, models []runModel) ([]runResult, error) {
	res, err := ex.runner.Measure(ctx, models)
	if err != nil {
		var full *DeviceFullError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &full):
			return nil, err
		case isNoSpace(err):
			return nil, &DeviceFullError{Target: ex.plan.Target, Where: "the models of a batch", Err: err}
		}
		return nil, fmt.Errorf("measure on %s: %w", ex.plan.Target, err)
	}
	if len(res) != len(models) {
		return nil, fmt.Errorf("measure on %s: the runner returned %d results for %d models", ex.plan.Target, len(res), len(models))
	}
	for i, r := range res {
		if !(r.Stats.Median > 0) || r.Stats.N == 0 || !finite(r.Stats.Median) {
			return nil, fmt.Errorf("measure on %s: model %s gave no usable timing (%+v)", ex.plan.Target, models[i].Name, r.Stats)
		}
	}
	return res, nil
}

func (ex *executor) report() {
	f := ex.plan.Options.Progress
	if f == nil {
		return
	}
	p := ex.plan
	pr := Progress{Done: p.Done + ex.doneItems, Total: p.Entries + p.NetworksAll, Resumed: p.Done,
		Elapsed: time.Since(ex.start), Batch: ex.batchesDone, Drift: ex.lastDrift}
	if ex.doneW > 0 && ex.totalW > ex.doneW {
		pr.ETA = time.Duration(float64(pr.Elapsed) * (ex.totalW - ex.doneW) / ex.doneW)
	}
	f(pr)
}

// cooldown waits, where the device exposes temperatures, until its
// hottest zone is back within CooldownDelta of the start, bounded by
// MaxCooldown. Failing to read temperatures is not an error.
func (ex *executor) cooldown(ctx context.Context) {
	o := ex.plan.Options.Measure
	if math.IsNaN(ex.startTemp) || o.MaxCooldown <= 0 {
		return
	}
	deadline := time.Now().Add(o.MaxCooldown)
	for {
		fp, err := devices.Probe(ctx, ex.plan.target)
		if err != nil {
			return
		}
		t := maxTemp(fp)
		if math.IsNaN(t) || t <= ex.startTemp+o.CooldownDelta {
			return
		}
		if time.Now().After(deadline) {
			ex.log.Warn("device still warm after the longest cool-down; going on", "start_c", ex.startTemp, "now_c", t)
			return
		}
		ex.log.Debug("cooling down", "start_c", ex.startTemp, "now_c", t)
		if sleepCtx(ctx, 2*time.Second) != nil {
			return
		}
	}
}

// drifts tells whether the reference, measured before and after a batch,
// moved more than threshold (a fraction) from the baseline in either
// measurement.
func drifts(baseline, before, after, threshold float64) bool {
	return math.Abs(before/baseline-1) > threshold || math.Abs(after/baseline-1) > threshold
}

func maxTemp(fp *devices.Fingerprint) float64 {
	t := math.NaN()
	for _, z := range fp.Thermal {
		if math.IsNaN(t) || z.TempC > t {
			t = z.TempC
		}
	}
	return t
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
