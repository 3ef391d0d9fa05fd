package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/supernet/search"
)

func init() { register(newRunCommand) }

// runOptions are the flags of 'edgefit run'.
type runOptions struct {
	prof       profileOptions
	sel        selectOptions
	Checkpoint string
	LUT        string
	CacheDir   string
	OutDir     string
	Retries    int
	rerank     rerankFlags
	// latencyScale multiplies every latency prediction; tests use it to
	// stand for a predictor that is wrong about the device.
	latencyScale float64
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := runOptions{Retries: 2}
	c := &cobra.Command{
		Use:   "run TARGET --max-latency 20ms -o OUTDIR",
		Short: "From a device to a deployable model: profile, fit, select, export, measure, report",
		Long: `run chains the whole pipeline on TARGET (local, ssh://user@host[:port] or adb://SERIAL):

  1. probe the device and profile its latency lookup table, or reuse a cached
     table whose device fingerprint and settings match (resumable, like 'profile');
  2. fit the latency predictor, with held-out checks and whole-subnet calibration;
  3. search the subnet with the best accuracy within the limits, and the Pareto front;
  4. export it as ONNX (from --checkpoint, or untrained seeded weights that are
     faithful in latency only) and check it against edgefit's forward pass;
  5. measure the exported model on the device and compare with the prediction;
     if it misses --max-latency, select again under a tighter limit (at most
     --retries times) and say so;
  6. write OUTDIR/report.md with the fingerprint, settings, predictor metrics,
     Pareto front (plot beside it) and the chosen subnet.

Without --acc the search ranks subnets by a MACs proxy, labelled as such
everywhere: give OFA's accuracy predictor or your own measured samples for real
accuracies.

With --calib-data the exported model's BatchNorm statistics are recalibrated on
your images, as OFA's set_running_statistics does before it deploys a subnet;
with --rerank K and --val-data the K best candidates are also measured (each
recalibrated, then evaluated) and the best measured is exported.

` + zeroCostHelp,
		Example: `  edgefit run local --max-latency 15ms -o out/
  edgefit run ssh://pi@raspberrypi.local --checkpoint ofa_mbv3_d234_e346_k357_w1.0 \
      --acc samples.csv --max-latency 80ms --max-memory 60MB -o pi4/
  edgefit run adb:// --space ofa-mbv3-w1.2 --acc acc_predictor.pth --max-latency 25ms -o phone/`,
		Args: argsExactly("TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), g, &o, args[0])
		},
	}
	f := c.Flags()
	// The profiling flags are profile's, less those run sets itself.
	pf := pflag.NewFlagSet("profile", pflag.ContinueOnError)
	o.prof.AddFlags(pf)
	pf.VisitAll(func(fl *pflag.Flag) {
		switch fl.Name {
		case "output", "dry-run", "seed":
		default:
			f.AddFlag(fl)
		}
	})
	// The search flags are select's, less --res: run searches the
	// resolutions it profiled (and those between them).
	sf := pflag.NewFlagSet("select", pflag.ContinueOnError)
	o.sel.AddFlags(sf)
	sf.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "res" {
			f.AddFlag(fl)
		}
	})
	f.StringVar(&o.Checkpoint, "checkpoint", "", "OFA supernet checkpoint to cut the subnet from, or a name 'edgefit fetch' cached (default: untrained seeded weights, latency-faithful only)")
	f.StringVar(&o.LUT, "lut", "", "use this lookup table instead of profiling (it must be for the same space)")
	f.StringVar(&o.CacheDir, "lut-cache", "", "where measured lookup tables are cached by device fingerprint and settings (default ~/.cache/edgefit/luts)")
	// --cache was this flag's name; 'edgefit fetch --cache' is another cache.
	f.StringVar(&o.CacheDir, "cache", "", "the old name of --lut-cache")
	_ = f.MarkDeprecated("cache", "use --lut-cache (fetch's --cache is the cache of OFA's files)")
	f.StringVarP(&o.OutDir, "output", "o", "", "directory for the model, predictor, front, plot and report")
	f.IntVar(&o.Retries, "retries", 2, "how many tighter selections to try when the measured latency misses --max-latency")
	f.Float64Var(&o.latencyScale, "latency-scale", 1, "multiply latency predictions by this factor (for testing the re-selection)")
	_ = f.MarkHidden("latency-scale")
	o.rerank.AddFlags(f)
	return c
}

