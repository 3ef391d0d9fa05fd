package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

func init() { register(newSelectCommand) }

// limitFlags are the four limits, as the user typed them.
type limitFlags struct {
	Latency, Memory, Params, MACs string
	Flops                         string // --max-flops, the old name of --max-macs
}

func (l *limitFlags) AddFlags(f *pflag.FlagSet) {
	const rel = "; or a share of the largest subnet's, such as 60%"
	f.StringVar(&l.Latency, "max-latency", "", "latency limit on the target, with a unit: 20ms, 0.02s"+rel+" (of its predicted latency there)")
	f.StringVar(&l.Memory, "max-memory", "", "peak inference memory limit (weights plus live activations), with a unit: 40MB, 512KB, 1GB (MB = 10^6 bytes, MiB = 2^20)"+rel)
	f.StringVar(&l.Params, "max-params", "", "parameter limit: 5M, 300K, 4500000"+rel)
	f.StringVar(&l.MACs, "max-macs", "", "multiply-accumulate limit (what OFA calls FLOPs; --max-flops is the same flag): 300M, 1.2G"+rel)
	f.StringVar(&l.Flops, "max-flops", "", "the same as --max-macs")
	_ = f.MarkHidden("max-flops")
}

// parse turns the flags into search limits; at least one must be set.
func (l *limitFlags) parse() (search.Limits, error) {
	var lim search.Limits
	if l.Flops != "" {
		if l.MACs != "" && l.MACs != l.Flops {
			return lim, usageErrorf("--max-flops %s and --max-macs %s disagree: they are the same limit, give one", l.Flops, l.MACs)
		}
		l.MACs = l.Flops
	}
	for _, f := range []struct {
		flag, value string
		share       *float64
		parse       func(string) error
	}{
		{"--max-latency", l.Latency, &lim.Share.Latency, func(v string) (err error) { lim.MaxLatencyMS, err = search.ParseLatency(v); return }},
		{"--max-memory", l.Memory, &lim.Share.Memory, func(v string) (err error) { lim.MaxMemory, err = search.ParseBytes(v); return }},
		{"--max-params", l.Params, &lim.Share.Params, func(v string) (err error) { lim.MaxParams, err = search.ParseCount(v); return }},
		{"--max-macs", l.MACs, &lim.Share.MACs, func(v string) (err error) { lim.MaxMACs, err = search.ParseCount(v); return }},
	} {
		var err error
		switch {
		case f.value == "":
			continue
		case search.IsShare(f.value):
			*f.share, err = search.ParseShare(f.value)
		default:
			err = f.parse(f.value)
		}
		if err != nil {
			return lim, usageErrorf("%s: %v", f.flag, err)
		}
	}
	if err := lim.Validate(); err != nil {
		return lim, usageErrorf("%v", err)
	}
	if len(lim.Set()) == 0 {
		return lim, usageErrorf("no limit given: set at least one of --max-latency, --max-memory, --max-params, --max-macs")
	}
	return lim, nil
}

// selectOptions are the flags of 'edgefit select' that 'edgefit run' shares.
type selectOptions struct {
	limits  limitFlags
	Acc     string
	Top     int
	Seed    uint64
	Method  string
	Res     []int
	Pareto  bool
	Memory  bool
	PopSize int
	Gens    int
	MaxPred int
	RL      search.RLOptions
	// Extrapolate allows resolutions beyond those the table measured.
	Extrapolate bool
	zc          zeroCostFlags
}

