package edgefit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/supernet/search"
)

// WriteReport writes dir/report.md, for people, and dir/report.json, for
// scripts, about one [Run], each atomically, and records both in r.Files.
func WriteReport(dir string, r *RunResult) error {
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
	return atomicfile.WriteFile(r.Files["report"], []byte(r.Markdown(dir)))
}

// frontRows is how many points of the front the report lists.
const frontRows = 15

// Markdown formats the report of r, with file names relative to dir.
func (r *RunResult) Markdown(dir string) string {
	var b strings.Builder
	md := mdWriter{&b}
	for _, section := range []func(mdWriter){r.mdSummary, r.mdChosen, r.mdAccuracy, r.mdSelections, r.mdFront, r.mdPredictor, r.mdDevice} {
		section(md)
	}
	r.mdFiles(md, dir)
	return b.String()
}

// mdWriter writes the report's lines.
type mdWriter struct{ b *strings.Builder }

func (w mdWriter) p(format string, args ...any) { fmt.Fprintf(w.b, format+"\n", args...) }

// mdSummary is the title, the verdict and the warnings.
func (r *RunResult) mdSummary(w mdWriter) {
	last := r.Last()
	best := last.Chosen
	w.p("# edgefit run: %s", r.Target)
	w.p("")
	verdict := "meets"
	if !last.Met {
		verdict = "**misses**"
	}
	w.p("The chosen %s subnet %s the limits (%s) on the device: predicted %.2f ms, measured %.2f ms (median; p90 %.2f ms).",
		r.Space, verdict, r.Limits, best.LatencyMS, last.MeasuredMS, last.MeasuredP90)
	w.p("")
	if r.Untrained {
		w.p("> **Untrained weights.** No checkpoint was given, so `model.onnx` holds deterministic seeded weights: its latency and memory are")
		w.p("> those of the real subnet, its outputs mean nothing. Pass `--checkpoint` with an OFA supernet for a usable model.")
		w.p("")
	}
	switch {
	case r.AccuracyProxy && IsZeroCostSource(r.AccuracySource):
		w.p("> **Zero-cost proxy.** The \"accuracy\" ranking is a proxy, not an accuracy: %s.", r.AccuracySource)
		w.p("")
	case r.AccuracyProxy:
		w.p("> **No accuracy source.** The \"accuracy\" ranking is a proxy (%s).", r.AccuracySource)
		w.p("")
	}
	for _, warning := range r.Warnings {
		w.p("> Warning: %s", warning)
		w.p("")
	}
}

// mdChosen describes the chosen subnet, predicted against measured.
func (r *RunResult) mdChosen(w mdWriter) {
	last := r.Last()
	best := last.Chosen
	w.p("## Chosen subnet")
	w.p("")
	w.p("| | predicted | measured |")
	w.p("|---|---|---|")
	w.p("| latency | %.2f ms | %.2f ms median, %.2f ms p90 |", best.LatencyMS, last.MeasuredMS, last.MeasuredP90)
	acc := fmt.Sprintf("%.4f", best.Accuracy)
	if r.AccuracyProxy {
		acc += " (proxy score)"
	}
	measured := ""
	if rr := last.Rerank; rr != nil {
		measured = fmt.Sprintf("top-1 %.4f, top-5 %.4f on %d images", rr.Chosen.MeasuredTop1, rr.Chosen.MeasuredTop5, rr.ValImages)
	}
	w.p("| accuracy | %s | %s |", acc, measured)
	rss := ""
	if last.PeakRSS > 0 {
		rss = search.FormatBytes(last.PeakRSS) + " peak RSS of the whole measuring process"
	}
	w.p("| peak memory | %s | %s |", search.FormatBytes(best.PeakMemory), rss)
	w.p("| parameters | %s | |", search.FormatCount(best.Params))
	w.p("| MACs | %s | |", search.FormatCount(best.MACs))
	w.p("")
	w.p("Resolution %d; config (`subnet.json`; `%s` exports it again):", best.Config.R,
		ExportCommand("subnet.json", r.Space, r.Checkpoint, "model.onnx", r.Calibration.Options()))
	w.p("")
	w.p("```json")
	w.p("%s", best.Config.String())
	w.p("```")
	w.p("")
	if r.Verified {
		w.p("`model.onnx` run with ONNX Runtime on the host differs from edgefit's forward pass of the subnet by at most %.2g (tolerance %.2g).", r.VerifyDiff, r.VerifyLimit)
	} else {
		w.p("**The model is unverified**: it failed its check against edgefit's forward pass, or could not be checked, and is kept as `%s` (see the warning above).", filepath.Base(r.Model))
	}
	w.p("")
}

