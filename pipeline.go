package edgefit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

// RunOptions say what [Run] does. They are plain data: the edgefit
// command fills them from its flags, a Go program sets them directly.
type RunOptions struct {
	// Space and Checkpoint say what is searched and what the model is cut
	// from, as in [ModelSource]: without a checkpoint the model has
	// untrained seeded weights, faithful in latency and memory only.
	Space      string
	Checkpoint string

	// LUT, if set, is a lookup table to use instead of profiling; it must
	// be for the run's space.
	LUT string
	// CacheDir holds the tables measured earlier, by device and settings
	// ("" = [DefaultCacheDir]).
	CacheDir string
	// OutDir receives the model, its config, the table, the predictor,
	// the Pareto front and the report. [Pipeline.Execute] creates it if
	// need be; [Prepare], which may refuse the options, does not.
	OutDir string

	// Limits bound the subnet; at least one must be set. When the
	// measured latency misses Limits.MaxLatencyMS, Run selects again under
	// a tighter limit, at most Retries times.
	Limits  search.Limits
	Retries int

	// Profile says how to profile and measure the device; Run sets its
	// Space and Journal, and measures the exported model with its
	// Measure, CPUAffinity, DeviceDir and Agent.
	Profile profiler.Options
	// Accuracy names the accuracy source, as [AccuracyRequest.Source] does.
	Accuracy string
	// ZeroCost configures the zero-cost proxy when Accuracy is
	// [ZeroCostSource]: its subnets' weights come from Checkpoint (seeded
	// and untrained without one).
	ZeroCost ZeroCostOptions
	// Search tunes the search; its Resolutions are Run's own: those it
	// profiled and every space resolution between them.
	Search search.Options
	// AllowExtrapolation lets the search go beyond the resolutions the
	// table measured (to the space's other resolutions), where the
	// latency is extrapolated; the result says so.
	AllowExtrapolation bool
	// LatencyScale, when neither 0 nor 1, multiplies every latency
	// prediction: it stands for a predictor that is wrong about the
	// device, to exercise the re-selection.
	LatencyScale float64

	// Calib, when set, recalibrates the exported model's BatchNorm on the
	// user's images, as OFA does before deploying a subnet (it needs a
	// checkpoint).
	Calib *accuracy.CalibOptions
	// Rerank, when set, measures the accuracy of the search's best
	// candidates on Rerank.Val (recalibrated on Calib first) and exports
	// the best measured; Rerank.Calib is taken from Calib.
	Rerank *RerankOptions

	ToolVersion string       // recorded in the model's metadata
	Logger      *slog.Logger // nil = slog.Default()
}

// Attempt is one select-export-measure round of [Run].
type Attempt struct {
	Limits      search.Limits    `json:"limits"`
	Chosen      search.Candidate `json:"chosen"`
	MeasuredMS  float64          `json:"measured_ms"`
	MeasuredP90 float64          `json:"measured_p90_ms"`
	PeakRSS     int64            `json:"measured_peak_rss_bytes,omitempty"`
	Met         bool             `json:"met"`
	// Rerank is the accuracy measured of the search's best candidates,
	// when RunOptions.Rerank asked for it; Chosen is then its choice.
	Rerank *RerankResult `json:"rerank,omitempty"`
}

