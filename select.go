package edgefit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

// Selection is the outcome of a search, ready to print or save; its JSON
// is what 'edgefit select --json' prints.
type Selection struct {
	Space          string             `json:"space"`
	Predictor      string             `json:"predictor"` // the latency predictor's file, where it has one
	AccuracySource string             `json:"accuracy_source"`
	AccuracyProxy  bool               `json:"accuracy_is_proxy"`
	Limits         search.Limits      `json:"limits"`
	Top            []search.Candidate `json:"top"`
	Front          []search.Candidate `json:"front,omitempty"`
	Scored         int                `json:"candidates_scored"`
	WallMS         float64            `json:"wall_ms"`
	Generations    int                `json:"generations"`

	// AccuracyFit says how a CSV given as the accuracy source was fitted
	// (ridge and OFA's MLP, compared by cross-validated RMSE).
	AccuracyFit *predictor.AccuracyChoice `json:"accuracy_fit,omitempty"`

	result *search.Result
	memory bool // peak memory is the front's third objective
}

// Select searches space for the subnets most accurate under lim, scoring
// latency with lat and accuracy with the source acc names: OFA's
// predictor (.pth), a CSV of measured (config, accuracy) samples, a fitted
// .json, or "" for the MACs proxy, which the result labels as such. Limits
// no subnet can meet give a [*search.InfeasibleError].
func Select(ctx context.Context, space *supernet.Space, lat predictor.LatencyModel, acc string, lim search.Limits, opts search.Options, progress Progress) (*Selection, error) {
	var fit Meter = quiet{}
	if strings.EqualFold(filepath.Ext(acc), ".csv") {
		fit = orQuiet(progress).Begin(PhaseFitAccuracy, 6)
	}
	am, err := predictor.LoadAccuracyModelContext(ctx, space, acc, predictor.MLPOptions{},
		predictor.AccuracyFitOptions{Progress: func(done, total int) { fit.Set(done, total) }})
	fit.Done()
	if err != nil {
		return nil, withHint(fmt.Errorf("accuracy source %s: %w", acc, err), "give an OFA accuracy predictor (.pth), a CSV of config,accuracy samples, or nothing for the MACs proxy")
	}
	if len(opts.Resolutions) > 0 {
		if err := predictor.CheckAccuracyResolutions(am, space, opts.Resolutions); err != nil {
			return nil, &InputError{Err: fmt.Errorf("--res: %w", err)}
		}
	}
	sc, err := predictor.NewScorer(space, lat, am)
	if err != nil {
		return nil, err
	}
	meter := orQuiet(progress).Begin(PhaseSearch, 1)
	opts.Progress = func(done, total int) { meter.Set(done, total) }
	res, err := search.Run(ctx, space, sc, lim, opts)
	meter.Done()
	var inf *search.InfeasibleError
	if errors.As(err, &inf) {
		return nil, withHint(err, "relax the limits above, or profile a faster setting (threads, execution provider)")
	}
	if err != nil {
		return nil, err
	}
	return &Selection{Space: space.Name, AccuracySource: sc.AccuracySource(), AccuracyProxy: sc.AccuracyIsProxy(), AccuracyFit: predictor.FitChoice(am),
		Limits: lim, Top: res.Top, Front: res.Front, Scored: res.Stats.Scored, WallMS: float64(res.Stats.Wall.Microseconds()) / 1000,
		Generations: res.Stats.Generations, result: res, memory: opts.ParetoMemory}, nil
}

// WriteFront saves the Pareto front as prefix.front.{json,csv,png,svg},
// each atomically, and returns the paths written; a selection without a
// front writes nothing.
func (s *Selection) WriteFront(prefix string) ([]string, error) {
	if s.result == nil || len(s.result.Front) == 0 {
		return nil, nil
	}
	var paths []string
	for _, f := range []struct {
		ext   string
		write func(io.Writer) error
	}{
		{".front.json", func(w io.Writer) error { return search.WriteFrontJSON(w, s.result) }},
		{".front.csv", func(w io.Writer) error { return search.WriteFrontCSV(w, s.result) }},
	} {
		p := prefix + f.ext
		if err := atomicfile.Write(p, f.write); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	po := search.PlotOptions{Proxy: s.AccuracyProxy}
	if s.memory {
		po.X = search.Memory
	}
	pl, err := search.PlotFront(s.result, po)
	if err != nil {
		return paths, fmt.Errorf("draw Pareto front: %w", err)
	}
	for _, ext := range []string{".front.png", ".front.svg"} {
		if err := search.SavePlot(prefix+ext, pl); err != nil {
			return paths, err
		}
		paths = append(paths, prefix+ext)
	}
	return paths, nil
}

// WriteConfig writes subnet c of the space named space to path,
// atomically, as a config file ('edgefit export --config' reads it): the
// config JSON with the space's name (see [supernet.MarshalConfigFile]), so
// that the subnet cannot be exported from the other width's supernet.
func WriteConfig(path, space string, c supernet.Config) error {
	return atomicfile.WriteFile(path, supernet.MarshalConfigFile(space, c))
}
