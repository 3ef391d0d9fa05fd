package edgefit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// PhaseZeroCost counts the subnets [Correlate] scores with the proxy.
const PhaseZeroCost = "scoring with the zero-cost proxy"

// DefaultCorrelateSubnets is how many random subnets [Correlate] scores
// when the request says nothing.
const DefaultCorrelateSubnets = 50

// CorrelateRequest asks how well the zero-cost proxy ranks subnets the way
// a source of real accuracies does.
type CorrelateRequest struct {
	Space *supernet.Space
	// Real is the accuracy source to compare with: an OFA predictor
	// (.pth) or fitted model (.json), whose predictions for random
	// subnets are compared, or a CSV of measured subnets, whose rows are.
	Real string
	// ZeroCost and Model configure the proxy as in [AccuracyRequest].
	ZeroCost ZeroCostOptions
	Model    *Model
	// Subnets is how many random subnets are scored
	// (DefaultCorrelateSubnets when 0), or for a CSV at most how many of
	// its rows, the first ones (all when 0).
	Subnets int
	// Resolutions are those random subnets are drawn at: by default the
	// ones the real source knows (a predictor's), else the space's.
	Resolutions []int
	// Seed draws the random subnets (as OFA's sample_active_subnet does)
	// and their resolutions.
	Seed uint64
}

// CorrelationRow is one subnet scored both ways.
type CorrelationRow struct {
	Config supernet.Config `json:"config"`
	// Accuracy is the real source's: measured (a CSV) or predicted.
	Accuracy float64 `json:"accuracy"`
	// ProxyScore is the NASWOT score log det K; Proxy the value a search
	// ranks by (normalized to [0, 1]).
	ProxyScore float64 `json:"proxy_score"`
	Proxy      float64 `json:"proxy"`
	// Units is N, the activation units the proxy coded per image.
	Units int64 `json:"units"`
	MACs  int64 `json:"macs"`
}

// Correlation is what [Correlate] found; its JSON is what 'edgefit
// predictor correlate --json' prints. Correlations that are undefined (a
// constant side) are omitted.
type Correlation struct {
	Space       string `json:"space"`
	RealSource  string `json:"real_source"`
	Measured    bool   `json:"real_is_measured"`
	ProxySource string `json:"proxy_source"`
	Subnets     int    `json:"subnets"`
	// Spearman is Spearman's ρ and Kendall Kendall's τ-b between the
	// proxy and the real accuracies; MACsSpearman is ρ of the MACs count
	// against the same accuracies, the baseline a proxy has to beat to
	// say more than "larger is better".
	Spearman     float64          `json:"-"`
	Kendall      float64          `json:"-"`
	MACsSpearman float64          `json:"-"`
	Rows         []CorrelationRow `json:"rows"`
	ProxySeconds float64          `json:"proxy_seconds_per_subnet"`
	WallSeconds  float64          `json:"wall_seconds"`
}

// MarshalJSON writes the correlations as spearman_rho, kendall_tau and
// macs_spearman_rho, leaving out the undefined ones.
func (c *Correlation) MarshalJSON() ([]byte, error) {
	type plain Correlation
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		*plain
		Spearman     *float64 `json:"spearman_rho,omitempty"`
		Kendall      *float64 `json:"kendall_tau,omitempty"`
		MACsSpearman *float64 `json:"macs_spearman_rho,omitempty"`
	}{(*plain)(c), finite(c.Spearman), finite(c.Kendall), finite(c.MACsSpearman)})
}

