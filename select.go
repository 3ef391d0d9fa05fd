package edgefit

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/edgefit/edgefit/export/zerocost"
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
	// Rerank, when the candidates' accuracy was measured ([Reranker]),
	// holds the measurements; its choice is then [Selection.Chosen].
	Rerank *RerankResult `json:"rerank,omitempty"`

	result *search.Result
	memory bool // peak memory is the front's third objective
}

// Select searches space for the subnets most accurate under lim, scoring
// latency with lat and accuracy with the source acc names: OFA's
// predictor (.pth), a CSV of measured (config, accuracy) samples, a fitted
// .json, [ZeroCostSource] for the NASWOT proxy on a synthetic batch with
// untrained weights (see [OpenAccuracy] for its options), or "" for the
// MACs proxy; proxies are labelled as such. Limits no subnet can meet give
// a [*search.InfeasibleError].
func Select(ctx context.Context, space *supernet.Space, lat predictor.LatencyModel, acc string, lim search.Limits, opts search.Options, progress Progress) (*Selection, error) {
	am, err := OpenAccuracy(ctx, space, AccuracyRequest{Source: acc}, progress)
	if err != nil {
		return nil, err
	}
	return SelectWith(ctx, space, lat, am, lim, opts, progress)
}

// SelectWith is [Select] with an accuracy model already open (see
// [OpenAccuracy]), which a caller that selects more than once keeps, with
// what it has cached. With the zero-cost proxy, search options left at 0
// get [ZeroCostSearch]'s smaller budget.
func SelectWith(ctx context.Context, space *supernet.Space, lat predictor.LatencyModel, am predictor.AccuracyModel, lim search.Limits, opts search.Options, progress Progress) (*Selection, error) {
	_, zeroCost := am.(*zerocost.Model)
	if zeroCost {
		opts = ZeroCostSearch(opts)
	}
	if len(opts.Resolutions) > 0 && !zeroCost { // the proxy scores any resolution
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
	if err == nil {
		err = accuracyErr(am)
	}
	var inf *search.InfeasibleError
	if errors.As(err, &inf) {
		return nil, withHint(err, "relax the limits above, or profile a faster setting (threads, execution provider)")
	}
	if err != nil {
		return nil, err
	}
	if line := zeroCostScored(am); line != "" {
		statusf(orQuiet(progress), "%s", line)
	}
	return &Selection{Space: space.Name, AccuracySource: sc.AccuracySource(), AccuracyProxy: sc.AccuracyIsProxy(), AccuracyFit: predictor.FitChoice(am),
		Limits: lim, Top: res.Top, Front: res.Front, Scored: res.Stats.Scored, WallMS: float64(res.Stats.Wall.Microseconds()) / 1000,
		Generations: res.Stats.Generations, result: res, memory: opts.ParetoMemory}, nil
}

// Chosen is the selected subnet: the best measured after a rerank, else
// the most accurate by prediction.
func (s *Selection) Chosen() supernet.Config {
	if s.Rerank != nil {
		return s.Rerank.Chosen.Config
	}
	return s.Top[0].Config
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
	if IsZeroCostSource(s.AccuracySource) {
		po.Title = fmt.Sprintf("Zero-cost NASWOT proxy score (not an accuracy) vs %s (%s; %d predictions)", po.X, s.Limits, s.Scored)
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

// WriteConfig writes subnet c to path, atomically, in edgefit's config JSON
// ('edgefit export --config' reads it).
func WriteConfig(path string, c supernet.Config) error {
	return atomicfile.WriteFile(path, []byte(c.String()+"\n"))
}
