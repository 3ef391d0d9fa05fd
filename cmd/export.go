package cmd

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/accuracy"
)

func init() { register(newExportCommand) }

// exportOptions are the flags of 'edgefit export'.
type exportOptions struct {
	Checkpoint string
	Config     string
	Space      string
	Res        int
	Output     string
	Verify     bool
	Opset      int
	Seed       uint64
	calib      calibFlags
	SkipBad    bool
}

func newExportCommand(g *globalOptions) *cobra.Command {
	var o exportOptions
	c := &cobra.Command{
		Use:   "export --config subnet.json -o model.onnx",
		Short: "Write a subnet as an ONNX model, optionally checking it with ONNX Runtime",
		Long: `export cuts the subnet named by --config out of an OFA supernet checkpoint
(.pth or .safetensors), folds BatchNorm, and writes it as an ONNX model (opset 17)
with its config, the checkpoint's SHA-256 and any predictions in the metadata.

Without --checkpoint the weights are a deterministic seeded initialization: the
model has the right shape and latency but is untrained, and says so in its
metadata. --verify runs the written model with ONNX Runtime on a deterministic
input and compares it with edgefit's own forward pass of the subnet.

With --calib-data the subnet's BatchNorm statistics are first recalibrated on
your images exactly as OFA's set_running_statistics does (every BatchNorm
normalizes each batch with its own mean and biased variance; the batch means and
variances are averaged weighted by batch size), then folded: the model is the one
OFA would deploy. Its metadata records the image count, the batch size and a
SHA-256 of the ordered image list. Without it the model keeps the supernet's
statistics, a mixture over many subnets and resolutions, and its metadata says
"bn_statistics: supernet (not recalibrated)".`,
		Example: `  edgefit export --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --config subnet.json -o model.onnx --verify
  edgefit export --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --config subnet.json --calib-data train-subset/ -o model.onnx
  edgefit export --space ofa-mbv3-w1.2 --config net.config --res 224 -o untrained.onnx`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, g, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "OFA supernet checkpoint (.pth or .safetensors, or a name 'edgefit fetch' cached: ofa-mbv3-w1.0); omit for untrained weights")
	f.StringVar(&o.Config, "config", "", "subnet config: edgefit's {\"ks\",\"e\",\"d\",\"r\"} JSON or an OFA net.config")
	f.StringVar(&o.Space, "space", "", "search space when no checkpoint is given (ofa-mbv3-w1.0 or ofa-mbv3-w1.2; default w1.0)")
	f.IntVar(&o.Res, "res", 0, "input resolution, overriding the config's r (required for an OFA net.config)")
	f.StringVarP(&o.Output, "output", "o", "", "ONNX file to write")
	f.BoolVar(&o.Verify, "verify", false, "run the written model with ONNX Runtime and compare it with the subnet")
	f.IntVar(&o.Opset, "opset", export.DefaultOpset, "ONNX opset to write (14..21)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the untrained initialization (without --checkpoint)")
	o.calib.AddFlags(f)
	f.BoolVar(&o.SkipBad, "skip-bad-images", false, "leave calibration images that cannot be read out (counted and reported) instead of stopping")
	return c
}

func runExport(cmd *cobra.Command, g *globalOptions, o exportOptions) error {
	if o.Config == "" {
		return usageErrorf("--config is required: give the subnet config written by 'edgefit select'")
	}
	if o.Output == "" {
		return usageErrorf("-o is required: name the ONNX file to write")
	}
	if err := checkOutput("-o", o.Output); err != nil {
		return err
	}
	calib, err := o.calib.options(o.SkipBad)
	if err != nil {
		return err
	}
	m, err := edgefit.Resolve(edgefit.ModelSource{Space: o.Space, Checkpoint: o.Checkpoint, Config: o.Config, Res: o.Res})
	if err != nil {
		return pipelineError(err)
	}
	res, err := edgefit.Export(cmd.Context(), m, o.Output, edgefit.ExportOptions{Opset: o.Opset, Seed: o.Seed, Verify: o.Verify,
		ToolVersion: version(), Calib: calib, Progress: terminal{g}})
	if err != nil {
		if res != nil {
			return withResult(pipelineError(err), res)
		}
		return pipelineError(err)
	}
	if g.JSON {
		return writeJSON(g.io.Out, res)
	}
	return writeKV(g.io.Out, exportRows(res))
}

// exportRows describe an exported model for a person.
func exportRows(res *edgefit.ExportResult) [][]string {
	abs, _ := filepath.Abs(res.Output)
	rows := [][]string{
		{"output", abs},
		{"space", res.Space},
		{"config", res.Config.String()},
		{"MACs", fmt.Sprintf("%.2fM", float64(res.MACs)/1e6)},
		{"params", fmt.Sprintf("%.3fM", float64(res.Params)/1e6)},
		{"peak memory", fmt.Sprintf("%.1f MB", float64(res.PeakMemory)/1e6)},
	}
	if res.Untrained {
		rows = append(rows, []string{"weights", "UNTRAINED (seeded init): latency-faithful only, outputs are meaningless"})
	} else {
		rows = append(rows, []string{"weights", res.Checkpoint + " (sha256 " + res.SHA256[:12] + "…)"})
	}
	rows = append(rows, []string{"BatchNorm statistics", bnRow(res.BNStatistics, res.Calibration)})
	if res.Verified {
		rows = append(rows, []string{"verify", fmt.Sprintf("ONNX Runtime vs edgefit forward pass: max abs diff %.3g (ok, ≤ %.3g)", *res.MaxAbsDiff, *res.VerifyLimit)})
	}
	return rows
}

// bnRow says where a model's BatchNorm statistics come from.
func bnRow(bn string, c *accuracy.Calibration) string {
	if c == nil {
		return bn
	}
	how := "test transform"
	if c.Augment {
		how = fmt.Sprintf("random crops and flips, seed %d", c.Seed)
	}
	s := fmt.Sprintf("recalibrated on %d images of %s (%d batches of %d, %s; list sha256 %.12s…) in %.1f s", c.Images, c.Dir, c.Batches, c.BatchSize, how, c.ListSHA256, c.Seconds)
	if c.Skipped > 0 {
		s += fmt.Sprintf("; %d unreadable images skipped", c.Skipped)
	}
	return s
}