// RunResult is what [Run] did and found; its JSON is report.json and what
// 'edgefit run --json' prints.
type RunResult struct {
	Target      string               `json:"target"`
	Fingerprint *devices.Fingerprint `json:"fingerprint"`
	Space       string               `json:"space"`
	Runtime     lut.Runtime          `json:"runtime"`
	LUT         string               `json:"lut"`
	LUTReused   bool                 `json:"lut_reused"`
	LUTSummary  lut.Summary          `json:"lut_summary"`
	Predictor   string               `json:"predictor"`
	Fit         *predictor.FitReport `json:"fit"`
	Limits      search.Limits        `json:"limits"`
	// LatencyExtrapolated reports a search beyond the resolutions the
	// table measured (RunOptions.AllowExtrapolation).
	LatencyExtrapolated bool                  `json:"latency_extrapolated"`
	AccuracySource      string                `json:"accuracy_source"`
	AccuracyProxy       bool                  `json:"accuracy_is_proxy"`
	Untrained           bool                  `json:"untrained"`
	Checkpoint          string                `json:"checkpoint,omitempty"`
	Attempts            []Attempt             `json:"attempts"`
	Front               []search.Candidate    `json:"front,omitempty"`
	Model               string                `json:"model"`
	Verified            bool                  `json:"verified"` // the model agrees with the subnet under ONNX Runtime
	VerifyDiff          float64               `json:"verify_max_abs_diff"`
	VerifyLimit         float64               `json:"verify_tolerance"`
	Files               map[string]string     `json:"files"`
	Search              *SearchSummary        `json:"search"`
	Warnings            []string              `json:"warnings,omitempty"`
	WallSeconds         float64               `json:"wall_seconds"`
	Bench               *profiler.BenchResult `json:"bench"`
	BNStatistics        string                `json:"bn_statistics"`
	Calibration         *accuracy.Calibration `json:"calibration,omitempty"`
}

// SearchSummary is what the last selection's search did.
type SearchSummary struct {
	Method      string  `json:"method"`
	Seed        uint64  `json:"seed"`
	Scored      int     `json:"candidates_scored"`
	Generations int     `json:"generations"`
	WallSeconds float64 `json:"wall_seconds"`
}

// Last returns the last attempt, whose model is the one written.
func (r *RunResult) Last() Attempt { return r.Attempts[len(r.Attempts)-1] }

// Pipeline is a checked [Run], ready to execute on a device.
type Pipeline struct {
	opts     RunOptions
	model    *Model
	calib    *accuracy.CalibSet
	reranker *Reranker
	acc      predictor.AccuracyModel // opened in Prepare (the zero-cost proxy), else nil
}

// Prepare checks opts (the profiling options too), resolves the space and
// loads the checkpoint, all before any device is contacted and without
// writing anything. Bad options are [*InputError]s.
func Prepare(opts RunOptions) (*Pipeline, error) {
	if opts.OutDir == "" {
		return nil, inputErrorf("no output directory: set RunOptions.OutDir (-o)")
	}
	if err := opts.Limits.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	if len(opts.Limits.Set()) == 0 {
		return nil, inputErrorf("no limit given: set at least one of --max-latency, --max-memory, --max-params, --max-macs")
	}
	if opts.Retries < 0 {
		return nil, inputErrorf("--retries must be 0 or more")
	}
	m, err := Resolve(ModelSource{Space: opts.Space, Checkpoint: opts.Checkpoint})
	if err != nil {
		return nil, err
	}
	// A checkpoint that cannot be read must fail now, not after profiling.
	if _, err := m.Checkpoint(); err != nil {
		return nil, err
	}
	opts.Checkpoint = m.CheckpointPath()
	p := &Pipeline{model: m}
	if err := p.prepareAccuracy(opts); err != nil {
		return nil, err
	}
	if IsZeroCost(opts.Accuracy) || opts.ZeroCost != (ZeroCostOptions{}) {
		// Its images are checked now; Execute gives it its context.
		if p.acc, err = OpenAccuracy(context.Background(), m.Space, AccuracyRequest{Source: opts.Accuracy, ZeroCost: opts.ZeroCost, Model: m}, nil); err != nil {
			return nil, err
		}
	}
	opts.Profile.Space = m.Space.Name
	if err := opts.Profile.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if fi, err := os.Stat(opts.OutDir); err == nil && !fi.IsDir() {
		return nil, inputErrorf("-o %s is a file, not a directory", opts.OutDir)
	}
	if err := checkOutDir(opts.OutDir); err != nil {
		return nil, err
	}
	p.opts = opts
	return p, nil
}

