package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler/lut"
)

func init() { register(newPredictorCommand) }

func newPredictorCommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "predictor",
		Short: "Fit and evaluate latency predictors from profiled lookup tables, and accuracy predictors from measured subnets",
		Example: `  edgefit predictor fit phone.lut.json -o phone.pred.json
  edgefit predictor eval phone.pred.json heldout.lut.json
  edgefit predictor fit-accuracy measured.csv --space ofa-mbv3-w1.0 -o acc.json`,
	}
	c.AddCommand(newPredictorFitCommand(g), newPredictorEvalCommand(g), newPredictorFitAccuracyCommand(g), newPredictorCorrelateCommand(g))
	return c
}

func newPredictorFitCommand(g *globalOptions) *cobra.Command {
	var (
		out   string
		space string
		res   []int
	)
	c := &cobra.Command{
		Use:   "fit DEVICE.lut.json -o DEVICE.pred.json",
		Short: "Fit a latency predictor: LUT sums, per-layer regression and whole-network calibration",
		Long: `fit turns a lookup table measured by 'edgefit profile' (or imported from OFA's
YAML) into a latency predictor. Layers the table lacks, at resolutions or widths
never measured, come from per-layer-kind regression; the whole subnets measured
with the table calibrate the sum. It prints how well each part fits, including
predictions of held-out resolutions and of held-out measured subnets.`,
		Example: `  edgefit predictor fit jetson.lut.json -o jetson.pred.json
  edgefit predictor fit note10.lut.json --space ofa-mbv3-w1.2 -o note10.pred.json --json`,
		Args: argsExactly("DEVICE.lut.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErrorf("-o is required: name the predictor file to write")
			}
			if err := checkOutput("-o", out); err != nil {
				return err
			}
			tbl, err := lut.Load(args[0])
			if err != nil {
				return withHint(err, "measure a table with 'edgefit profile' or import OFA's with 'edgefit lut import'")
			}
			p, rep, err := predictor.Fit(tbl, predictor.FitOptions{Space: space, Resolutions: res})
			if err != nil {
				return fmt.Errorf("fit predictor on %s: %w", args[0], err)
			}
			if err := p.Save(out); err != nil {
				return err
			}
			if g.JSON {
				return writeJSON(g.io.Out, struct {
					Output string               `json:"output"`
					Report *predictor.FitReport `json:"report"`
				}{out, rep})
			}
			if err := rep.WriteText(g.io.Out); err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "wrote %s\n", out)
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&out, "output", "o", "", "predictor file to write")
	f.StringVar(&space, "space", "", "space to predict for (default: the table's; a w1.0 table can predict w1.2)")
	f.IntSliceVar(&res, "res", nil, "resolutions to precompute (default: the space's and the table's)")
	return c
}

func newPredictorEvalCommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "eval DEVICE.pred.json MEASURED.lut.json",
		Short: "Compare a predictor with whole subnets measured on the device",
		Long: `eval predicts every whole subnet measured in MEASURED.lut.json (for example a
second 'edgefit profile --networks 100 --seed 2' run kept out of fitting) and
prints RMSE, RMSPE, the shares within ±5% and ±10% (nn-Meter's definitions) and
Spearman's rank correlation.`,
		Example: `  edgefit predictor eval local.pred.json heldout.lut.json --json`,
		Args:    argsExactly("DEVICE.pred.json", "MEASURED.lut.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := predictor.LoadLatencyPredictor(args[0])
			if err != nil {
				return withHint(err, "fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
			}
			tbl, err := lut.Load(args[1])
			if err != nil {
				return err
			}
			if len(tbl.Networks) == 0 {
				return withHint(fmt.Errorf("%s holds no measured whole subnets", args[1]), "measure some with 'edgefit profile --networks N'")
			}
			if tbl.Space != p.SpaceName() {
				return fmt.Errorf("%s was measured for %s but the predictor is for %s", args[1], tbl.Space, p.SpaceName())
			}
			m := predictor.Evaluate(p, tbl.Networks)
			if g.JSON {
				return writeJSON(g.io.Out, m)
			}
			return writeKV(g.io.Out, metricRows(m))
		},
	}
	return c
}

// metricRows formats predictor metrics as key/value rows.
func metricRows(m predictor.Metrics) [][]string {
	return [][]string{
		{"subnets", fmt.Sprint(m.N)},
		{"RMSE", fmt.Sprintf("%.3f ms", m.RMSE)},
		{"RMSPE", fmt.Sprintf("%.2f%%", m.RMSPE)},
		{"within ±5%", fmt.Sprintf("%.1f%%", 100*m.Within5)},
		{"within ±10%", fmt.Sprintf("%.1f%%", 100*m.Within10)},
		{"Spearman", predictor.FormatSpearman(m.Spearman)},
	}
}
