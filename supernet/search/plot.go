package search

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/supernet"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotOptions choose what [PlotFront] draws.
type PlotOptions struct {
	// X is the horizontal axis: Latency (default) or Memory.
	X Metric
	// Title overrides the default title.
	Title string
	// Proxy says the accuracies are a proxy score, not accuracies: the
	// axis and title then say so.
	Proxy bool
}

var (
	colScored = color.NRGBA{R: 150, G: 150, B: 150, A: 110}
	colFront  = color.NRGBA{R: 31, G: 119, B: 180, A: 255}
	colChosen = color.NRGBA{R: 214, G: 39, B: 40, A: 255}
	colLimit  = color.NRGBA{R: 214, G: 39, B: 40, A: 160}
)

// PlotFront draws accuracy against latency (or memory): every scored
// subnet that meets the limits as a grey dot, the Pareto front as a blue
// line through its points, the chosen subnet as a red ring, and the
// limit on the X axis as a dashed line.
func PlotFront(r *Result, o PlotOptions) (*plot.Plot, error) {
	front, err := frontOf(r)
	if err != nil {
		return nil, err
	}
	if o.X != Latency && o.X != Memory {
		return nil, fmt.Errorf("plot x axis %s: use latency or memory", o.X)
	}
	// Memory is drawn in MB, accuracy in percent.
	xOf := func(c *Candidate) float64 {
		if o.X == Memory {
			return float64(c.PeakMemory) / 1e6
		}
		return c.LatencyMS
	}
	xy := func(cs []Candidate) plotter.XYs {
		pts := make(plotter.XYs, len(cs))
		for i := range cs {
			pts[i] = plotter.XY{X: xOf(&cs[i]), Y: 100 * cs[i].Accuracy}
		}
		return pts
	}
	p := plot.New()
	p.Title.Text = o.Title
	if p.Title.Text == "" {
		what := "Predicted accuracy"
		if o.Proxy {
			what = "Proxy score (no accuracy source)"
		}
		p.Title.Text = fmt.Sprintf("%s vs %s (%s; %d predictions)", what, o.X, r.Limits, r.Stats.Scored)
	}
	if o.X == Memory {
		p.X.Label.Text = "peak memory (MB)"
	} else {
		p.X.Label.Text = "predicted latency (ms)"
	}
	p.Y.Label.Text = "predicted top-1 accuracy (%)"
	if o.Proxy {
		p.Y.Label.Text = "proxy score ×100 (not an accuracy)"
	}
	p.Add(plotter.NewGrid())

	if len(r.Evaluated) > 0 {
		sc, err := plotter.NewScatter(xy(r.Evaluated))
		if err != nil {
			return nil, fmt.Errorf("plot scored subnets: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colScored, Radius: vg.Points(1.3), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("scored subnets (%d)", len(r.Evaluated)), sc)
	}
	// The line is the front of every scored subnet in this 2-D view. When
	// the search's own front has other objectives (a third one, or
	// latency while memory is drawn), its members show as triangles.
	line := front2D(append(slices.Clone(front), r.Evaluated...), xOf)
	if len(line) > 0 {
		l, s, err := plotter.NewLinePoints(xy(line))
		if err != nil {
			return nil, fmt.Errorf("plot Pareto front: %w", err)
		}
		l.Color, l.Width = colFront, vg.Points(1.5)
		s.GlyphStyle = draw.GlyphStyle{Color: colFront, Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
		p.Add(l, s)
		p.Legend.Add(fmt.Sprintf("Pareto front, accuracy vs %s (%d)", o.X, len(line)), l, s)
	}
	if !sameConfigs(line, front) {
		sc, err := plotter.NewScatter(xy(front))
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colFront, Radius: vg.Points(2), Shape: draw.TriangleGlyph{}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("front of %s (%d)", strings.Join(r.Objectives, ", "), len(front)), sc)
	}
	if lim, ok := r.Limits.Get(o.X); ok {
		if o.X == Memory {
			lim /= 1e6
		}
		lo, hi := yRange(front, r.Evaluated)
		ll, err := plotter.NewLine(plotter.XYs{{X: lim, Y: lo}, {X: lim, Y: hi}})
		if err == nil {
			ll.Color, ll.Dashes = colLimit, []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(ll)
			p.X.Max = max(p.X.Max, lim*1.03) // room right of the limit
			p.Legend.Add(fmt.Sprintf("limit %s", o.X.Format(mustGet(r.Limits, o.X))), ll)
		}
	}
	if len(r.Top) > 0 {
		best := r.Top[0]
		sc, err := plotter.NewScatter(xy([]Candidate{best}))
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colChosen, Radius: vg.Points(5), Shape: draw.RingGlyph{}}
		p.Add(sc)
		label := fmt.Sprintf("chosen: %.2f%% at %s, r=%d", 100*best.Accuracy, o.X.Format(o.X.Of(&best.Estimate)), best.Config.R)
		if o.Proxy {
			label = fmt.Sprintf("chosen: proxy score %.4f at %s, r=%d", best.Accuracy, o.X.Format(o.X.Of(&best.Estimate)), best.Config.R)
		}
		p.Legend.Add(label, sc)
	}
	p.Legend.Top, p.Legend.Left = false, false
	return p, nil
}

func sameConfigs(a, b []Candidate) bool {
	if len(a) != len(b) {
		return false
	}
	in := make(map[supernet.Config]bool, len(a))
	for i := range a {
		in[a[i].Config] = true
	}
	for i := range b {
		if !in[b[i].Config] {
			return false
		}
	}
	return true
}

func mustGet(l Limits, m Metric) float64 { v, _ := l.Get(m); return v }

func yRange(sets ...[]Candidate) (lo, hi float64) {
	lo, hi = 100, 0
	for _, cs := range sets {
		for i := range cs {
			lo, hi = min(lo, 100*cs[i].Accuracy), max(hi, 100*cs[i].Accuracy)
		}
	}
	return lo, hi
}

// front2D returns the members of front not dominated in (x, accuracy),
// by increasing x.
func front2D(front []Candidate, x func(*Candidate) float64) []Candidate {
	cs := append([]Candidate(nil), front...)
	sortBy(cs, x)
	var out []Candidate
	for i := range cs {
		if len(out) == 0 || cs[i].Accuracy > out[len(out)-1].Accuracy {
			if len(out) > 0 && x(&cs[i]) == x(&out[len(out)-1]) {
				out[len(out)-1] = cs[i]
				continue
			}
			out = append(out, cs[i])
		}
	}
	return out
}

func sortBy(cs []Candidate, x func(*Candidate) float64) {
	slices.SortStableFunc(cs, func(a, b Candidate) int {
		if c := cmp.Compare(x(&a), x(&b)); c != 0 {
			return c
		}
		return cmp.Compare(b.Accuracy, a.Accuracy)
	})
}

// Default plot size.
const (
	PlotWidth  = 8 * vg.Inch
	PlotHeight = 5 * vg.Inch
)

// WritePlot renders p as "png" or "svg" (or any format gonum/plot knows)
// at the default size.
func WritePlot(w io.Writer, p *plot.Plot, format string) error {
	wt, err := p.WriterTo(PlotWidth, PlotHeight, strings.ToLower(format))
	if err != nil {
		return fmt.Errorf("render plot as %s: %w (use png or svg)", format, err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("write %s plot: %w", format, err)
	}
	return nil
}

// SavePlot renders p to path in the format its extension names (.png,
// .svg, ...), writing a temporary file in the same directory and renaming
// it, so that readers never see half a plot.
func SavePlot(path string, p *plot.Plot) error {
	ext := strings.TrimPrefix(filepath.Ext(path), ".")
	if ext == "" {
		return fmt.Errorf("plot file %s has no extension: end it in .png or .svg", path)
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, p, ext); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}
