package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/supernet/search"
)

// writeReport writes OUTDIR/report.md, for people, and OUTDIR/report.json,
// for scripts, about one 'edgefit run'.
func writeReport(dir string, r *runReport) error {
	r.Files["report"] = filepath.Join(dir, "report.md")
	r.Files["report_json"] = filepath.Join(dir, "report.json")
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(r.Files["report_json"], js.Bytes()); err != nil {
		return err
	}
	return atomicfile.WriteFile(r.Files["report"], []byte(renderReport(dir, r)))
}

// renderReport formats the Markdown report.
func renderReport(dir string, r *runReport) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	last := r.Attempts[len(r.Attempts)-1]
	best := last.Chosen

	p("# edgefit run: %s", r.Target)
	p("")
	verdict := "meets"
	if !last.Met {
		verdict = "**misses**"
	}
	p("The chosen %s subnet %s the limits (%s) on the device: predicted %.2f ms, measured %.2f ms (median; p90 %.2f ms).",
		r.Space, verdict, r.Limits, best.LatencyMS, last.MeasuredMS, last.MeasuredP90)
	p("")
	if r.Untrained {
		p("> **Untrained weights.** No checkpoint was given, so `model.onnx` holds deterministic seeded weights: its latency and memory are")
		p("> those of the real subnet, its outputs mean nothing. Pass `--checkpoint` with an OFA supernet for a usable model.")
		p("")
	}
	if r.AccuracyProxy {
		p("> **No accuracy source.** The \"accuracy\" ranking is a proxy (%s).", r.AccuracySource)
		p("")
	}
	for _, w := range r.Warnings {
		p("> Warning: %s", w)
		p("")
	}

	p("## Chosen subnet")
	p("")
	p("| | predicted | measured |")
	p("|---|---|---|")
	p("| latency | %.2f ms | %.2f ms median, %.2f ms p90 |", best.LatencyMS, last.MeasuredMS, last.MeasuredP90)
	acc := fmt.Sprintf("%.4f", best.Accuracy)
	if r.AccuracyProxy {
		acc += " (proxy score)"
	}
	p("| accuracy | %s | |", acc)
	rss := ""
	if last.PeakRSS > 0 {
		rss = search.FormatBytes(last.PeakRSS) + " peak RSS of the whole measuring process"
	}
	p("| peak memory | %s | %s |", search.FormatBytes(best.PeakMemory), rss)
	p("| parameters | %s | |", search.FormatCount(best.Params))
	p("| MACs | %s | |", search.FormatCount(best.MACs))
	p("")
	p("Resolution %d; config (`subnet.json`, for `edgefit export --config`):", best.Config.R)
	p("")
	p("```json")
	p("%s", best.Config.String())
	p("```")
	p("")
	p("`model.onnx` run with ONNX Runtime on the host differs from edgefit's forward pass of the subnet by at most %.2g.", r.VerifyDiff)
	p("")
	if len(r.Attempts) > 1 {
		p("## Selections")
		p("")
		p("The first choice missed the latency limit on the device, so the search ran again under a tighter limit.")
		p("")
		p("| # | latency limit | predicted | measured | met |")
		p("|---|---|---|---|---|")
		for i, a := range r.Attempts {
			p("| %d | %.2f ms | %.2f ms | %.2f ms | %v |", i+1, a.Limits.MaxLatencyMS, a.Chosen.LatencyMS, a.MeasuredMS, a.Met)
		}
		p("")
	}

	p("## Pareto front")
	p("")
	if _, ok := r.Files["png_front"]; ok {
		p("![Pareto front of accuracy against latency](%s)", filepath.Base(r.Files["png_front"]))
		p("")
	}
	if len(r.Front) > 0 {
		if len(r.Front) > 15 {
			p("%d subnets on the front, %d of them shown from fastest to most accurate (all are in `pareto.front.csv`):", len(r.Front), 15)
			p("")
		}
		p("| latency | accuracy | memory | params | MACs | r |")
		p("|---|---|---|---|---|---|")
		for _, c := range sampleFront(r.Front, 15) {
			p("| %.2f ms | %.4f | %s | %s | %s | %d |", c.LatencyMS, c.Accuracy, search.FormatBytes(c.PeakMemory), search.FormatCount(c.Params), search.FormatCount(c.MACs), c.Config.R)
		}
		p("")
	}
	p("Search: %v.", r.Search)
	p("")

	p("## Latency predictor")
	p("")
	p("Lookup table `%s` (%s): %d layer entries at %v, %d whole subnets, median coefficient of variation %.2f%%, median %.0f timed runs per entry.",
		r.LUT, map[bool]string{true: "reused from an earlier run", false: "measured now"}[r.LUTReused],
		r.LUTSummary.Entries, r.LUTSummary.Resolutions, r.LUTSummary.Networks, 100*r.LUTSummary.MedianCoV, r.LUTSummary.MedianRuns)
	p("")
	if r.Fit != nil {
		p("```")
		var fb bytes.Buffer
		_ = r.Fit.WriteText(&fb)
		b.WriteString(strings.TrimRight(fb.String(), "\n"))
		p("")
		p("```")
		p("")
	}

	p("## Device and settings")
	p("")
	p("Runtime: %s %s, execution provider %s, %d thread(s), batch %d.", r.Runtime.Name, r.Runtime.Version, r.Runtime.Provider, r.Runtime.Threads, r.Runtime.Batch)
	p("")
	if r.Fingerprint != nil {
		p("| | |")
		p("|---|---|")
		for _, row := range r.Fingerprint.Table() {
			p("| %s | %s |", row[0], strings.ReplaceAll(row[1], "|", "/"))
		}
		p("")
	}
	p("## Files")
	p("")
	for _, k := range []string{"model", "config", "predictor", "lut", "png_front", "svg_front", "json_front", "csv_front", "report_json"} {
		if v, ok := r.Files[k]; ok {
			rel, err := filepath.Rel(dir, v)
			if err != nil {
				rel = v
			}
			p("- %s: `%s`", k, rel)
		}
	}
	p("")
	p("Total wall time %.0f s.", r.WallSeconds)
	return b.String()
}