func (o *selectOptions) AddFlags(f *pflag.FlagSet) {
	o.limits.AddFlags(f)
	f.StringVar(&o.Acc, "acc", "", "accuracy source: OFA predictor .pth (acc-predictor: the one 'edgefit fetch' cached), a CSV of measured (config, accuracy) samples (fits a ridge model and OFA's MLP, keeps the better by CV RMSE), a fitted .json, or zero-cost for the NASWOT proxy on --data's images (labelled a proxy); default: a MACs proxy, labelled as such")
	f.IntVar(&o.Top, "top", 5, "how many subnets to list")
	f.Uint64Var(&o.Seed, "seed", 1, "seed: the same seed gives the same result")
	f.StringVar(&o.Method, "method", search.MethodEvolution, "search method: evolution, random (a baseline) or rl (an LSTM controller trained with REINFORCE)")
	f.IntSliceVar(&o.Res, "res", nil, "resolutions to search (default: those the lookup table measured and the space's between them)")
	f.BoolVar(&o.Extrapolate, "allow-extrapolation", false, "search resolutions beyond those the lookup table measured, where latency is extrapolated (every output says so)")
	f.BoolVar(&o.Pareto, "pareto", true, "also search the Pareto front of accuracy against latency")
	f.BoolVar(&o.Memory, "pareto-memory", false, "make peak memory a third objective of the front")
	f.IntVar(&o.PopSize, "population", 0, "evolution population (default 100)")
	f.IntVar(&o.Gens, "generations", 0, "most generations, each of --population subnets (default 120; the search stops earlier once it converges)")
	f.IntVar(&o.MaxPred, "max-predictions", 0, "stop the search after this many accuracy predictions, whatever the method (default: no cap)")
	f.IntVar(&o.RL.Hidden, "rl-hidden", 0, "rl: LSTM hidden size (default 64)")
	f.Float64Var(&o.RL.Entropy, "rl-entropy", 0, "rl: entropy bonus weight, per standard deviation of the reward (default 0.1; negative: none)")
	f.Float64Var(&o.RL.LearningRate, "rl-lr", 0, "rl: Adam learning rate (default 0.005)")
	f.IntVar(&o.RL.Batch, "rl-batch", 0, "rl: subnets sampled per policy update (default 20)")
	o.zc.AddFlags(f)
}

// searchOptions returns the search options the flags ask for; bad values
// are usage errors, found before any work starts.
func (o *selectOptions) searchOptions(log *slog.Logger) (search.Options, error) {
	opts := search.Options{Method: o.Method, Seed: o.Seed, TopK: o.Top, Resolutions: o.Res, Pareto: o.Pareto,
		ParetoMemory: o.Memory, Population: o.PopSize, Generations: o.Gens, MaxPredictions: o.MaxPred, RL: o.RL, Logger: log}
	if err := opts.Validate(); err != nil {
		return opts, usageErrorf("%v", err)
	}
	return opts, nil
}

// candidateRows formats candidates as table rows; a resolution outside
// measured (when known), where the latency is extrapolated, is starred.
func candidateRows(cs []search.Candidate, measured []int) [][]string {
	rows := make([][]string, 0, len(cs))
	for i, c := range cs {
		r := fmt.Sprint(c.Config.R)
		if edgefit.OutsideMeasured(c.Config.R, measured) {
			r += "*"
		}
		rows = append(rows, []string{
			fmt.Sprint(i + 1),
			fmt.Sprintf("%.4f", c.Accuracy),
			search.FormatLatency(c.LatencyMS),
			search.FormatBytes(c.PeakMemory),
			search.FormatCount(c.Params),
			search.FormatCount(c.MACs),
			r,
			compactConfig(c.Config),
		})
	}
	return rows
}

// rerankRows list measured candidates, predicted and measured side by side.
func rerankRows(rr *edgefit.RerankResult) [][]string {
	rows := make([][]string, 0, len(rr.Candidates))
	for i, e := range rr.Candidates {
		mark := ""
		if e.Chosen {
			mark = "chosen"
		}
		rows = append(rows, []string{fmt.Sprint(i + 1), fmt.Sprintf("%.4f", e.PredictedAccuracy), fmt.Sprintf("%.4f", e.MeasuredTop1),
			fmt.Sprintf("%.4f", e.MeasuredTop5), search.FormatLatency(e.LatencyMS), search.FormatCount(e.MACs), fmt.Sprint(e.Config.R), mark})
	}
	return rows
}

// selectionHeader names the table's columns; a proxy score is not called
// accuracy.
func selectionHeader(s *edgefit.Selection) []string {
	acc := "accuracy"
	if s.AccuracyProxy {
		acc = "proxy score"
	}
	return []string{"#", acc, "latency", "memory", "params", "MACs", "r", "ks / e / d"}
}

// compactConfig writes a config's lists without JSON punctuation.
func compactConfig(c supernet.Config) string {
	j := func(v []int) string { return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(v)), ""), "[]") }
	return fmt.Sprintf("%s / %s / %s", j(c.KS[:]), j(c.E[:]), j(c.D[:]))
}

// selectFlags are the flags of 'edgefit select' beyond the search's.
type selectFlags struct {
	selectOptions
	Checkpoint string
	Predictor  string
	Output     string
	Front      string
	rerank     rerankFlags
}

