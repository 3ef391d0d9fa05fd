package edgefit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

// Phases of the accuracy work a [Progress] is told about.
const (
	PhaseCalibrate = "recalibrating BatchNorm" // counts calibration images
	PhaseEvaluate  = "evaluating"              // counts evaluation images
	PhaseRerank    = "measuring accuracy"      // counts candidates
)

// openCalibration lists and checks a calibration folder before any long
// work; its problems are the user's to fix, so they are [*InputError]s.
func openCalibration(ctx context.Context, m *Model, o *accuracy.CalibOptions) (*accuracy.CalibSet, error) {
	if o == nil {
		return nil, nil
	}
	if m.Untrained() {
		return nil, inputErrorf("--calib-data needs --checkpoint: untrained weights have no accuracy for recalibration to keep")
	}
	cs, err := accuracy.OpenCalibration(ctx, *o)
	if err != nil {
		return nil, dataError(err)
	}
	return cs, nil
}

// openEvaluation lists and checks a labelled folder for a model of classes
// classes.
func openEvaluation(ctx context.Context, o accuracy.EvalOptions, classes int) (*accuracy.EvalSet, error) {
	es, err := accuracy.OpenEvaluation(ctx, o, classes)
	if err != nil {
		return nil, dataError(err)
	}
	return es, nil
}

// dataError marks an image folder's problem as the user's, with a hint
// where the message has none of its own.
func dataError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &InputError{Err: err}
}

// calibrate returns net with its BatchNorm statistics recalibrated on cs
// (and the record of how), or net unchanged when cs is nil.
func calibrate(ctx context.Context, net *supernet.Net, cs *accuracy.CalibSet, progress Progress) (*supernet.Net, *accuracy.Calibration, error) {
	if cs == nil {
		return net, nil, nil
	}
	p := orQuiet(progress)
	statusf(p, "recalibrating BatchNorm of %s on %d images (batches of %d), as OFA's set_running_statistics", net.Config, cs.Images(), cs.BatchSize())
	meter := p.Begin(PhaseCalibrate, cs.Images())
	out, cal, err := cs.Recalibrate(ctx, net, func(done, total int) { meter.Set(done, total) })
	meter.Done()
	if err != nil {
		return nil, nil, err
	}
	return out, cal, nil
}

// bnStatistics says where a model's BatchNorm statistics come from, as its
// metadata does.
func bnStatistics(untrained bool, cal *accuracy.Calibration) string {
	return export.BNStatisticsOf(untrained, cal != nil)
}

// EvalRequest says what [Evaluate] measures: an ONNX model file, or a
// subnet of a checkpoint (optionally recalibrated first), on a labelled
// image folder.
type EvalRequest struct {
	// ModelFile is an ONNX model with input [N,3,r,r] and logits
	// [N,classes], such as 'edgefit export' writes; or
	ModelFile string
	// Model is a resolved subnet to cut from its checkpoint, with Calib
	// its recalibration (nil: the supernet's statistics).
	Model *Model
	Calib *accuracy.CalibOptions

	Data accuracy.EvalOptions
}

// EvalResult is how a model classified the images; its JSON is what
// 'edgefit eval --json' prints.
type EvalResult struct {
	accuracy.EvalResult
	Model        string                `json:"model,omitempty"` // the ONNX file evaluated
	Config       *supernet.Config      `json:"config,omitempty"`
	Resolution   int                   `json:"resolution"`
	Classes      int                   `json:"classes"`
	Data         string                `json:"data"`
	DataSHA256   string                `json:"data_list_sha256"`
	Labelling    string                `json:"labelling"` // how class folders became indices
	BNStatistics string                `json:"bn_statistics,omitempty"`
	Calibration  *accuracy.Calibration `json:"calibration,omitempty"`
}

// Evaluate measures top-1 and top-5 accuracy through ONNX Runtime on the
// host, with OFA's test transform at the model's resolution. Every folder
// is listed and checked before anything runs.
func Evaluate(ctx context.Context, req EvalRequest, progress Progress) (*EvalResult, error) {
	if (req.ModelFile == "") == (req.Model == nil) {
		return nil, inputErrorf("evaluate either an ONNX model (--model) or a subnet (--checkpoint and --config), not both or neither")
	}
	if req.ModelFile != "" {
		return evaluateFile(ctx, req, progress)
	}
	return evaluateSubnet(ctx, req, progress)
}