// checkOutDir checks that the output directory can be written, or
// created, without creating it: a run that then refuses its flags leaves
// nothing behind ([Pipeline.Execute] creates it).
func checkOutDir(dir string) error {
	probe := dir
	for {
		if _, err := os.Stat(probe); err == nil || filepath.Dir(probe) == probe {
			break
		}
		probe = filepath.Dir(probe)
	}
	if err := atomicfile.CheckDir(filepath.Join(probe, "report.md")); err != nil {
		return &InputError{Err: fmt.Errorf("-o %s: %w", dir, err)}
	}
	return nil
}

// prepareAccuracy lists and checks the calibration and evaluation folders,
// so that their problems show before the device is contacted.
func (p *Pipeline) prepareAccuracy(opts RunOptions) error {
	ctx := context.Background()
	if opts.Rerank != nil {
		if opts.Calib == nil {
			return inputErrorf("--rerank needs --calib-data DIR: images to recalibrate each candidate's BatchNorm on, as OFA does before measuring")
		}
		ro := *opts.Rerank
		ro.Calib = *opts.Calib
		r, err := PrepareRerank(ctx, p.model, ro)
		if err != nil {
			return err
		}
		p.reranker, p.calib = r, r.calib
		return nil
	}
	cs, err := openCalibration(ctx, p.model, opts.Calib)
	if err != nil || cs == nil {
		return err
	}
	cs.KeepCrops() // a re-selection recalibrates another subnet
	p.calib = cs
	return nil
}

// Run takes a device to a deployable model: it probes target and profiles
// its lookup table (or reuses one), fits the latency predictor, selects
// the most accurate subnet within the limits, exports it as ONNX, measures
// it on the device, selects again under a tighter limit while the device
// disagrees, checks the model against edgefit's forward pass, and writes
// the report. It is [Prepare] followed by [Pipeline.Execute].
func Run(ctx context.Context, target devices.Target, opts RunOptions, progress Progress) (*RunResult, error) {
	p, err := Prepare(opts)
	if err != nil {
		return nil, err
	}
	return p.Execute(ctx, target, progress)
}

// execution is the state of one [Pipeline.Execute], phase by phase.
type execution struct {
	*Pipeline
	target   devices.Target
	progress Progress
	start    time.Time
	res      *RunResult

	tbl      *table
	lat      predictor.LatencyModel
	predPath string
	sel      *Selection // of the last attempt
	net      *supernet.Net
	am       predictor.AccuracyModel // every selection's (see openAccuracy)
	search   search.Options          // every selection's
	// missReason says why no further selection was made although the
	// last model missed the latency limit with retries left.
	missReason string
}