// printRunSummary prints the outcome of 'edgefit run' for a person.
func printRunSummary(g *globalOptions, r *runReport) {
	last := r.Attempts[len(r.Attempts)-1]
	best := last.Chosen
	acc := fmt.Sprintf("%.4f", best.Accuracy)
	if r.AccuracyProxy {
		acc += " (PROXY score, not an accuracy: pass --acc)"
	}
	weights := "from " + r.Checkpoint
	if r.Untrained {
		weights = "UNTRAINED seeded weights: latency-faithful only (pass --checkpoint for a usable model)"
	}
	status := "meets the limit"
	if !last.Met {
		status = "MISSES the limit"
	}
	rows := [][]string{
		{"subnet", fmt.Sprintf("%s at r=%d: %s", r.Space, best.Config.R, compactConfig(best.Config))},
		{"latency", fmt.Sprintf("predicted %.2f ms, measured %.2f ms on %s (%s %s)", best.LatencyMS, last.MeasuredMS, r.Target, status, r.Limits)},
		{"accuracy", acc},
		{"costs", fmt.Sprintf("%s peak memory, %s params, %s MACs", search.FormatBytes(best.PeakMemory), search.FormatCount(best.Params), search.FormatCount(best.MACs))},
		{"weights", weights},
		{"selections", fmt.Sprint(len(r.Attempts))},
		{"model", r.Files["model"]},
		{"plot", r.Files["png_front"]},
		{"report", r.Files["report"]},
	}
	_ = writeKV(g.io.Out, rows)
}

// sampleFront picks at most n points of a front, evenly spread, keeping its
// first and last.
func sampleFront(f []search.Candidate, n int) []search.Candidate {
	if len(f) <= n {
		return f
	}
	out := make([]search.Candidate, 0, n)
	for i := range n {
		out = append(out, f[i*(len(f)-1)/(n-1)])
	}
	return out
}