func evaluateFile(ctx context.Context, req EvalRequest, progress Progress) (*EvalResult, error) {
	if req.Calib != nil {
		return nil, inputErrorf("--calib-data recalibrates a subnet cut from a checkpoint: with --model the statistics are the model's own (export it with --calib-data instead)")
	}
	model, err := os.ReadFile(req.ModelFile)
	if err != nil {
		return nil, inputErrorf("--model: %v", err)
	}
	shape, err := accuracy.ModelShape(model)
	if err != nil {
		return nil, inputErrorf("--model %s: %v", req.ModelFile, err)
	}
	es, err := openEvaluation(ctx, req.Data, shape.Classes)
	if err != nil {
		return nil, err
	}
	res := &EvalResult{Model: req.ModelFile, Resolution: shape.Resolution, Classes: shape.Classes}
	if meta, err := export.ReadMetadata(model); err == nil {
		res.BNStatistics = meta[export.KeyBNStatistics]
		var c supernet.Config
		if err := json.Unmarshal([]byte(meta[export.KeyConfig]), &c); err == nil {
			res.Config = &c
		}
	}
	return res, runEval(ctx, es, model, res, progress)
}

func evaluateSubnet(ctx context.Context, req EvalRequest, progress Progress) (*EvalResult, error) {
	m := req.Model
	if m.Untrained() {
		return nil, inputErrorf("evaluating needs trained weights: pass --checkpoint (or --model with an exported ONNX file)")
	}
	cs, err := openCalibration(ctx, m, req.Calib)
	if err != nil {
		return nil, err
	}
	es, err := openEvaluation(ctx, req.Data, m.Space.Classes)
	if err != nil {
		return nil, err
	}
	net, err := m.Build(m.Config, 1)
	if err != nil {
		return nil, err
	}
	net, cal, err := calibrate(ctx, net, cs, progress)
	if err != nil {
		return nil, err
	}
	ck, _ := m.Checkpoint()
	model, err := export.Marshal(net, export.Metadata{CheckpointSHA256: ck.SHA256, Calibration: cal.Metadata()})
	if err != nil {
		return nil, err
	}
	c := net.Config
	res := &EvalResult{Config: &c, Resolution: c.R, Classes: m.Space.Classes, BNStatistics: bnStatistics(false, cal), Calibration: cal}
	return res, runEval(ctx, es, model, res, progress)
}

func runEval(ctx context.Context, es *accuracy.EvalSet, model []byte, res *EvalResult, progress Progress) error {
	p := orQuiet(progress)
	statusf(p, "evaluating on %d images at %dx%d", es.Images(), res.Resolution, res.Resolution)
	meter := p.Begin(PhaseEvaluate, es.Images())
	r, err := es.Evaluate(ctx, model, res.Resolution, func(done, total int) { meter.Set(done, total) })
	meter.Done()
	if err != nil {
		return err
	}
	res.EvalResult = *r
	res.Data, res.DataSHA256, res.Labelling = es.Dir(), es.Digest(), string(es.Labelling())
	return nil
}

// RerankOptions say how [Rerank] measures the search's best candidates.
type RerankOptions struct {
	K     int // how many candidates to measure
	Calib accuracy.CalibOptions
	Val   accuracy.EvalOptions
}

// Reranker holds the checked folders of a rerank, so that their problems
// show before the search.
type Reranker struct {
	opts  RerankOptions
	model *Model
	calib *accuracy.CalibSet
	val   *accuracy.EvalSet
}

// PrepareRerank checks the options and lists both folders, before any
// search: --rerank needs a checkpoint, calibration images and a labelled
// evaluation folder.
func PrepareRerank(ctx context.Context, m *Model, o RerankOptions) (*Reranker, error) {
	switch {
	case o.K <= 0:
		return nil, inputErrorf("--rerank %d must be at least 1: the number of candidates to measure", o.K)
	case o.Val.Dir == "":
		return nil, inputErrorf("--rerank needs --val-data DIR: a labelled folder (DIR/<class>/<image>) to measure accuracy on")
	case o.Calib.Dir == "":
		return nil, inputErrorf("--rerank needs --calib-data DIR: images to recalibrate each candidate's BatchNorm on, as OFA does before measuring")
	case m.Untrained():
		return nil, inputErrorf("--rerank needs --checkpoint: untrained weights have no accuracy to measure")
	}
	if _, err := m.Checkpoint(); err != nil {
		return nil, err
	}
	cs, err := openCalibration(ctx, m, &o.Calib)
	if err != nil {
		return nil, err
	}
	es, err := openEvaluation(ctx, o.Val, m.Space.Classes)
	if err != nil {
		return nil, err
	}
	cs.KeepCrops()
	es.KeepCrops()
	return &Reranker{opts: o, model: m, calib: cs, val: es}, nil
}