// runRun checks the flags, prepares the pipeline, opens the target, runs
// it and prints the result.
func runRun(ctx context.Context, g *globalOptions, o *runOptions, target string) error {
	if o.OutDir == "" {
		return usageErrorf("-o is required: name the output directory")
	}
	opts, err := o.runOptions(g)
	if err != nil {
		return err
	}
	p, err := edgefit.Prepare(opts)
	if err != nil {
		return pipelineError(err)
	}
	t, err := o.prof.target.open(ctx, g, target)
	if err != nil {
		return err
	}
	defer t.Close()
	res, err := p.Execute(ctx, t, terminal{g})
	var miss *edgefit.LatencyMissError
	if errors.As(err, &miss) {
		err = withHint(err, "everything is written to "+o.OutDir+"; lower --max-latency, raise --retries, or profile more whole subnets (--networks) to calibrate the predictor")
	}
	err = pipelineError(err)
	if res == nil {
		return err
	}
	if g.JSON {
		if err != nil {
			return withResult(err, res) // printed inside the error's report
		}
		return writeJSON(g.io.Out, res)
	}
	printRunSummary(g, res)
	return err
}

// runOptions turns the flags into the pipeline's options.
func (o *runOptions) runOptions(g *globalOptions) (edgefit.RunOptions, error) {
	lim, err := o.sel.limits.parse()
	if err != nil {
		return edgefit.RunOptions{}, err
	}
	if err := o.prof.verifySettings(); err != nil {
		return edgefit.RunOptions{}, err
	}
	calib, rerank, err := o.rerank.options(true)
	if err != nil {
		return edgefit.RunOptions{}, err
	}
	zo, err := o.sel.zc.options(o.sel.Acc)
	if err != nil {
		return edgefit.RunOptions{}, err
	}
	log := g.logger()
	so, err := o.sel.searchOptions(log)
	if err != nil {
		return edgefit.RunOptions{}, err
	}
	return edgefit.RunOptions{Space: o.prof.Space, Checkpoint: o.Checkpoint, LUT: o.LUT, CacheDir: o.CacheDir, OutDir: o.OutDir,
		Limits: lim, Retries: o.Retries, Profile: o.prof.profilerOptions(log), Accuracy: o.sel.Acc, Search: so,
		AllowExtrapolation: o.sel.Extrapolate, LatencyScale: o.latencyScale, ToolVersion: version(), Logger: log, Calib: calib, Rerank: rerank, ZeroCost: zo}, nil
}

// printRunSummary prints the outcome of 'edgefit run' for a person.
func printRunSummary(g *globalOptions, r *edgefit.RunResult) {
	last := r.Last()
	best := last.Chosen
	acc := fmt.Sprintf("%.4f", best.Accuracy)
	switch {
	case r.AccuracyProxy && edgefit.IsZeroCostSource(r.AccuracySource):
		acc += " (zero-cost PROXY score, not an accuracy)"
	case r.AccuracyProxy:
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
		{"accuracy", acc + measuredAccuracy(last.Rerank)},
		{"BatchNorm statistics", bnRow(r.BNStatistics, r.Calibration)},
		{"costs", fmt.Sprintf("%s peak memory, %s params, %s MACs", search.FormatBytes(best.PeakMemory), search.FormatCount(best.Params), search.FormatCount(best.MACs))},
		{"weights", weights},
		{"selections", fmt.Sprint(len(r.Attempts))},
		{"model", r.Files["model"]},
		{"plot", r.Files["png_front"]},
		{"report", r.Files["report"]},
	}
	for _, w := range r.Warnings {
		rows = append(rows, []string{"warning", w})
	}
	_ = writeKV(g.io.Out, rows)
}

// measuredAccuracy is the chosen subnet's measured accuracy after a rerank.
func measuredAccuracy(rr *edgefit.RerankResult) string {
	if rr == nil {
		return ""
	}
	return fmt.Sprintf("; measured top-1 %.4f, top-5 %.4f on %d images (best of %d measured)", rr.Chosen.MeasuredTop1, rr.Chosen.MeasuredTop5, rr.ValImages, len(rr.Candidates))
}
