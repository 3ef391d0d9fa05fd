package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	MaxPred int
	RL      search.RLOptions
}

func (o *selectOptions) AddFlags(f *pflag.FlagSet) {
	o.limits.AddFlags(f)
	f.StringVar(&o.Acc, "acc", "", "accuracy source: OFA predictor .pth, a CSV of measured (config, accuracy) samples, or a fitted .json; default: a MACs proxy, labelled as such")
	f.IntVar(&o.Top, "top", 5, "how many subnets to list")
	f.Uint64Var(&o.Seed, "seed", 1, "seed: the same seed gives the same result")
	f.StringVar(&o.Method, "method", search.MethodEvolution, "search method: evolution, random (a baseline) or rl (an LSTM controller trained with REINFORCE)")
	f.IntSliceVar(&o.Res, "res", nil, "resolutions to search (default: the predictor's)")
	f.BoolVar(&o.Pareto, "pareto", true, "also search the Pareto front of accuracy against latency")
	f.BoolVar(&o.Memory, "pareto-memory", false, "make peak memory a third objective of the front")
	f.IntVar(&o.PopSize, "population", 0, "evolution population (default 100)")
	f.IntVar(&o.Gens, "generations", 0, "most generations, each of --population subnets (default 120; the search stops earlier once it converges)")
	f.IntVar(&o.MaxPred, "max-predictions", 0, "stop the search after this many accuracy predictions, whatever the method (default: no cap)")
	f.IntVar(&o.RL.Hidden, "rl-hidden", 0, "rl: LSTM hidden size (default 64)")
	f.Float64Var(&o.RL.Entropy, "rl-entropy", 0, "rl: entropy bonus weight, per standard deviation of the reward (default 0.1; negative: none)")
	f.Float64Var(&o.RL.LearningRate, "rl-lr", 0, "rl: Adam learning rate (default 0.005)")
	f.IntVar(&o.RL.Batch, "rl-batch", 0, "rl: subnets sampled per policy update (default 20)")
}

// selection is the outcome of a search, ready to print or save.
type selection struct {
	Space          string             `json:"space"`
	Predictor      string             `json:"predictor"`
	AccuracySource string             `json:"accuracy_source"`
	AccuracyProxy  bool               `json:"accuracy_is_proxy"`
	Limits         search.Limits      `json:"limits"`
	Top            []search.Candidate `json:"top"`
	Front          []search.Candidate `json:"front,omitempty"`
	Scored         int                `json:"candidates_scored"`
	WallMS         float64            `json:"wall_ms"`
	Generations    int                `json:"generations"`
	result         *search.Result
}

// searchOptions returns the search options the flags ask for; bad values
// are usage errors, found before any work starts.
func (o *selectOptions) searchOptions(g *globalOptions) (search.Options, error) {
	opts := search.Options{Method: o.Method, Seed: o.Seed, TopK: o.Top, Resolutions: o.Res, Pareto: o.Pareto,
		ParetoMemory: o.Memory, Population: o.PopSize, Generations: o.Gens, MaxPredictions: o.MaxPred, RL: o.RL, Logger: g.logger()}
	if err := opts.Validate(); err != nil {
		return opts, usageErrorf("%v", err)
	}
	return opts, nil
}

// selectSubnets loads the predictors and runs the search.
func selectSubnets(ctx context.Context, g *globalOptions, space *supernet.Space, lat predictor.LatencyModel, predPath string, o selectOptions, lim search.Limits) (*selection, error) {
	opts, err := o.searchOptions(g)
	if err != nil {
		return nil, err
	}
	acc, err := predictor.LoadAccuracyModel(space, o.Acc, predictor.MLPOptions{})
	if err != nil {
		return nil, withHint(fmt.Errorf("accuracy source %s: %w", o.Acc, err), "give an OFA accuracy predictor (.pth), a CSV of config,accuracy samples, or nothing for the MACs proxy")
	}
	sc, err := predictor.NewScorer(space, lat, acc)
	if err != nil {
		return nil, err
	}
	prog := g.newProgress(1, "searching")
	opts.Progress = func(done, total int) { prog.Set(done, total) }
	res, err := search.Run(ctx, space, sc, lim, opts)
	prog.Done()
	if err != nil {
		var inf *search.InfeasibleError
		if errors.As(err, &inf) {
			return nil, withCode(withHint(err, "relax the limits above, or profile a faster setting (threads, execution provider)"), ExitInfeasible)
		}
		return nil, err
	}
	return &selection{Space: space.Name, Predictor: predPath, AccuracySource: sc.AccuracySource(), AccuracyProxy: sc.AccuracyIsProxy(),
		Limits: lim, Top: res.Top, Front: res.Front, Scored: res.Stats.Scored, WallMS: float64(res.Stats.Wall.Microseconds()) / 1000,
		Generations: res.Stats.Generations, result: res}, nil
}