// Execute runs the pipeline on target; see [Run]. When the last model
// still misses the latency limit, it returns the complete result with a
// [*LatencyMissError].
func (p *Pipeline) Execute(ctx context.Context, target devices.Target, progress Progress) (*RunResult, error) {
	x := &execution{Pipeline: p, target: target, progress: orQuiet(progress), start: time.Now()}
	if c, ok := p.acc.(interface{ SetContext(context.Context) }); ok {
		c.SetContext(ctx)
	}
	x.res = &RunResult{Target: target.Name(), Space: p.model.Space.Name, Limits: p.opts.Limits, Files: map[string]string{},
		Untrained: p.model.Untrained()}
	if !p.model.Untrained() {
		x.res.Checkpoint = p.opts.Checkpoint
	}
	if err := os.MkdirAll(p.opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	for _, step := range []func(context.Context) error{x.lookupTable, x.fit, x.selectUntilMet} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	// A model that fails its check is moved aside, and everything else
	// is written all the same: the report says what happened.
	verr := x.verify(ctx)
	if err := x.writeOutputs(ctx); err != nil {
		return nil, err
	}
	if verr != nil {
		return x.res, verr
	}
	return x.res, x.missed()
}

// lookupTable gets the device's table (see tableForTarget) and keeps a copy
// in the output directory.
func (x *execution) lookupTable(ctx context.Context) error {
	tbl, err := x.tableForTarget(ctx)
	if err != nil {
		return err
	}
	x.tbl = tbl
	r := x.res
	r.Fingerprint, r.LUT, r.LUTReused, r.LUTSummary, r.Runtime = tbl.fingerprint, tbl.path, tbl.reused, tbl.lut.Summary(), tbl.lut.Runtime
	local := filepath.Join(x.opts.OutDir, "device.lut.json")
	if tbl.path != local {
		if err := tbl.lut.WriteFile(local); err != nil {
			return err
		}
	}
	r.Files["lut"] = local
	return nil
}

// fit fits and saves the latency predictor.
func (x *execution) fit(context.Context) error {
	t := x.tbl.lut
	statusf(x.progress, "fitting the latency predictor on %d layer entries and %d whole subnets", len(t.Entries), len(t.Networks))
	lat, rep, err := predictor.Fit(t, predictor.FitOptions{Space: x.model.Space.Name})
	if err != nil {
		return fmt.Errorf("fit latency predictor: %w", err)
	}
	x.predPath = filepath.Join(x.opts.OutDir, "device.pred.json")
	if err := lat.Save(x.predPath); err != nil {
		return err
	}
	x.res.Predictor, x.res.Fit, x.res.Files["predictor"] = x.predPath, rep, x.predPath
	x.lat = lat
	if s := x.opts.LatencyScale; s != 0 && s != 1 {
		x.lat = scaledLatency{lat, s}
		x.res.Warnings = append(x.res.Warnings, fmt.Sprintf("latency predictions scaled by %g (--latency-scale)", s))
	}
	return nil
}

// scaledLatency multiplies another model's predictions.
type scaledLatency struct {
	*predictor.LatencyPredictor
	scale float64
}

func (s scaledLatency) LatencyMS(c supernet.Config) float64 {
	return s.scale * s.LatencyPredictor.LatencyMS(c)
}

// selectUntilMet selects, exports and measures; while the device disagrees
// with the limit, it does so again under a tighter one.
func (x *execution) selectUntilMet(ctx context.Context) error {
	cur := x.opts.Limits
	for round := 0; ; round++ {
		a, err := x.attempt(ctx, cur)
		var inf *search.InfeasibleError
		if round > 0 && errors.As(err, &inf) {
			// The model of the last round stays: it is the best the
			// device was shown, and the report says why no other came.
			x.missReason = fmt.Sprintf("no subnet is predicted to meet the tighter limit %s, so the model is the previous selection's (%v)", cur, inf)
			statusf(x.progress, "%s", x.missReason)
			x.res.Warnings = append(x.res.Warnings, x.missReason)
			break
		}
		if err != nil {
			return err
		}
		if a.Met || round >= x.opts.Retries {
			break
		}
		next := tighterLimit(a.Limits, x.res.Limits, a.Chosen.LatencyMS, a.MeasuredMS)
		statusf(x.progress, "measured %.2f ms misses the %.2f ms limit: selecting again under %.2f ms (retry %d of %d)",
			a.MeasuredMS, x.res.Limits.MaxLatencyMS, next.MaxLatencyMS, round+1, x.opts.Retries)
		cur = next
	}
	x.res.Model, x.res.Files["model"] = x.modelPath(), x.modelPath()
	x.res.AccuracySource, x.res.AccuracyProxy, x.res.Front = x.sel.AccuracySource, x.sel.AccuracyProxy, x.sel.Front
	x.res.LatencyExtrapolated = x.sel.LatencyExtrapolated
	x.res.Warnings = append(x.res.Warnings, x.sel.Warnings...)
	x.res.Search = &SearchSummary{Method: x.sel.result.Method, Seed: x.opts.Search.Seed, Scored: x.sel.Scored,
		Generations: x.sel.Generations, WallSeconds: x.sel.WallSeconds}
	return nil
}

// tighterLimit is the limit of the next selection after the device ran the
// choice, predicted at predictedMS, in measuredMS: M/P times slower than
// predicted, so ask the predictor for lim·P/M, with a 2% margin, and never
// for less than this round's limit cur. The latency limit is absolute
// from then on (a share of the largest subnet would undo the tightening).
func tighterLimit(cur, lim search.Limits, predictedMS, measuredMS float64) search.Limits {
	next := cur
	next.MaxLatencyMS = 0.98 * min(cur.MaxLatencyMS, lim.MaxLatencyMS*predictedMS/measuredMS)
	next.Share.Latency = 0
	return next
}

func (x *execution) modelPath() string { return filepath.Join(x.opts.OutDir, "model.onnx") }

// attempt is one round: select under lim, export the best subnet, measure
// it on the device.
func (x *execution) attempt(ctx context.Context, lim search.Limits) (Attempt, error) {
	if err := x.selectSubnet(ctx, lim); err != nil {
		return Attempt{}, err
	}
	best := x.sel.Top[0]
	var rr *RerankResult
	if x.reranker != nil {
		var err error
		if rr, err = x.reranker.Rerank(ctx, x.sel, x.progress); err != nil {
			return Attempt{}, err
		}
		best = rr.chosen
		statusf(x.progress, "measured top-1 %.2f%% (predicted %.2f%%) for the chosen subnet, the best of %d measured", 100*rr.Chosen.MeasuredTop1, 100*rr.Chosen.PredictedAccuracy, len(rr.Candidates))
	}
	if err := x.exportModel(ctx, best, rr); err != nil {
		return Attempt{}, err
	}
	br, err := x.measure(ctx)
	if err != nil {
		return Attempt{}, err
	}
	if len(x.res.Attempts) == 0 {
		// The run's limits, relative ones resolved against the predictor.
		x.res.Limits = x.sel.Limits
	}
	a := Attempt{Limits: x.sel.Limits, Chosen: best, MeasuredMS: br.Stats.Median, MeasuredP90: br.Stats.P90, PeakRSS: br.PeakRSSBytes, Rerank: rr}
	a.Met = x.res.Limits.MaxLatencyMS == 0 || a.MeasuredMS <= x.res.Limits.MaxLatencyMS
	x.res.Attempts = append(x.res.Attempts, a)
	statusf(x.progress, "predicted %.2f ms, measured %.2f ms (median of %d runs)", best.LatencyMS, a.MeasuredMS, br.Stats.N)
	return a, nil
}

// selectSubnet searches under lim, within the resolutions measured
// unless RunOptions.AllowExtrapolation says otherwise.
func (x *execution) selectSubnet(ctx context.Context, lim search.Limits) error {
	statusf(x.progress, "searching %s under %s", x.model.Space.Name, lim)
	if x.am == nil {
		if err := x.openAccuracy(ctx); err != nil {
			return err
		}
	}
	sel, err := SelectWith(ctx, x.model.Space, x.lat, x.am, lim, x.search, x.progress)
	if err != nil {
		return err
	}
	sel.Predictor = x.predPath
	x.sel = sel
	return nil
}

// openAccuracy settles, before the first selection, what every selection
// of the run shares: the resolutions searched and the accuracy model,
// opened once (a CSV source is fitted once, not again on each
// re-selection); the zero-cost proxy was opened by Prepare.
func (x *execution) openAccuracy(ctx context.Context) error {
	so := x.opts.Search
	var err error
	if so.Resolutions, err = SearchResolutions(x.model.Space, x.lat, nil, x.opts.AllowExtrapolation); err != nil {
		return err
	}
	if so.Logger == nil {
		so.Logger = x.opts.Logger
	}
	x.search = so
	if x.acc != nil {
		x.am = x.acc
		return nil
	}
	x.am, err = OpenAccuracy(ctx, x.model.Space, AccuracyRequest{Source: x.opts.Accuracy, Resolutions: searchedResolutions(x.lat, so.Resolutions)}, x.progress)
	return err
}

// searchResolutions are the resolutions searched by default: those
// measured and every resolution of the space between them. The predictor
// interpolates well there; extrapolation is less certain. Without
// measured resolutions it is nil: the predictor's own.
func searchResolutions(space *supernet.Space, measured []int) []int {
	if len(measured) == 0 {
		return nil
	}
	var rs []int
	for _, r := range space.Resolutions {
		if r >= measured[0] && r <= measured[len(measured)-1] {
			rs = append(rs, r)
		}
	}
	for _, r := range measured {
		if !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	}
	slices.Sort(rs)
	return rs
}

// exportModel writes the chosen subnet, recalibrated when the run has
// calibration images (the subnet a rerank chose is exported as it was
// measured, not recalibrated again), with its predictions, as the run's
// model.
func (x *execution) exportModel(ctx context.Context, best search.Candidate, rr *RerankResult) error {
	net, cal := rr.Recalibrated(best.Config) // measured so already
	if net == nil {
		var err error
		if net, err = x.model.Build(best.Config, 1); err != nil {
			return err
		}
		if net, cal, err = calibrate(ctx, net, x.calib, x.progress); err != nil {
			return err
		}
	}
	meta := export.Metadata{ToolVersion: x.opts.ToolVersion, Calibration: cal.Metadata(),
		Predictions: predictions(best.Costs, &best, x.sel.AccuracySource, x.res.Target)}
	if x.model.ck != nil {
		meta.CheckpointSHA256 = x.model.ck.SHA256
	}
	if err := export.WriteFile(x.modelPath(), net, meta); err != nil {
		return err
	}
	x.net = net
	x.res.BNStatistics, x.res.Calibration = bnStatistics(net.Untrained, cal), cal
	return nil
}

// measure times the exported model on the device with the table's
// runtime settings and the profile's discipline.
func (x *execution) measure(ctx context.Context) (*profiler.BenchResult, error) {
	statusf(x.progress, "measuring the exported model on %s", x.res.Target)
	po, rt := x.opts.Profile, x.tbl.lut.Runtime
	bo := profiler.BenchOptions{Threads: rt.Threads, Provider: rt.Provider, CPUAffinity: po.CPUAffinity,
		Measure: po.Measure, DeviceDir: po.DeviceDir, Agent: po.Agent}
	br, err := profiler.Bench(ctx, x.target, x.modelPath(), bo)
	if err != nil {
		return nil, fmt.Errorf("measure %s on %s: %w", x.modelPath(), x.res.Target, err)
	}
	x.res.Bench = br
	return br, nil
}

// verify checks that the model computes what the subnet computes, with
// the check of 'edgefit export --verify' (see checkModel). A model that
// fails it, or cannot be checked, is moved aside; the *VerifyError is
// returned and recorded as a warning.
func (x *execution) verify(ctx context.Context) error {
	a, err := checkModel(ctx, x.modelPath(), x.net, x.calib)
	x.res.VerifyDiff, x.res.VerifyLimit = a.MaxAbsDiff, a.Limit()
	var ve *VerifyError
	if errors.As(err, &ve) {
		x.res.Model, x.res.Files["model"] = ve.Renamed, ve.Renamed
		x.res.Warnings = append(x.res.Warnings, ve.Error())
		return err
	}
	x.res.Verified = true
	return nil
}

// writeOutputs writes the config, the Pareto front and the report.
func (x *execution) writeOutputs(context.Context) error {
	cfg := filepath.Join(x.opts.OutDir, "subnet.json")
	if err := WriteConfig(cfg, x.model.Space.Name, x.net.Config); err != nil {
		return err
	}
	x.res.Files["config"] = cfg
	paths, err := x.sel.WriteFront(filepath.Join(x.opts.OutDir, "pareto"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		x.res.Files[filepath.Ext(p)[1:]+"_front"] = p
	}
	x.res.WallSeconds = time.Since(x.start).Seconds()
	return WriteReport(x.opts.OutDir, x.res)
}

// missed returns a [*LatencyMissError] when the last model missed the
// latency limit.
func (x *execution) missed() error {
	last := x.res.Last()
	if last.Met {
		return nil
	}
	return &LatencyMissError{Target: x.res.Target, MeasuredMS: last.MeasuredMS, LimitMS: x.res.Limits.MaxLatencyMS, Selections: len(x.res.Attempts),
		Reason: x.missReason}
}