func newSelectCommand(g *globalOptions) *cobra.Command {
	var o selectFlags
	c := &cobra.Command{
		Use:   "select --predictor DEVICE.pred.json --max-latency 20ms -o subnet.json",
		Short: "Search the most accurate subnet within latency, memory, parameter and MAC limits",
		Long: `select runs an evolutionary search (OFA's regularized evolution, bounded and
repaired toward the limits) over the supernet's subnets, scoring each with the
device's latency predictor, an accuracy source and the exact costs, and lists
the best subnets that meet every limit. The best one is written to -o in
edgefit's config JSON for 'edgefit export'. With --pareto (default) it also
writes the Pareto front of accuracy against latency as JSON, CSV, PNG and SVG.

--method random samples uniform subnets instead (a baseline), and --method rl
trains an LSTM controller with REINFORCE that emits the resolution, the depths
and each active block's kernel and expand ratio; all three report their results
the same way and count accuracy predictions the same way (--max-predictions
caps them).

A limit no subnet can meet ends the search at once with the smallest value each
limit can take under the others (exit code 3).

With --rerank K (and --checkpoint, --calib-data, --val-data) the K best
candidates within the limits, by predicted accuracy and spread along the front,
are measured as OFA measures a subnet: BatchNorm recalibrated on the calibration
images, then evaluated on the labelled ones. The best measured is chosen and
written to -o; the output shows predicted and measured accuracy side by side.

` + zeroCostHelp,
		Example: `  edgefit select --predictor note10.pred.json --acc acc_predictor.pth --max-latency 20ms -o subnet.json
  edgefit select --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --predictor local.pred.json \
      --max-latency 15ms --max-memory 40MB --max-params 5M --max-macs 300M --top 10 --json
  edgefit select --predictor local.pred.json --max-latency 60% -o subnet.json
  edgefit select --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --predictor local.pred.json --max-latency 15ms \
      --rerank 5 --calib-data calib/ --val-data val/ -o subnet.json
  edgefit select --predictor note10.pred.json --acc acc_predictor.pth --max-latency 20ms \
      --method rl --rl-hidden 64 --rl-entropy 0.1 --max-predictions 6000`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSelect(cmd.Context(), g, &o)
		},
	}
	f := c.Flags()
	o.AddFlags(f)
	f.StringVar(&o.Checkpoint, "checkpoint", "", "supernet checkpoint the subnet will be cut from, or a name 'edgefit fetch' cached (checks that its space matches the predictor's)")
	f.StringVar(&o.Predictor, "predictor", "", "latency predictor of the device (from 'edgefit predictor fit')")
	f.StringVarP(&o.Output, "output", "o", "", "write the best subnet's config here")
	f.StringVar(&o.Front, "front", "", "path prefix of the Pareto front files (default: -o without its extension)")
	o.rerank.AddFlags(f)
	return c
}