// writeFront saves the Pareto front as prefix.front.{json,csv,png,svg} and
// returns the paths written.
func (s *selection) writeFront(prefix string, memory bool) ([]string, error) {
	if s.result == nil || len(s.result.Front) == 0 {
		return nil, nil
	}
	var paths []string
	for _, f := range []struct {
		ext   string
		write func(*os.File) error
	}{
		{".front.json", func(w *os.File) error { return search.WriteFrontJSON(w, s.result) }},
		{".front.csv", func(w *os.File) error { return search.WriteFrontCSV(w, s.result) }},
	} {
		p := prefix + f.ext
		if err := writeFileWith(p, f.write); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	po := search.PlotOptions{Proxy: s.AccuracyProxy}
	if memory {
		po.X = search.Memory
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

// writeFileWith writes a file atomically through write.
func writeFileWith(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
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

// header names the table's columns; a proxy score is not called accuracy.
func (s *selection) header() []string {
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

func newSelectCommand(g *globalOptions) *cobra.Command {
	var (
		o          selectOptions
		checkpoint string
		predPath   string
		out        string
		front      string
	)
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
limit can take under the others (exit code 3).`,
		Example: `  edgefit select --predictor note10.pred.json --acc acc_predictor.pth --max-latency 20ms -o subnet.json
  edgefit select --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --predictor local.pred.json \
      --max-latency 15ms --max-memory 40MB --max-params 5M --max-flops 300M --top 10 --json
  edgefit select --predictor note10.pred.json --acc acc_predictor.pth --max-latency 20ms \
      --method rl --rl-hidden 64 --rl-entropy 0.1 --max-predictions 6000`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if predPath == "" {
				return usageErrorf("--predictor is required: fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
			}
			lim, err := o.limits.parse()
			if err != nil {
				return err
			}
			if _, err := o.searchOptions(g); err != nil {
				return err
			}
			lat, err := predictor.LoadLatencyPredictor(predPath)
			if err != nil {
				return withHint(err, "fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
			}
			space := lat.Space()
			if checkpoint != "" {
				ck, err := supernet.LoadCheckpoint(checkpoint)
				if err != nil {
					return err
				}
				if ck.Space.Name != space.Name {
					return usageErrorf("checkpoint %s is %s but predictor %s is for %s: fit the predictor for the checkpoint's space (--space on 'predictor fit')", checkpoint, ck.Space.Name, predPath, space.Name)
				}
			}
			sel, err := selectSubnets(cmd.Context(), g, space, lat, predPath, o, lim)
			if err != nil {
				return err
			}
			if out != "" {
				if err := writeFileWith(out, func(f *os.File) error {
					_, err := f.WriteString(sel.Top[0].Config.String() + "\n")
					return err
				}); err != nil {
					return err
				}
			}
			var frontPaths []string
			if front == "" && out != "" {
				front = strings.TrimSuffix(out, filepath.Ext(out))
			}
			if front != "" && o.Pareto {
				if frontPaths, err = sel.writeFront(front, o.Memory); err != nil {
					return err
				}
			}
			if g.JSON {
				return writeJSON(g.io.Out, sel)
			}
			if err := writeTable(g.io.Out, sel.header(), candidateRows(sel.Top)); err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "space %s, limits %s; %d candidates scored in %.0f ms\n", sel.Space, lim, sel.Scored, sel.WallMS)
			fmt.Fprintf(g.io.Out, "accuracy: %s\n", sel.AccuracySource)
			if out != "" {
				fmt.Fprintf(g.io.Out, "best config written to %s (next: edgefit export --config %s -o model.onnx)\n", out, out)
			}
			if len(frontPaths) > 0 {
				fmt.Fprintf(g.io.Out, "Pareto front (%d subnets): %s\n", len(sel.Front), strings.Join(frontPaths, ", "))
			}
			return nil
		},
	}
	f := c.Flags()
	o.AddFlags(f)
	f.StringVar(&checkpoint, "checkpoint", "", "supernet checkpoint the subnet will be cut from (checks that its space matches the predictor's)")
	f.StringVar(&predPath, "predictor", "", "latency predictor of the device (from 'edgefit predictor fit')")
	f.StringVarP(&out, "output", "o", "", "write the best subnet's config here")
	f.StringVar(&front, "front", "", "path prefix of the Pareto front files (default: -o without its extension)")
	return c
}
