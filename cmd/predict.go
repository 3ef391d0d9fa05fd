package cmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

func init() { register(newPredictCommand) }

// predictOptions are the flags of 'edgefit predict'.
type predictOptions struct {
	Predictor string
	Acc       string
	Config    string
	Res       int
}

func newPredictCommand(g *globalOptions) *cobra.Command {
	var o predictOptions
	c := &cobra.Command{
		Use:   "predict --predictor DEVICE.pred.json --config subnet.json",
		Short: "Predict the latency, accuracy, MACs, parameters and peak memory of given subnets",
		Long: `predict scores subnets you name, the way 'edgefit select' scores those it
searches: latency from the device's predictor, accuracy from --acc (OFA's
predictor .pth, a CSV of measured samples, a fitted .json, or the labelled MACs
proxy without it), and the exact MACs, parameters, weight bytes and peak memory.
The numbers are the ones select reports for the same config.

--config is a file (or - for stdin) holding one config or several: edgefit's
{"space","ks","e","d","r"} JSON (what select -o and run write) or an OFA
net.config, one JSON object after another (JSON lines) or a JSON array of
them. An OFA net.config has no resolution: give it with --res, which sets the
resolution of every config. A config at a resolution beyond those the
predictor's table measured is marked as extrapolated.`,
		Example: `  edgefit predict --predictor note10.pred.json --acc acc_predictor.pth --config subnet.json
  edgefit predict --predictor local.pred.json --config net.config --res 224 --json
  jq -c '.front[].config' subnet.front.json | edgefit predict --predictor local.pred.json --config -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPredict(cmd, g, &o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Predictor, "predictor", "", "latency predictor of the device (from 'edgefit predictor fit')")
	f.StringVar(&o.Acc, "acc", "", "accuracy source, as for 'edgefit select': OFA predictor .pth, a CSV of measured samples, or a fitted .json; default: the MACs proxy, labelled as such")
	f.StringVar(&o.Config, "config", "", "file of subnet configs (one, JSON lines, or a JSON array; edgefit's or OFA net.config); - reads stdin")
	f.IntVar(&o.Res, "res", 0, "input resolution of every config, overriding theirs (required for an OFA net.config)")
	return c
}

func runPredict(cmd *cobra.Command, g *globalOptions, o *predictOptions) error {
	switch {
	case o.Predictor == "":
		return usageErrorf("--predictor is required: fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
	case o.Config == "":
		return usageErrorf("--config is required: a file of subnet configs, or - for stdin")
	case o.Res != 0 && (o.Res < 32 || o.Res > 1024):
		return usageErrorf("--res %d is outside 32..1024", o.Res)
	}
	configs, err := readConfigSources(g, o.Config)
	if err != nil {
		return err
	}
	lat, err := predictor.LoadLatencyPredictor(o.Predictor)
	if err != nil {
		return withHint(err, "fit one with 'edgefit predictor fit DEVICE.lut.json -o DEVICE.pred.json'")
	}
	p, err := edgefit.Predict(cmd.Context(), lat.Space(), lat, o.Acc, configs, o.Res)
	if err != nil {
		return pipelineError(err)
	}
	p.Predictor = o.Predictor
	if g.JSON {
		return writeJSON(g.io.Out, p)
	}
	return printPrediction(g, p)
}

// readConfigSources reads the configs of --config: a file, or stdin for -.
func readConfigSources(g *globalOptions, path string) ([]edgefit.ConfigSource, error) {
	name, in := path, g.io.In
	if path == "-" {
		name = "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read subnet configs: %w", err)
		}
		defer f.Close()
		in = f
	}
	cfs, err := supernet.ReadConfigFiles(name, in)
	if err != nil {
		return nil, withCode(withHint(err, `write each config as {"ks":[20 ints],"e":[20 ints],"d":[5 ints],"r":224}, one a line or in a JSON array`), ExitUsage)
	}
	out := make([]edgefit.ConfigSource, len(cfs))
	for i, cf := range cfs {
		out[i] = edgefit.ConfigSource{Name: name, File: cf}
		if len(cfs) > 1 {
			out[i].Name = fmt.Sprintf("%s#%d", name, i+1)
		}
	}
	return out, nil
}

// printPrediction prints the subnets as select's table, with where each
// config came from.
func printPrediction(g *globalOptions, p *edgefit.Prediction) error {
	cs := make([]search.Candidate, len(p.Subnets))
	for i, s := range p.Subnets {
		cs[i] = s.Candidate
	}
	rows := candidateRows(cs, p.MeasuredResolutions)
	for i := range rows {
		rows[i][0] = p.Subnets[i].Source
	}
	acc := "accuracy"
	if p.AccuracyProxy {
		acc = "proxy score"
	}
	if err := writeTable(g.io.Out, []string{"config", acc, "latency", "memory", "params", "MACs", "r", "ks / e / d"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(g.io.Out, "space %s, latency from %s\naccuracy: %s\n", p.Space, p.Predictor, p.AccuracySource)
	for _, s := range p.Subnets {
		if s.LatencyExtrapolated {
			fmt.Fprintf(g.io.Out, "* latency extrapolated beyond the resolutions the table measured (%v)\n", p.MeasuredResolutions)
			break
		}
	}
	return nil
}
