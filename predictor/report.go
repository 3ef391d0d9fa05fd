package predictor

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/edgefit/edgefit/supernet"
)

// String formats the metrics on one line, for logs and the CLI.
func (m Metrics) String() string {
	return fmt.Sprintf("n=%d RMSE %.3f ms, RMSPE %.2f%%, within ±5%% %.1f%%, within ±10%% %.1f%%, Spearman %s",
		m.N, m.RMSE, m.RMSPE, 100*m.Within5, 100*m.Within10, FormatSpearman(m.Spearman))
}

// FormatSpearman writes a rank correlation with four digits ("1.0000",
// "0.9873"), or "n/a" when it is undefined (NaN).
func FormatSpearman(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", v)
}

// WriteText prints the report for people: what was fitted, per-kind
// cross-validation, the resolution hold-out and the calibration.
func (r *FitReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "latency predictor for %s", r.Space)
	if r.LUTSpace != r.Space {
		fmt.Fprintf(&b, " (from a %s table: every layer is regressed)", r.LUTSpace)
	}
	fmt.Fprintf(&b, "\ntarget %q, %d measured layers at r=%v\n", r.Target, r.Entries, r.LUTResolutions)
	fmt.Fprintf(&b, "per-kind models (non-negative least squares on work counts):\n")
	for _, k := range r.Kinds {
		fmt.Fprintf(&b, "  %-13s %3d layers (%3d shapes)  train RMSPE %5.2f%%", k.Kind, k.Samples, k.Distinct, k.Train.RMSPE)
		if k.CV != nil {
			fmt.Fprintf(&b, "  %d-fold CV RMSPE %5.2f%%, ±10%% %5.1f%%", k.Folds, k.CV.RMSPE, 100*k.CV.Within10)
		}
		if k.ChannelCV != nil {
			fmt.Fprintf(&b, "\n  %-13s unseen channel configurations (%d left out in turn): RMSPE %5.2f%%, ±10%% %5.1f%%", "", k.Groups, k.ChannelCV.RMSPE, 100*k.ChannelCV.Within10)
		}
		b.WriteByte('\n')
	}
	if len(r.ResolutionHoldout) > 0 {
		fmt.Fprintf(&b, "each measured resolution left out and predicted:\n")
		for _, h := range r.ResolutionHoldout {
			fmt.Fprintf(&b, "  r=%d layers: %s\n", h.R, h.Layers)
			if h.Subnets.N > 0 {
				fmt.Fprintf(&b, "  r=%d subnet sums: %s\n", h.R, h.Subnets)
			}
		}
	}
	if c := r.Calibration; c != nil {
		if c.Used {
			fmt.Fprintf(&b, "calibration: latency = %.4f × layer sum %+.4f ms (%s)\n", c.A, c.B, c.Reason)
		} else {
			fmt.Fprintf(&b, "no calibration: %s\n", c.Reason)
		}
		if c.Raw != nil {
			fmt.Fprintf(&b, "  held-out subnets, layer sum:  %s\n  held-out subnets, calibrated: %s\n", c.Raw, c.Calibrated)
		}
	}
	if r.Networks != nil {
		fmt.Fprintf(&b, "all measured subnets: %s\n", r.Networks)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// LoadAccuracyModel opens the accuracy source at path for space s by its
// extension: an OFA predictor checkpoint (.pth, .pt, .tar), a CSV of
// measured subnets to fit (.csv, see [ChooseAccuracy]) or a fitted model
// (.json, ridge or MLP). An empty path gives the MACs proxy. The model is
// checked against s.
func LoadAccuracyModel(s *supernet.Space, path string, opts MLPOptions) (AccuracyModel, error) {
	return LoadAccuracyModelContext(context.Background(), s, path, opts, AccuracyFitOptions{})
}

// LoadAccuracyModelContext is LoadAccuracyModel with a context and the
// options for fitting a CSV, which trains an MLP and can take a while.
func LoadAccuracyModelContext(ctx context.Context, s *supernet.Space, path string, opts MLPOptions, fit AccuracyFitOptions) (AccuracyModel, error) {
	var m AccuracyModel
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case path == "":
		return NewProxyAccuracy(s), nil
	case ext == ".pth" || ext == ".pt" || ext == ".tar":
		p, err := LoadMLPAccuracy(path, opts)
		if err != nil {
			return nil, err
		}
		m = p
	case ext == ".csv":
		p, _, err := ChooseAccuracyCSV(ctx, s, path, fit)
		if err != nil {
			return nil, err
		}
		m = p
	case ext == ".json":
		p, err := LoadAccuracyJSON(path)
		if err != nil {
			return nil, err
		}
		m = p
	default:
		return nil, fmt.Errorf("accuracy source %s: unknown kind %q: give an OFA predictor (.pth), measured samples (.csv) or a fitted model (.json)", path, ext)
	}
	if c, ok := m.(spaceChecker); ok {
		if err := c.CheckSpace(s); err != nil {
			return nil, fmt.Errorf("accuracy source %s: %w", path, err)
		}
	}
	return m, nil
}