// Correlate scores subnets with the zero-cost proxy and with a real
// accuracy source, and reports their rank correlations, so that a user
// sees whether the proxy ranks subnets usefully on their images and
// weights before searching with it. Everything is checked before the
// first subnet is scored.
func Correlate(ctx context.Context, req CorrelateRequest, progress Progress) (*Correlation, error) {
	start := time.Now()
	space := req.Space
	if space == nil {
		return nil, inputErrorf("correlate: no space: pass --space or --checkpoint")
	}
	if req.Real == "" || IsZeroCost(req.Real) {
		return nil, inputErrorf("--acc must name a source of real accuracies to compare the proxy with: an OFA predictor (.pth), a fitted .json or a CSV of measured subnets")
	}
	if req.Subnets < 0 {
		return nil, inputErrorf("--subnets %d must be positive", req.Subnets)
	}
	out := &Correlation{Space: space.Name}
	var cfgs []supernet.Config
	var real predictor.AccuracyModel
	if strings.EqualFold(filepath.Ext(req.Real), ".csv") {
		samples, err := predictor.LoadAccuracyCSV(space, req.Real)
		if err != nil {
			return nil, withHint(&InputError{Err: err}, "list measured subnets as config,accuracy (see 'edgefit select --help')")
		}
		rows := samples.Samples
		if req.Subnets > 0 && req.Subnets < len(rows) {
			rows = rows[:req.Subnets]
		}
		for _, s := range rows {
			cfgs = append(cfgs, s.Config)
			out.Rows = append(out.Rows, CorrelationRow{Config: s.Config, Accuracy: s.Accuracy})
		}
		out.RealSource, out.Measured = "measured accuracies in "+req.Real, true
	} else {
		m, err := OpenAccuracy(ctx, space, AccuracyRequest{Source: req.Real}, progress)
		if err != nil {
			return nil, err
		}
		real, out.RealSource = m, m.Source()
		if cfgs, err = randomSubnets(space, m, req); err != nil {
			return nil, err
		}
	}
	if len(cfgs) < 3 {
		return nil, inputErrorf("correlate: %d subnets; a rank correlation needs at least 3", len(cfgs))
	}
	proxy, err := openZeroCost(ctx, space, AccuracyRequest{Source: ZeroCostSource, ZeroCost: req.ZeroCost, Model: req.Model}, progress)
	if err != nil {
		return nil, err
	}
	out.ProxySource = proxy.Source()
	if real != nil {
		acc := make([]float64, len(cfgs))
		real.Accuracy(cfgs, acc)
		for i, c := range cfgs {
			out.Rows = append(out.Rows, CorrelationRow{Config: c, Accuracy: acc[i]})
		}
	}
	meter := orQuiet(progress).Begin(PhaseZeroCost, len(cfgs))
	defer meter.Done()
	for i := range out.Rows {
		row := &out.Rows[i]
		r, err := proxy.Score(ctx, row.Config)
		if err != nil {
			return nil, err
		}
		row.ProxyScore, row.Proxy, row.Units, row.MACs = r.Score, r.Normalized, r.Units, space.Costs(row.Config).MACs
		meter.Set(i+1, len(cfgs))
	}
	n, busy := proxy.Stats()
	if n > 0 {
		out.ProxySeconds = busy.Seconds() / float64(n)
	}
	acc, score, macs := make([]float64, len(out.Rows)), make([]float64, len(out.Rows)), make([]float64, len(out.Rows))
	for i, r := range out.Rows {
		acc[i], score[i], macs[i] = r.Accuracy, r.ProxyScore, float64(r.MACs)
	}
	out.Subnets = len(out.Rows)
	out.Spearman, out.Kendall, out.MACsSpearman = predictor.Spearman(score, acc), predictor.Kendall(score, acc), predictor.Spearman(macs, acc)
	out.WallSeconds = time.Since(start).Seconds()
	return out, nil
}

// randomSubnets draws the request's random subnets at resolutions the
// real source can score.
func randomSubnets(space *supernet.Space, real predictor.AccuracyModel, req CorrelateRequest) ([]supernet.Config, error) {
	n := req.Subnets
	if n == 0 {
		n = DefaultCorrelateSubnets
	}
	rs := req.Resolutions
	if len(rs) == 0 {
		rs = space.Resolutions
		if rr, ok := real.(interface{ Resolutions() []int }); ok && len(rr.Resolutions()) > 0 {
			rs = rr.Resolutions()
		}
	}
	wide, err := space.WithResolutions(rs)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--res: %w", err)}
	}
	if err := predictor.CheckAccuracyResolutions(real, wide, wide.Resolutions); err != nil {
		return nil, &InputError{Err: fmt.Errorf("--res: %w", err)}
	}
	rng := rand.New(rand.NewPCG(req.Seed, 0xc0e))
	cfgs := accuracy.SampleSubnets(space, n, req.Seed)
	for i := range cfgs {
		cfgs[i].R = wide.Resolutions[rng.IntN(len(wide.Resolutions))]
	}
	return slices.Clip(cfgs), nil
}

// WriteText prints the correlation for people: the two sources, ρ and τ,
// the MACs baseline and what they mean.
func (c *Correlation) WriteText(w io.Writer) error {
	var b strings.Builder
	kind := "predicted by"
	if c.Measured {
		kind = "from"
	}
	fmt.Fprintf(&b, "%d %s subnets, accuracies %s %s\n", c.Subnets, c.Space, kind, c.RealSource)
	fmt.Fprintf(&b, "proxy: %s\n", c.ProxySource)
	fmt.Fprintf(&b, "Spearman's ρ (proxy vs accuracy): %s\n", fmtCorr(c.Spearman))
	fmt.Fprintf(&b, "Kendall's τ-b (proxy vs accuracy): %s\n", fmtCorr(c.Kendall))
	fmt.Fprintf(&b, "baseline, Spearman's ρ of MACs vs accuracy: %s\n", fmtCorr(c.MACsSpearman))
	fmt.Fprintf(&b, "%.2f s per subnet for the proxy, %.0f s in all\n", c.ProxySeconds, c.WallSeconds)
	switch {
	case math.IsNaN(c.Spearman):
	case c.Spearman < 0.3:
		b.WriteString("the proxy ranks these subnets poorly: prefer a predictor or measured samples (--acc .pth/.csv) for the search\n")
	case !math.IsNaN(c.MACsSpearman) && c.Spearman <= c.MACsSpearman:
		b.WriteString("the proxy ranks no better than MACs alone on these subnets\n")
	default:
		b.WriteString("the proxy ranks these subnets better than MACs alone\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtCorr(v float64) string {
	if math.IsNaN(v) {
		return "undefined (one side is constant)"
	}
	return fmt.Sprintf("%.3f", v)
}
