package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/supernet/search"
)

// zeroCostFlags configure the zero-cost proxy (--acc zero-cost) on select,
// run and predictor correlate.
type zeroCostFlags struct {
	Data   string
	Images int
	Seed   uint64
	f      *pflag.FlagSet
}

func (z *zeroCostFlags) AddFlags(f *pflag.FlagSet) {
	z.f = f
	f.StringVar(&z.Data, "data", "", "images the zero-cost proxy (--acc zero-cost) scores subnets on: every JPEG/PNG below DIR, in torchvision ImageFolder order (no labels needed); without it, a seeded synthetic batch, which every output names")
	f.IntVar(&z.Images, "data-images", 0, "use the first N images for the zero-cost proxy (default 64, NASWOT's batch; at least 2)")
	f.Uint64Var(&z.Seed, "zero-cost-seed", 1, "seed of the zero-cost proxy's synthetic batch and untrained weights")
}

// options returns the zero-cost options for the accuracy source acc; the
// flags without --acc zero-cost are an error, since they would do nothing.
func (z *zeroCostFlags) options(acc string) (edgefit.ZeroCostOptions, error) {
	if !edgefit.IsZeroCost(acc) {
		for _, name := range []string{"data", "data-images", "zero-cost-seed"} {
			if z.f != nil && z.f.Changed(name) {
				return edgefit.ZeroCostOptions{}, usageErrorf("--%s is for the zero-cost proxy: add --acc %s", name, edgefit.ZeroCostSource)
			}
		}
		return edgefit.ZeroCostOptions{}, nil
	}
	if z.Images < 0 || z.Images == 1 {
		return edgefit.ZeroCostOptions{}, usageErrorf("--data-images %d: the zero-cost kernel compares images, so it needs at least 2 (default 64)", z.Images)
	}
	return edgefit.ZeroCostOptions{Data: z.Data, Images: z.Images, Seed: z.Seed}, nil
}

// zeroCostHelp is the paragraph the help of select and run gives the
// proxy.
const zeroCostHelp = `With --acc zero-cost, subnets are ranked by the NASWOT score (Mellor et al.
2021) instead of an accuracy: log|det K| of the binary codes of every ReLU and
h_swish input on a minibatch (--data DIR, the first 64 images; without --data a
seeded synthetic batch), with the weights of --checkpoint or, without one,
seeded untrained weights. It is a proxy, labelled so in every output. Each
subnet costs one forward pass of the batch (64 images at 224 on two cores:
0.9 s for a mid-sized w1.0 subnet, 2.7 s for the largest w1.2 one; less at
lower resolutions), so the search skips its final polish and, unless
--population or --generations is given, runs 8 generations of 16: about 150
subnets scored, 300 with --pareto, a few minutes. Check the proxy against real
accuracies first with 'edgefit predictor correlate': on random w1.2 subnets it
ranks as OFA's accuracy predictor does with Spearman's ρ 0.82, below the MACs
count's 0.92.`

func newPredictorCorrelateCommand(g *globalOptions) *cobra.Command {
	var (
		acc, space, checkpoint string
		subnets                int
		res                    []int
		seed                   uint64
		zc                     zeroCostFlags
	)
	c := &cobra.Command{
		Use:   "correlate --acc REAL [--checkpoint SUPERNET] [--data DIR] [--subnets N]",
		Short: "Check the zero-cost proxy against real accuracies: Spearman's ρ and Kendall's τ",
		Long: `correlate scores subnets with the zero-cost NASWOT proxy (as 'select --acc
zero-cost' would, on --data's images or a seeded synthetic batch, with
--checkpoint's weights or seeded untrained ones) and with a source of real
accuracies, and prints their rank correlations, so that you see whether the
proxy helps on your images before searching with it.

--acc is an OFA accuracy predictor (.pth) or a fitted model (.json), which
predicts --subnets random subnets drawn as OFA's sample_active_subnet draws
them (at the predictor's resolutions, or --res); or a CSV of subnets you
measured (config,accuracy; 'edgefit accuracy-dataset' writes one), whose first
--subnets rows are scored (all by default). The MACs count's ρ against the same
accuracies is printed as the baseline the proxy has to beat.`,
		Example: `  edgefit predictor correlate --acc acc_predictor.pth --space ofa-mbv3-w1.2 --subnets 100
  edgefit predictor correlate --acc measured.csv --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --data calib/ --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			zo, err := zc.options(edgefit.ZeroCostSource)
			if err != nil {
				return err
			}
			if acc == "" {
				return usageErrorf("--acc is required: an OFA predictor (.pth), a fitted .json or a CSV of measured subnets to compare the proxy with")
			}
			if subnets < 0 {
				return usageErrorf("--subnets %d must be positive", subnets)
			}
			if space == "" && checkpoint == "" {
				return usageErrorf("--space or --checkpoint is required: the space the subnets come from (ofa-mbv3-w1.0 or ofa-mbv3-w1.2)")
			}
			m, err := edgefit.Resolve(edgefit.ModelSource{Space: space, Checkpoint: checkpoint})
			if err != nil {
				return pipelineError(err)
			}
			res, err := edgefit.Correlate(cmd.Context(), edgefit.CorrelateRequest{Space: m.Space, Real: acc, ZeroCost: zo, Model: m,
				Subnets: subnets, Resolutions: res, Seed: seed}, terminal{g})
			if err != nil {
				return pipelineError(err)
			}
			if g.JSON {
				return writeJSON(g.io.Out, res)
			}
			return printCorrelation(g, res)
		},
	}
	f := c.Flags()
	f.StringVar(&acc, "acc", "", "real accuracies: an OFA predictor .pth, a fitted .json, or a CSV of measured subnets")
	f.StringVar(&space, "space", "", "space of the subnets: ofa-mbv3-w1.0 or ofa-mbv3-w1.2 (default: the checkpoint's)")
	f.StringVar(&checkpoint, "checkpoint", "", "supernet whose weights the proxy scores (default: seeded untrained weights, NASWOT's setting)")
	f.IntVar(&subnets, "subnets", 0, fmt.Sprintf("random subnets to score (default %d), or the first N rows of a CSV (default all)", edgefit.DefaultCorrelateSubnets))
	f.IntSliceVar(&res, "res", nil, "resolutions the random subnets are drawn at (default: the predictor's)")
	f.Uint64Var(&seed, "seed", 1, "seed of the random subnets")
	zc.AddFlags(f)
	return c
}

// printCorrelation prints the subnets as a table, then the correlations.
func printCorrelation(g *globalOptions, c *edgefit.Correlation) error {
	rows := make([][]string, 0, len(c.Rows))
	for i, r := range c.Rows {
		rows = append(rows, []string{fmt.Sprint(i + 1), fmt.Sprintf("%.4f", r.Accuracy), fmt.Sprintf("%.2f", r.ProxyScore),
			search.FormatCount(r.MACs), fmt.Sprint(r.Config.R), compactConfig(r.Config)})
	}
	acc := "predicted accuracy"
	if c.Measured {
		acc = "measured accuracy"
	}
	if err := writeTable(g.io.Out, []string{"#", acc, "proxy score (log det K)", "MACs", "r", "ks / e / d"}, rows); err != nil {
		return err
	}
	return c.WriteText(g.io.Out)
}