// runSelect loads the predictor, searches, writes the config and the front,
// and prints the best subnets.
func runSelect(ctx context.Context, g *globalOptions, o *selectFlags) error {
	if o.Predictor == "" {
		return usageErrorf("--predictor is required: fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
	}
	lim, err := o.limits.parse()
	if err != nil {
		return err
	}
	if err := o.checkOutputs(); err != nil {
		return err
	}
	zo, err := o.zc.options(o.Acc)
	if err != nil {
		return err
	}
	calib, ro, err := o.rerank.options(false)
	if err != nil {
		return err
	}
	lat, err := predictor.LoadLatencyPredictor(o.Predictor)
	if err != nil {
		return withHint(err, "fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
	}
	space := lat.Space()
	m, reranker, err := o.prepareRerank(ctx, space, ro)
	if err != nil {
		return err
	}
	so, err := o.searchOptions(g.logger())
	if err != nil {
		return err
	}
	if so.Resolutions, err = edgefit.SearchResolutions(space, lat, o.Res, o.Extrapolate); err != nil {
		return pipelineError(err)
	}
	sel, err := edgefit.Select(ctx, space, lat, edgefit.AccuracyRequest{Source: o.Acc, ZeroCost: zo, Model: m}, lim, so, terminal{g})
	if err != nil {
		return pipelineError(err)
	}
	sel.Predictor = o.Predictor
	if reranker != nil {
		if sel.Rerank, err = reranker.Rerank(ctx, sel, terminal{g}); err != nil {
			return pipelineError(err)
		}
	}
	frontPaths, err := o.writeSelection(sel)
	if err != nil {
		return err
	}
	if g.JSON {
		return writeJSON(g.io.Out, sel)
	}
	return o.printSelection(g, sel, frontPaths, calib)
}

// prepareRerank checks --checkpoint against the predictor's space and,
// with --rerank, lists and checks both image folders, all before the
// search. It returns the checkpoint's model (nil without --checkpoint),
// for every later use of it.
func (o *selectFlags) prepareRerank(ctx context.Context, space *supernet.Space, ro *edgefit.RerankOptions) (*edgefit.Model, *edgefit.Reranker, error) {
	if o.Checkpoint == "" {
		if ro != nil {
			return nil, nil, usageErrorf("--rerank needs --checkpoint: the supernet whose subnets are measured")
		}
		return nil, nil, nil
	}
	m, err := edgefit.Resolve(edgefit.ModelSource{Checkpoint: o.Checkpoint})
	if err != nil {
		return nil, nil, pipelineError(err)
	}
	if m.Space.Name != space.Name {
		return nil, nil, usageErrorf("checkpoint %s is %s but predictor %s is for %s: fit the predictor for the checkpoint's space (--space on 'predictor fit')", o.Checkpoint, m.Space.Name, o.Predictor, space.Name)
	}
	if ro == nil {
		return m, nil, nil
	}
	r, err := edgefit.PrepareRerank(ctx, m, *ro)
	if err != nil {
		return nil, nil, pipelineError(err)
	}
	return m, r, nil
}

// frontPrefix is the path prefix of the front's files: --front, else -o
// without its extension; "" for none.
func (o *selectFlags) frontPrefix() string {
	if !o.Pareto {
		return ""
	}
	if o.Front == "" && o.Output != "" {
		return strings.TrimSuffix(o.Output, filepath.Ext(o.Output))
	}
	return o.Front
}

// checkOutputs checks, before the search, that -o and the front's files
// can be written.
func (o *selectFlags) checkOutputs() error {
	if o.Output != "" {
		if err := checkOutput("-o", o.Output); err != nil {
			return err
		}
	}
	if p := o.frontPrefix(); p != "" {
		return checkOutput("--front", p+".front.json")
	}
	return nil
}

// writeSelection writes the best config to -o and the front beside it (or
// to --front), returning the front's files.
func (o *selectFlags) writeSelection(sel *edgefit.Selection) ([]string, error) {
	if o.Output != "" {
		if err := edgefit.WriteConfig(o.Output, sel.Space, sel.Chosen()); err != nil {
			return nil, err
		}
	}
	if p := o.frontPrefix(); p != "" {
		return sel.WriteFront(p)
	}
	return nil, nil
}

// printSelection prints the best subnets as a table and what was written;
// calib is the rerank's calibration, which the next: hint repeats (nil
// without --rerank).
func (o *selectFlags) printSelection(g *globalOptions, sel *edgefit.Selection, frontPaths []string, calib *accuracy.CalibOptions) error {
	if err := writeTable(g.io.Out, selectionHeader(sel), candidateRows(sel.Top, sel.MeasuredResolutions)); err != nil {
		return err
	}
	for _, w := range sel.Warnings {
		fmt.Fprintf(g.io.Out, "warning: %s\n", w)
	}
	fmt.Fprintf(g.io.Out, "space %s, limits %s; %d candidates scored in %.2f s\n", sel.Space, sel.Limits, sel.Scored, sel.WallSeconds)
	fmt.Fprintf(g.io.Out, "accuracy: %s\n", sel.AccuracySource)
	if sel.AccuracyFit != nil {
		if err := sel.AccuracyFit.WriteText(g.io.Out); err != nil {
			return err
		}
	}
	if rr := sel.Rerank; rr != nil {
		fmt.Fprintf(g.io.Out, "\nmeasured: BatchNorm recalibrated on %d images (batches of %d), evaluated on %d images, in %.0f s\n", rr.CalibImages, rr.CalibBatch, rr.ValImages, rr.Seconds)
		if err := writeTable(g.io.Out, []string{"#", "predicted", "top-1", "top-5", "latency", "MACs", "r", ""}, rerankRows(rr)); err != nil {
			return err
		}
	}
	if o.Output != "" {
		fmt.Fprintf(g.io.Out, "best config written to %s\nnext: %s\n", o.Output, edgefit.ExportCommand(o.Output, sel.Space, o.Checkpoint, "model.onnx", calib))
	}
	if len(frontPaths) > 0 {
		fmt.Fprintf(g.io.Out, "Pareto front (%d subnets): %s\n", len(sel.Front), strings.Join(frontPaths, ", "))
	}
	return nil
}