// mdAccuracy says where the model's BatchNorm statistics come from and,
// after a rerank, how the measured accuracies compare with the predicted.
func (r *RunResult) mdAccuracy(w mdWriter) {
	w.p("## BatchNorm statistics and measured accuracy")
	w.p("")
	if c := r.Calibration; c != nil {
		how := "OFA's test transform"
		if c.Augment {
			how = fmt.Sprintf("training-style random crops and flips (seed %d)", c.Seed)
		}
		w.p("Recalibrated as OFA's `set_running_statistics` does on %d images of `%s` in %d batches of %d, with %s (image list SHA-256 `%s`).",
			c.Images, c.Dir, c.Batches, c.BatchSize, how, c.ListSHA256)
	} else if r.Untrained {
		w.p("The model's BatchNorm statistics are those of its seeded initialization, like its weights: pass `--checkpoint` with an OFA supernet, and `--calib-data DIR` to recalibrate its statistics on your images as OFA does before deploying a subnet.")
	} else {
		w.p("The model keeps the supernet's BatchNorm statistics (%s): pass `--calib-data DIR` to recalibrate them on your images, as OFA does before deploying a subnet.", r.BNStatistics)
	}
	w.p("")
	rr := r.Last().Rerank
	if rr == nil {
		return
	}
	w.p("The %d candidates below were recalibrated and evaluated on %d images; the best measured was exported.", len(rr.Candidates), rr.ValImages)
	w.p("")
	w.p("| predicted accuracy | measured top-1 | measured top-5 | predicted latency | MACs | r | |")
	w.p("|---|---|---|---|---|---|---|")
	for _, e := range rr.Candidates {
		mark := ""
		if e.Chosen {
			mark = "chosen"
		}
		w.p("| %.4f | %.4f | %.4f | %.2f ms | %s | %d | %s |", e.PredictedAccuracy, e.MeasuredTop1, e.MeasuredTop5, e.LatencyMS, search.FormatCount(e.MACs), e.Config.R, mark)
	}
	w.p("")
}

// mdSelections lists the selections, when there was more than one.
func (r *RunResult) mdSelections(w mdWriter) {
	if len(r.Attempts) <= 1 {
		return
	}
	w.p("## Selections")
	w.p("")
	w.p("The first choice missed the latency limit on the device, so the search ran again under a tighter limit.")
	w.p("")
	w.p("| # | latency limit | predicted | measured | met |")
	w.p("|---|---|---|---|---|")
	for i, a := range r.Attempts {
		w.p("| %d | %.2f ms | %.2f ms | %.2f ms | %v |", i+1, a.Limits.MaxLatencyMS, a.Chosen.LatencyMS, a.MeasuredMS, a.Met)
	}
	w.p("")
}

// mdFront shows the Pareto front: the plot, and some of its points.
func (r *RunResult) mdFront(w mdWriter) {
	w.p("## Pareto front")
	w.p("")
	if png, ok := r.Files["png_front"]; ok {
		w.p("![Pareto front of accuracy against latency](%s)", filepath.Base(png))
		w.p("")
	}
	if len(r.Front) > 0 {
		if len(r.Front) > frontRows {
			w.p("%d subnets on the front, %d of them shown from fastest to most accurate (all are in `pareto.front.csv`):", len(r.Front), frontRows)
			w.p("")
		}
		w.p("| latency | accuracy | memory | params | MACs | r |")
		w.p("|---|---|---|---|---|---|")
		for _, c := range sampleFront(r.Front, frontRows) {
			w.p("| %.2f ms | %.4f | %s | %s | %s | %d |", c.LatencyMS, c.Accuracy, search.FormatBytes(c.PeakMemory), search.FormatCount(c.Params), search.FormatCount(c.MACs), c.Config.R)
		}
		w.p("")
	}
	if s := r.Search; s != nil {
		w.p("Search: %s (seed %d), %d candidates scored in %d generations, %.1f s.", s.Method, s.Seed, s.Scored, s.Generations, s.WallSeconds)
	}
	w.p("")
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

// mdPredictor describes the table and the predictor's fit.
func (r *RunResult) mdPredictor(w mdWriter) {
	w.p("## Latency predictor")
	w.p("")
	how := "measured now"
	if r.LUTReused {
		how = "reused from an earlier run"
	}
	s := r.LUTSummary
	w.p("Lookup table `%s` (%s): %d layer entries at r=%s, %d whole subnets, median coefficient of variation %.2f%%, median %.0f timed runs per entry.",
		r.LUT, how, s.Entries, joinInts(s.Resolutions), s.Networks, 100*s.MedianCoV, s.MedianRuns)
	w.p("")
	if r.Fit != nil {
		w.p("```")
		var fb bytes.Buffer
		_ = r.Fit.WriteText(&fb)
		w.b.WriteString(strings.TrimRight(fb.String(), "\n"))
		w.p("")
		w.p("```")
		w.p("")
	}
}

// mdDevice is the runtime and the device's fingerprint.
func (r *RunResult) mdDevice(w mdWriter) {
	w.p("## Device and settings")
	w.p("")
	w.p("Runtime: %s.", r.Runtime)
	w.p("")
	if r.Fingerprint != nil {
		w.p("| | |")
		w.p("|---|---|")
		for _, row := range r.Fingerprint.Table() {
			w.p("| %s | %s |", row[0], strings.ReplaceAll(row[1], "|", "/"))
		}
		w.p("")
	}
}

// mdFiles lists what the run wrote, relative to dir, and its wall time.
func (r *RunResult) mdFiles(w mdWriter, dir string) {
	w.p("## Files")
	w.p("")
	for _, k := range []string{"model", "config", "predictor", "lut", "png_front", "svg_front", "json_front", "csv_front", "report_json"} {
		if v, ok := r.Files[k]; ok {
			rel, err := filepath.Rel(dir, v)
			if err != nil {
				rel = v
			}
			w.p("- %s: `%s`", k, rel)
		}
	}
	w.p("")
	w.p("Total wall time %.0f s.", r.WallSeconds)
}