// RerankEntry is one candidate with its predicted and measured accuracy.
type RerankEntry struct {
	Config            supernet.Config `json:"config"`
	PredictedAccuracy float64         `json:"predicted_accuracy"`
	MeasuredTop1      float64         `json:"measured_top1"`
	MeasuredTop5      float64         `json:"measured_top5"`
	LatencyMS         float64         `json:"latency_ms"` // predicted
	MACs              int64           `json:"macs"`
	Seconds           float64         `json:"wall_seconds"`
	Chosen            bool            `json:"chosen,omitempty"`
}

// RerankResult is what [Reranker.Rerank] measured.
type RerankResult struct {
	Candidates  []RerankEntry `json:"candidates"` // by predicted accuracy
	Chosen      RerankEntry   `json:"chosen"`     // the best measured
	CalibImages int           `json:"calib_images"`
	CalibBatch  int           `json:"calib_batch"`
	CalibSHA256 string        `json:"calib_list_sha256"`
	ValImages   int           `json:"val_images"`
	ValSHA256   string        `json:"val_list_sha256"`
	Seconds     float64       `json:"wall_seconds"`

	// The chosen subnet as the search found it, and as measured:
	// recalibrated, with its record, for whoever exports it next (see
	// [RerankResult.Recalibrated]).
	chosen search.Candidate
	net    *supernet.Net
	cal    *accuracy.Calibration
}

// Recalibrated returns the chosen subnet with the BatchNorm statistics it
// was measured with, and their record, when c is its config, so that the
// model exported is the one measured without recalibrating it again;
// nil otherwise.
func (r *RerankResult) Recalibrated(c supernet.Config) (*supernet.Net, *accuracy.Calibration) {
	if r == nil || r.net == nil || r.net.Config != c {
		return nil, nil
	}
	return r.net, r.cal
}

// Rerank recalibrates and evaluates the K candidates of sel that
// [search.Spread] picks (the most accurate by prediction, spread along the
// front) and returns them with the best measured one chosen (ties: the
// higher prediction).
func (r *Reranker) Rerank(ctx context.Context, sel *Selection, progress Progress) (*RerankResult, error) {
	start := time.Now()
	cands := search.Spread(sel.result, r.opts.K)
	if len(cands) == 0 {
		return nil, errors.New("the search found no candidate to measure")
	}
	p := orQuiet(progress)
	statusf(p, "measuring the accuracy of %d candidates: BatchNorm recalibrated on %d images, evaluated on %d", len(cands), r.calib.Images(), r.val.Images())
	meter := p.Begin(PhaseRerank, len(cands))
	defer meter.Done()
	// Measure resolution by resolution, so that each folder's crops are
	// decoded once per resolution.
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cands[a].Config.R - cands[b].Config.R })
	res := &RerankResult{Candidates: make([]RerankEntry, len(cands)), CalibImages: r.calib.Images(), CalibBatch: r.opts.Calib.Batch,
		ValImages: r.val.Images(), ValSHA256: r.val.Digest()}
	best := -1 // the most accurate measured so far; ties: the higher prediction (lower index)
	for n, i := range order {
		e, net, cal, err := r.measure(ctx, cands[i])
		if err != nil {
			return nil, fmt.Errorf("measure candidate %s: %w", cands[i].Config, err)
		}
		res.Candidates[i], res.CalibSHA256 = e, cal.ListSHA256
		if b := best; b < 0 || e.MeasuredTop1 > res.Candidates[b].MeasuredTop1 || e.MeasuredTop1 == res.Candidates[b].MeasuredTop1 && i < b {
			best, res.net, res.cal = i, net, cal
		}
		meter.Set(n+1, len(cands))
	}
	res.Candidates[best].Chosen = true
	res.Chosen, res.chosen = res.Candidates[best], cands[best]
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (r *Reranker) measure(ctx context.Context, c search.Candidate) (RerankEntry, *supernet.Net, *accuracy.Calibration, error) {
	start := time.Now()
	net, err := r.model.Build(c.Config, 1)
	if err != nil {
		return RerankEntry{}, nil, nil, err
	}
	ck, _ := r.model.Checkpoint()
	ev, net, cal, err := accuracy.Measure(ctx, net, export.Metadata{CheckpointSHA256: ck.SHA256}, true, r.calib, r.val)
	if err != nil {
		return RerankEntry{}, nil, nil, err
	}
	return RerankEntry{Config: c.Config, PredictedAccuracy: c.Accuracy, MeasuredTop1: ev.Top1, MeasuredTop5: ev.Top5,
		LatencyMS: c.LatencyMS, MACs: c.Costs.MACs, Seconds: time.Since(start).Seconds()}, net, cal, nil
}
