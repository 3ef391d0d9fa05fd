package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

// saver is what both fitted accuracy models can do.
type saver interface{ Save(path string) error }

func newPredictorFitAccuracyCommand(g *globalOptions) *cobra.Command {
	var (
		out, space string
		folds      int
		seed       uint64
		mo         predictor.MLPFitOptions
	)
	c := &cobra.Command{
		Use:   "fit-accuracy SAMPLES.csv --space SPACE -o ACC.json",
		Short: "Fit an accuracy predictor to measured subnets: ridge or OFA's MLP, whichever cross-validates better",
		Long: `fit-accuracy reads a CSV of subnets whose accuracy you measured (the format of
--acc on 'edgefit select': config,accuracy or ks,e,d,r,accuracy) and fits two
predictors on it: a ridge regression on OFA's one-hot encoding, and OFA's MLP
accuracy predictor (3 hidden layers of 400, Adam with learning rate 1e-3 and
weight decay 1e-4, output offset by the mean accuracy) trained in Go. Both are
scored on the same k-fold cross-validation, and the one with the lower CV RMSE
is written to -o; the report gives both. Below 50 samples only the ridge model
is fitted. Training the MLP takes some seconds per thousand samples and fold.`,
		Example: `  edgefit predictor fit-accuracy measured.csv --space ofa-mbv3-w1.0 -o acc.json
  edgefit select --predictor jetson.pred.json --acc acc.json --max-latency 15ms`,
		Args: argsExactly("SAMPLES.csv"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErrorf("-o is required: name the predictor file to write")
			}
			if err := checkOutput("-o", out); err != nil {
				return err
			}
			if space == "" {
				return usageErrorf("--space is required: the space the subnets were cut from, such as ofa-mbv3-w1.0 or ofa-mbv3-w1.2")
			}
			s, err := supernet.SpaceByName(space)
			if err != nil {
				return usageErrorf("--space: %v", err)
			}
			if mo.WeightDecay == 0 {
				mo.WeightDecay = -1 // the flag's 0 means none; the option's, the default
			}
			prog := g.newProgress(folds+1, "training MLP")
			m, ch, err := predictor.ChooseAccuracyCSV(cmd.Context(), s, args[0], predictor.AccuracyFitOptions{
				Folds: folds, Seed: seed, MLP: mo, Progress: func(done, total int) { prog.Set(done, total) }})
			prog.Done()
			if err != nil {
				return withHint(err, "measure subnets after BN recalibration and list them as config,accuracy (see 'edgefit select --help')")
			}
			if err := m.(saver).Save(out); err != nil {
				return err
			}
			if g.JSON {
				return writeJSON(g.io.Out, struct {
					Output string                    `json:"output"`
					Source string                    `json:"accuracy_source"`
					Choice *predictor.AccuracyChoice `json:"choice"`
				}{out, m.Source(), ch})
			}
			if err := ch.WriteText(g.io.Out); err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "wrote %s\nnext: %s --max-latency 20ms\n", out,
				edgefit.CommandLine("edgefit", "select", "--predictor", "DEVICE.pred.json", "--acc", out))
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&out, "output", "o", "", "predictor file to write (JSON)")
	f.StringVar(&space, "space", "", "space the subnets come from: ofa-mbv3-w1.0 or ofa-mbv3-w1.2")
	f.IntVar(&folds, "folds", 5, "cross-validation folds, the same for both models")
	f.Uint64Var(&seed, "seed", 1, "seed of the folds and of the MLP's weights and batches")
	f.IntVar(&mo.Epochs, "epochs", predictor.MLPEpochs, "MLP training epochs")
	f.IntVar(&mo.BatchSize, "batch-size", predictor.MLPBatchSize, "MLP minibatch size")
	f.Float64Var(&mo.WeightDecay, "weight-decay", predictor.MLPWeightDecay, "MLP Adam weight decay (L2 on the gradient, as OFA's authors use); 0 for none")
	return c
}
