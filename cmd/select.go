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
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

func init() { register(newSelectCommand) }

// limitFlags are the four limits, as the user typed them.
type limitFlags struct {
	Latency, Memory, Params, MACs string
}

func (l *limitFlags) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&l.Latency, "max-latency", "", "latency limit on the target, with a unit: 20ms, 0.02s")
	f.StringVar(&l.Memory, "max-memory", "", "peak inference memory limit (weights plus live activations): 40MB, 512KB, 1GB (MB = 10^6 bytes, MiB = 2^20)")
	f.StringVar(&l.Params, "max-params", "", "parameter limit: 5M, 300K, 4500000")
	f.StringVar(&l.MACs, "max-flops", "", "multiply-accumulate limit, as OFA counts FLOPs: 300M, 1.2G")
}

// parse turns the flags into search limits; at least one must be set.
func (l *limitFlags) parse() (search.Limits, error) {
	var lim search.Limits
	var err error
	if l.Latency != "" {
		if lim.MaxLatencyMS, err = search.ParseLatency(l.Latency); err != nil {
			return lim, usageErrorf("--max-latency: %v", err)
		}
	}
	if l.Memory != "" {
		if lim.MaxMemory, err = search.ParseBytes(l.Memory); err != nil {
			return lim, usageErrorf("--max-memory: %v", err)
		}
	}
	if l.Params != "" {
		if lim.MaxParams, err = search.ParseCount(l.Params); err != nil {
			return lim, usageErrorf("--max-params: %v", err)
		}
	}
	if l.MACs != "" {
		if lim.MaxMACs, err = search.ParseCount(l.MACs); err != nil {
			return lim, usageErrorf("--max-flops: %v", err)
		}
	}
	if err := lim.Validate(); err != nil {
		return lim, usageErrorf("%v", err)
	}
	if len(lim.Set()) == 0 {
		return lim, usageErrorf("no limit given: set at least one of --max-latency, --max-memory, --max-params, --max-flops")
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
	zc      zeroCostFlags
}

func (o *selectOptions) AddFlags(f *pflag.FlagSet) {
	o.limits.AddFlags(f)
	f.StringVar(&o.Acc, "acc", "", "accuracy source: OFA predictor .pth, a CSV of measured (config, accuracy) samples (fits a ridge model and OFA's MLP, keeps the better by CV RMSE), a fitted .json, or zero-cost for the NASWOT proxy on --data's images (labelled a proxy); default: a MACs proxy, labelled as such")
	f.IntVar(&o.Top, "top", 5, "how many subnets to list")
	f.Uint64Var(&o.Seed, "seed", 1, "seed: the same seed gives the same result")
	f.StringVar(&o.Method, "method", search.MethodEvolution, "search method: evolution or random (a baseline)")
	f.IntSliceVar(&o.Res, "res", nil, "resolutions to search (default: the predictor's)")
	f.BoolVar(&o.Pareto, "pareto", true, "also search the Pareto front of accuracy against latency")
	f.BoolVar(&o.Memory, "pareto-memory", false, "make peak memory a third objective of the front")
	f.IntVar(&o.PopSize, "population", 0, "evolution population (default 100)")
	f.IntVar(&o.Gens, "generations", 0, "most generations (default 500; the search stops earlier once it converges)")
	o.zc.AddFlags(f)
}

// searchOptions turns the search flags into search options.
func (o *selectOptions) searchOptions(log *slog.Logger) search.Options {
	return search.Options{Method: o.Method, Seed: o.Seed, TopK: o.Top, Resolutions: o.Res, Pareto: o.Pareto,
		ParetoMemory: o.Memory, Population: o.PopSize, Generations: o.Gens, Logger: log}
}

// candidateRows formats candidates as table rows.
func candidateRows(cs []search.Candidate) [][]string {
	rows := make([][]string, 0, len(cs))
	for i, c := range cs {
		rows = append(rows, []string{
			fmt.Sprint(i + 1),
			fmt.Sprintf("%.4f", c.Accuracy),
			search.FormatLatency(c.LatencyMS),
			search.FormatBytes(c.PeakMemory),
			search.FormatCount(c.Params),
			search.FormatCount(c.MACs),
			fmt.Sprint(c.Config.R),
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
      --max-latency 15ms --max-memory 40MB --max-params 5M --max-flops 300M --top 10 --json
  edgefit select --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --predictor local.pred.json --max-latency 15ms \
      --rerank 5 --calib-data calib/ --val-data val/ -o subnet.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSelect(cmd.Context(), g, &o)
		},
	}
	f := c.Flags()
	o.AddFlags(f)
	f.StringVar(&o.Checkpoint, "checkpoint", "", "supernet checkpoint the subnet will be cut from (checks that its space matches the predictor's)")
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
	zo, err := o.zc.options(o.Acc)
	if err != nil {
		return err
	}
	_, ro, err := o.rerank.options(false)
	if err != nil {
		return err
	}
	lat, err := predictor.LoadLatencyPredictor(o.Predictor)
	if err != nil {
		return withHint(err, "fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
	}
	space := lat.Space()
	reranker, err := o.prepareRerank(ctx, space, ro)
	if err != nil {
		return err
	}
	sel, err := o.selectWithFlags(ctx, g, space, lat, lim, zo)
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
	return o.printSelection(g, sel, frontPaths)
}

// prepareRerank checks --checkpoint against the predictor's space and,
// with --rerank, lists and checks both image folders, all before the search.
func (o *selectFlags) prepareRerank(ctx context.Context, space *supernet.Space, ro *edgefit.RerankOptions) (*edgefit.Reranker, error) {
	if o.Checkpoint == "" {
		if ro != nil {
			return nil, usageErrorf("--rerank needs --checkpoint: the supernet whose subnets are measured")
		}
		return nil, nil
	}
	m, err := edgefit.Resolve(edgefit.ModelSource{Checkpoint: o.Checkpoint})
	if err != nil {
		return nil, pipelineError(err)
	}
	if m.Space.Name != space.Name {
		return nil, usageErrorf("checkpoint %s is %s but predictor %s is for %s: fit the predictor for the checkpoint's space (--space on 'predictor fit')", o.Checkpoint, m.Space.Name, o.Predictor, space.Name)
	}
	if ro == nil {
		return nil, nil
	}
	r, err := edgefit.PrepareRerank(ctx, m, *ro)
	if err != nil {
		return nil, pipelineError(err)
	}
	return r, nil
}

// writeSelection writes the best config to -o and the front beside it (or
// to --front), returning the front's files.
func (o *selectFlags) writeSelection(sel *edgefit.Selection) ([]string, error) {
	if o.Output != "" {
		if err := edgefit.WriteConfig(o.Output, sel.Chosen()); err != nil {
			return nil, err
		}
	}
	front := o.Front
	if front == "" && o.Output != "" {
		front = strings.TrimSuffix(o.Output, filepath.Ext(o.Output))
	}
	if front == "" || !o.Pareto {
		return nil, nil
	}
	return sel.WriteFront(front)
}

// printSelection prints the best subnets as a table and what was written.
func (o *selectFlags) printSelection(g *globalOptions, sel *edgefit.Selection, frontPaths []string) error {
	if err := writeTable(g.io.Out, selectionHeader(sel), candidateRows(sel.Top)); err != nil {
		return err
	}
	fmt.Fprintf(g.io.Out, "space %s, limits %s; %d candidates scored in %.0f ms\n", sel.Space, sel.Limits, sel.Scored, sel.WallMS)
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
		fmt.Fprintf(g.io.Out, "best config written to %s (next: edgefit export --config %s -o model.onnx)\n", o.Output, o.Output)
	}
	if len(frontPaths) > 0 {
		fmt.Fprintf(g.io.Out, "Pareto front (%d subnets): %s\n", len(sel.Front), strings.Join(frontPaths, ", "))
	}
	return nil
}
