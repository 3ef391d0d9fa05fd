package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
)

func init() { register(newEvalCommand) }

// evalOptions are the flags of 'edgefit eval'.
type evalOptions struct {
	Model      string
	Checkpoint string
	Config     string
	Space      string
	Res        int
	Data       string
	data       dataFlags
	calib      calibFlags
}

func newEvalCommand(g *globalOptions) *cobra.Command {
	var o evalOptions
	c := &cobra.Command{
		Use:   "eval (--checkpoint X --config C [--calib-data DIR] | --model M.onnx) --data DIR",
		Short: "Measure top-1 and top-5 accuracy on your own labelled images",
		Long: `eval measures how well a subnet classifies a labelled image folder in ImageNet
layout (DIR/<class>/<image>, JPEG or PNG), preprocessed exactly as OFA's test
transform (shorter side resized to ceil(r/0.875) with PIL's bilinear filter,
centre crop r, ImageNet normalization), and run through ONNX Runtime on this
machine. It prints the images, the top-1 and top-5 hits and fractions, and the
throughput.

Give either an exported model (--model M.onnx), evaluated as it is, or a
subnet cut from a checkpoint (--checkpoint and --config), optionally with its
BatchNorm recalibrated first on --calib-data as OFA's set_running_statistics
does (OFA always recalibrates before it evaluates a subnet).

Class folders named 0, 1, 2, ... are those class indices; otherwise --labels
names them in class order; otherwise, when there are as many folders as the
model has classes, they take sorted order as torchvision's ImageFolder does.`,
		Example: `  edgefit eval --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --config subnet.json --calib-data calib/ --data val/
  edgefit eval --model model.onnx --data val/ --labels classes.txt --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEval(cmd, g, &o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Model, "model", "", "an ONNX model to evaluate as it is (input [N,3,r,r], logits [N,classes])")
	f.StringVar(&o.Checkpoint, "checkpoint", "", "OFA supernet checkpoint to cut the subnet from")
	f.StringVar(&o.Config, "config", "", "subnet config: edgefit's JSON or an OFA net.config")
	f.StringVar(&o.Space, "space", "", "search space, when it must be named (it is read from the checkpoint)")
	f.IntVar(&o.Res, "res", 0, "input resolution, overriding the config's r (required for an OFA net.config)")
	f.StringVar(&o.Data, "data", "", "labelled images: DIR/<class>/<image>")
	o.data.AddFlags(f)
	o.calib.AddFlags(f)
	return c
}

func runEval(cmd *cobra.Command, g *globalOptions, o *evalOptions) error {
	req, err := o.request()
	if err != nil {
		return err
	}
	res, err := edgefit.Evaluate(cmd.Context(), req, terminal{g})
	if err != nil {
		return pipelineError(err)
	}
	if g.JSON {
		return writeJSON(g.io.Out, res)
	}
	return writeKV(g.io.Out, evalRows(res))
}

// request checks the flags and resolves the subnet.
func (o *evalOptions) request() (edgefit.EvalRequest, error) {
	var req edgefit.EvalRequest
	if o.Data == "" {
		return req, usageErrorf("--data is required: a labelled folder, DIR/<class>/<image>")
	}
	data, err := o.data.options(o.Data)
	if err != nil {
		return req, err
	}
	calib, err := o.calib.options(o.data.SkipBad)
	if err != nil {
		return req, err
	}
	req.Data, req.Calib = data, calib
	switch {
	case o.Model != "" && (o.Checkpoint != "" || o.Config != ""):
		return req, usageErrorf("give either --model or --checkpoint with --config, not both")
	case o.Model != "":
		req.ModelFile = o.Model
		return req, nil
	case o.Checkpoint == "" || o.Config == "":
		return req, usageErrorf("give --model M.onnx, or --checkpoint and --config for a subnet of a supernet")
	}
	m, err := edgefit.Resolve(edgefit.ModelSource{Space: o.Space, Checkpoint: o.Checkpoint, Config: o.Config, Res: o.Res})
	if err != nil {
		return req, pipelineError(err)
	}
	req.Model = m
	return req, nil
}

// evalRows describe an evaluation for a person.
func evalRows(r *edgefit.EvalResult) [][]string {
	what := r.Model
	if what == "" && r.Config != nil {
		what = "subnet " + r.Config.String()
	}
	rows := [][]string{
		{"model", what},
		{"data", fmt.Sprintf("%s (%d images, classes by %s)", r.Data, r.Images, r.Labelling)},
		{"resolution", fmt.Sprint(r.Resolution)},
		{"top-1", fmt.Sprintf("%.2f%% (%d of %d)", 100*r.Top1, r.Top1Hits, r.Images)},
		{"top-5", fmt.Sprintf("%.2f%% (%d of %d)", 100*r.Top5, r.Top5Hits, r.Images)},
		{"throughput", fmt.Sprintf("%.0f images/s (%.1f s, decoding included)", r.ImagesPerSecond, r.Seconds)},
	}
	if r.BNStatistics != "" {
		rows = append(rows, []string{"BatchNorm statistics", bnRow(r.BNStatistics, r.Calibration)})
	}
	if r.Skipped > 0 {
		rows = append(rows, []string{"skipped", fmt.Sprintf("%d unreadable images", r.Skipped)})
	}
	return rows
}
