package edgefit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

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
	WallSeconds    float64            `json:"wall_seconds"`
	Generations    int                `json:"generations"`

	// MeasuredResolutions are those the latency predictor's table
	// measured, where it knows them; LatencyExtrapolated reports that the
	// search went beyond them (see [SearchResolutions]).
	MeasuredResolutions []int `json:"measured_resolutions,omitempty"`
	LatencyExtrapolated bool  `json:"latency_extrapolated"`
	// Warnings say what to be careful of in the result.
	Warnings []string `json:"warnings,omitempty"`

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
// latency with lat and accuracy with the source acc.Source names: OFA's
// predictor (.pth), a CSV of measured (config, accuracy) samples, a fitted
// .json, [ZeroCostSource] for the NASWOT proxy (on acc.ZeroCost's images
// with acc.Model's weights; see [OpenAccuracy]), or "" for the MACs proxy;
// proxies are labelled as such. A catalogue name ("acc-predictor") stands
// for its copy in the fetch cache. acc.Resolutions is set to those the
// search covers. Limits no subnet can meet give a [*search.InfeasibleError].
func Select(ctx context.Context, space *supernet.Space, lat predictor.LatencyModel, acc AccuracyRequest, lim search.Limits, opts search.Options, progress Progress) (*Selection, error) {
	acc.Resolutions = searchedResolutions(lat, opts.Resolutions)
	am, err := OpenAccuracy(ctx, space, acc, progress)
	if err != nil {
		return nil, err
	}
	return SelectWith(ctx, space, lat, am, lim, opts, progress)
}

// searchedResolutions are the resolutions a search with opts.Resolutions
// rs covers: rs, else lat's own where it says.
func searchedResolutions(lat predictor.LatencyModel, rs []int) []int {
	if len(rs) == 0 {
		if rr, ok := lat.(search.Resolutioner); ok {
			return rr.Resolutions()
		}
	}
	return rs
}

// SelectWith is [Select] with an accuracy model already open (see
// [OpenAccuracy]), which a caller that selects more than once keeps, with
// what it has cached. With the zero-cost proxy, search options left at 0
// get [ZeroCostSearch]'s smaller budget.
func SelectWith(ctx context.Context, space *supernet.Space, lat predictor.LatencyModel, am predictor.AccuracyModel, lim search.Limits, opts search.Options, progress Progress) (*Selection, error) {
	if _, zeroCost := am.(*zerocost.Model); zeroCost {
		opts = ZeroCostSearch(opts)
	}
	sc, err := scorer(space, lat, am, opts.Resolutions)
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
	sel := &Selection{Space: space.Name, AccuracySource: sc.AccuracySource(), AccuracyProxy: sc.AccuracyIsProxy(), AccuracyFit: predictor.FitChoice(am),
		Limits: res.Limits, Top: res.Top, Front: res.Front, Scored: res.Stats.Scored, WallSeconds: res.Stats.Wall.Seconds(),
		Generations: res.Stats.Generations, result: res, memory: opts.ParetoMemory}
	sel.noteExtrapolation(lat, opts.Resolutions)
	return sel, nil
}

// scorer is the scorer of [SelectWith] and [Predict]: lat, the accuracy
// model am and the exact costs, for subnets at the resolutions rs, every
// one of which am must score (the zero-cost proxy scores any).
func scorer(space *supernet.Space, lat predictor.LatencyModel, am predictor.AccuracyModel, rs []int) (*predictor.Scorer, error) {
	if _, zeroCost := am.(*zerocost.Model); !zeroCost {
		if err := predictor.CheckAccuracyResolutions(am, space, rs); err != nil {
			return nil, &InputError{Err: fmt.Errorf("--res: %w", err)}
		}
	}
	return predictor.NewScorer(space, lat, am)
}

// measuredResolutions returns the resolutions lat's lookup table
// measured, sorted, or nil when lat does not say.
func measuredResolutions(lat predictor.LatencyModel) []int {
	m, ok := lat.(interface{ MeasuredResolutions() []int })
	if !ok {
		return nil
	}
	rs := m.MeasuredResolutions()
	slices.Sort(rs)
	return rs
}

// SearchResolutions returns the resolutions to search with the latency
// model lat: requested (--res) if given, else nil for the model's own
// (see [search.Resolutioner]). Unless allowExtrapolation is set, they stay
// within the resolutions lat's lookup table measured: requested ones
// outside them are an [*InputError] that names the range and the flag,
// and the default is the measured resolutions and the space's
// resolutions between them, where interpolation is validated (see the
// fit report's resolution hold-out). A model that does not say what it
// measured sets no bounds.
func SearchResolutions(space *supernet.Space, lat predictor.LatencyModel, requested []int, allowExtrapolation bool) ([]int, error) {
	measured := measuredResolutions(lat)
	if len(measured) == 0 || allowExtrapolation {
		return requested, nil
	}
	if len(requested) == 0 {
		return searchResolutions(space, measured), nil
	}
	lo, hi := measured[0], measured[len(measured)-1]
	for _, r := range requested {
		if OutsideMeasured(r, measured) {
			return nil, inputErrorf("--res %d is outside the resolutions the lookup table measured (%s): its latency would be extrapolated; "+
				"search within %d..%d, profile r=%d, or pass --allow-extrapolation", r, resolutionRange(measured), lo, hi, r)
		}
	}
	return requested, nil
}

// OutsideMeasured reports whether the resolution r lies outside the
// sorted resolutions measured that a lookup table measured, where its
// latency is extrapolated; never when measured is empty (not known).
func OutsideMeasured(r int, measured []int) bool {
	return len(measured) > 0 && (r < measured[0] || r > measured[len(measured)-1])
}

// resolutionRange writes measured resolutions as "160" or "160..224".
func resolutionRange(rs []int) string {
	if rs[0] == rs[len(rs)-1] {
		return strconv.Itoa(rs[0])
	}
	return fmt.Sprintf("%d..%d", rs[0], rs[len(rs)-1])
}

// noteExtrapolation records the measured resolutions and whether the
// search covered others (rs, or lat's own when rs is empty), with a
// warning naming them.
func (s *Selection) noteExtrapolation(lat predictor.LatencyModel, rs []int) {
	measured := measuredResolutions(lat)
	if len(measured) == 0 {
		return
	}
	s.MeasuredResolutions = measured
	var below, above []int
	for _, r := range searchedResolutions(lat, rs) {
		switch {
		case !OutsideMeasured(r, measured):
		case r < measured[0]:
			below = append(below, r)
		default:
			above = append(above, r)
		}
	}
	var parts []string
	for _, out := range [][]int{below, above} {
		if len(out) > 0 {
			slices.Sort(out)
			parts = append(parts, "r="+resolutionRange(out))
		}
	}
	if len(parts) == 0 {
		return
	}
	s.LatencyExtrapolated = true
	s.Warnings = append(s.Warnings, fmt.Sprintf("latency EXTRAPOLATED at %s, beyond the resolutions the lookup table measured (%s): "+
		"the predictions there are less certain; measure the model on the device before relying on them", strings.Join(parts, " and "), resolutionRange(measured)))
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

// WriteConfig writes subnet c of the space named space to path,
// atomically, as a config file ('edgefit export --config' reads it): the
// config JSON with the space's name (see [supernet.MarshalConfigFile]), so
// that the subnet cannot be exported from the other width's supernet.
func WriteConfig(path, space string, c supernet.Config) error {
	return atomicfile.WriteFile(path, supernet.MarshalConfigFile(space, c))
}
