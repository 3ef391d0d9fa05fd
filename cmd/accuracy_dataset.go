package cmd

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/export/accuracy"
)

func init() { register(newAccuracyDatasetCommand) }

// accuracyDatasetOptions are the flags of 'edgefit accuracy-dataset'.
type accuracyDatasetOptions struct {
	Checkpoint string
	ValData    string
	Subnets    int
	Res        []int
	Seed       uint64
	Output     string
	calib      calibFlags
	data       dataFlags
}

func newAccuracyDatasetCommand(g *globalOptions) *cobra.Command {
	var o accuracyDatasetOptions
	c := &cobra.Command{
		Use:   "accuracy-dataset --checkpoint X --calib-data D1 --val-data D2 --subnets N -o acc.csv",
		Short: "Measure the accuracy of random subnets on your images, for an accuracy predictor",
		Long: `accuracy-dataset builds what OFA's AccuracyDataset.build_acc_dataset builds, on
your own images: N distinct random subnets of the checkpoint's space (drawn as
OFA's sample_active_subnet draws them, seeded), each measured at every --res:
extracted, its BatchNorm recalibrated on --calib-data as set_running_statistics
does, and evaluated on --val-data (top-1). It writes acc.csv, the format --acc
reads: 'edgefit select --acc acc.csv' then fits a ridge model and OFA's MLP
predictor to it and keeps the better by cross-validated error.

Every measurement is appended to acc.csv.journal (synced to disk) before the
next starts, so a run that is interrupted or killed resumes where it stopped,
measuring nothing twice; run the same command again. A journal made with other
settings is refused. Each folder's images are decoded once per resolution.`,
		Example: `  edgefit accuracy-dataset --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --calib-data calib/ --val-data val/ \
      --subnets 500 --res 160,176,192,208,224 -o acc.csv
  edgefit select --predictor local.pred.json --acc acc.csv --max-latency 15ms -o subnet.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAccuracyDataset(cmd, g, &o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "OFA supernet checkpoint whose subnets are measured")
	f.StringVar(&o.ValData, "val-data", "", "labelled images to measure top-1 on: DIR/<class>/<image>")
	f.IntVar(&o.Subnets, "subnets", 0, "how many distinct random subnets to measure (OFA: 1000)")
	f.IntSliceVar(&o.Res, "res", []int{160, 176, 192, 208, 224}, "resolutions to measure every subnet at")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the subnets drawn")
	f.StringVarP(&o.Output, "output", "o", "", "CSV to write (config,accuracy); its journal is beside it")
	o.calib.AddFlags(f)
	o.data.AddFlags(f)
	return c
}

func runAccuracyDataset(cmd *cobra.Command, g *globalOptions, o *accuracyDatasetOptions) error {
	switch {
	case o.Checkpoint == "":
		return usageErrorf("--checkpoint is required: the supernet whose subnets are measured")
	case o.Subnets <= 0:
		return usageErrorf("--subnets must be at least 1 (OFA measures 1000 per resolution)")
	case o.Output == "":
		return usageErrorf("-o is required: name the CSV to write, such as acc.csv")
	case o.ValData == "":
		return usageErrorf("--val-data is required: a labelled folder, DIR/<class>/<image>")
	case o.calib.Dir == "":
		return usageErrorf("--calib-data is required: images to recalibrate each subnet's BatchNorm on, as OFA does")
	}
	calib, err := o.calib.options(o.data.SkipBad)
	if err != nil {
		return err
	}
	val, err := o.data.options(o.ValData)
	if err != nil {
		return err
	}
	m, err := edgefit.Resolve(edgefit.ModelSource{Checkpoint: o.Checkpoint})
	if err != nil {
		return pipelineError(err)
	}
	ck, err := m.Checkpoint()
	if err != nil {
		return pipelineError(err)
	}
	var bar *progress
	opts := accuracy.DatasetOptions{Subnets: o.Subnets, Resolutions: o.Res, Seed: o.Seed, Calib: *calib, Eval: val, Output: o.Output,
		Progress: func(p accuracy.DatasetProgress) {
			if p.Last == nil {
				if p.Resumed > 0 {
					fmt.Fprintf(g.io.Err, "edgefit: resuming %s: %d of %d measurements done\n", o.Output+accuracy.JournalSuffix, p.Resumed, p.Total)
				}
				bar = g.newProgress(p.Total, "measuring subnets")
			}
			bar.Set(p.Done, p.Total)
			if p.Last != nil {
				g.logger().Debug("measured", "config", p.Last.Config.String(), "top1", p.Last.Top1, "seconds", p.Last.Seconds, "eta", p.ETA.Round(time.Second))
			}
		}}
	res, err := accuracy.BuildDataset(cmd.Context(), ck, opts)
	bar.Done()
	var setup *accuracy.SetupError
	if errors.As(err, &setup) {
		return pipelineError(&edgefit.InputError{Err: err})
	}
	if err != nil {
		return pipelineError(err)
	}
	if g.JSON {
		return writeJSON(g.io.Out, datasetSummary(res, o.Output))
	}
	s := datasetSummary(res, o.Output)
	return writeKV(g.io.Out, [][]string{
		{"written", fmt.Sprintf("%s (%d measurements of %d subnets; journal %s)", s.Output, s.Measurements, s.Subnets, s.Journal)},
		{"resumed", fmt.Sprintf("%d taken from the journal, %d measured now", s.Resumed, s.Measurements-s.Resumed)},
		{"images", fmt.Sprintf("%d calibration, %d evaluation per measurement", s.CalibImages, s.ValImages)},
		{"pace", fmt.Sprintf("%.0f measurements per hour", s.PerHour)},
		{"top-1", fmt.Sprintf("%.4f to %.4f (mean %.4f)", s.MinTop1, s.MaxTop1, s.MeanTop1)},
		{"next", fmt.Sprintf("edgefit select --acc %s ... (fits ridge and OFA's MLP, keeps the better)", s.Output)},
	})
}

// datasetResult is what 'edgefit accuracy-dataset --json' prints.
type datasetResult struct {
	Output       string  `json:"output"`
	Journal      string  `json:"journal"`
	Subnets      int     `json:"subnets"`
	Measurements int     `json:"measurements"`
	Resumed      int     `json:"resumed"`
	CalibImages  int     `json:"calib_images"`
	ValImages    int     `json:"val_images"`
	PerHour      float64 `json:"measurements_per_hour,omitempty"`
	MinTop1      float64 `json:"min_top1"`
	MaxTop1      float64 `json:"max_top1"`
	MeanTop1     float64 `json:"mean_top1"`
}

func datasetSummary(r *accuracy.DatasetResult, out string) datasetResult {
	s := datasetResult{Output: out, Journal: r.Journal, Subnets: len(r.Subnets), Measurements: len(r.Rows), Resumed: r.Resumed,
		CalibImages: r.Calib, ValImages: r.EvalSize, PerHour: r.PerHour, MinTop1: 1}
	for _, row := range r.Rows {
		s.MinTop1, s.MaxTop1 = min(s.MinTop1, row.Top1), max(s.MaxTop1, row.Top1)
		s.MeanTop1 += row.Top1 / float64(len(r.Rows))
	}
	return s
}
