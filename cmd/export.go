package cmd

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/supernet"
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
input and compares it with edgefit's own forward pass of the subnet.`,
		Example: `  edgefit export --checkpoint ofa_mbv3_d234_e346_k357_w1.0 --config subnet.json -o model.onnx --verify
  edgefit export --space ofa-mbv3-w1.2 --config net.config --res 224 -o untrained.onnx`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, g, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "OFA supernet checkpoint (.pth or .safetensors); omit for untrained weights")
	f.StringVar(&o.Config, "config", "", "subnet config: edgefit's {\"ks\",\"e\",\"d\",\"r\"} JSON or an OFA net.config")
	f.StringVar(&o.Space, "space", "", "search space when no checkpoint is given (ofa-mbv3-w1.0 or ofa-mbv3-w1.2; default w1.0)")
	f.IntVar(&o.Res, "res", 0, "input resolution, overriding the config's r (required for an OFA net.config)")
	f.StringVarP(&o.Output, "output", "o", "", "ONNX file to write")
	f.BoolVar(&o.Verify, "verify", false, "run the written model with ONNX Runtime and compare it with the subnet")
	f.IntVar(&o.Opset, "opset", export.DefaultOpset, "ONNX opset to write (14..21)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the untrained initialization (without --checkpoint)")
	return c
}

// exportResult is what 'edgefit export' reports.
type exportResult struct {
	Output     string          `json:"output"`
	Space      string          `json:"space"`
	Config     supernet.Config `json:"config"`
	Checkpoint string          `json:"checkpoint,omitempty"`
	SHA256     string          `json:"checkpoint_sha256,omitempty"`
	Untrained  bool            `json:"untrained"`
	MACs       int64           `json:"macs"`
	Params     int64           `json:"params"`
	PeakMemory int64           `json:"peak_memory_bytes"`
	MaxAbsDiff *float64        `json:"verify_max_abs_diff,omitempty"`
}

// verifyTolerance is the largest difference between ONNX Runtime and
// edgefit's forward pass that --verify accepts; float32 kernels agree to
// about 1e-6 on OFA subnets.
const verifyTolerance = 1e-4

func runExport(cmd *cobra.Command, g *globalOptions, o exportOptions) error {
	if o.Config == "" {
		return usageErrorf("--config is required: give the subnet config written by 'edgefit select'")
	}
	if o.Output == "" {
		return usageErrorf("-o is required: name the ONNX file to write")
	}
	cfgSpace, cfg, err := readSubnetConfig(o.Config, o.Res)
	if err != nil {
		return err
	}
	var space *supernet.Space
	if o.Space != "" {
		if space, err = supernet.SpaceByName(o.Space); err != nil {
			return usageErrorf("--space: %v", err)
		}
	}
	var ck *supernet.Checkpoint
	if o.Checkpoint != "" {
		if ck, err = supernet.LoadCheckpoint(o.Checkpoint); err != nil {
			return withHint(err, "pass an OFA MobileNetV3 supernet (ofa_mbv3_d234_e346_k357_w1.0 or _w1.2; 'edgefit fetch' downloads them)")
		}
		if space != nil && space.Name != ck.Space.Name {
			return usageErrorf("--space %s disagrees with checkpoint %s, which is %s: drop --space or pass the other checkpoint", space.Name, o.Checkpoint, ck.Space.Name)
		}
		space = ck.Space
	}
	if cfgSpace != nil {
		if space != nil && space.Name != cfgSpace.Name {
			return usageErrorf("config %s describes a %s subnet but the export is for %s", o.Config, cfgSpace.Name, space.Name)
		}
		space = cfgSpace
	}
	if space == nil {
		space, _ = supernet.NewSpace(1.0)
	}
	wide, err := validateAnyResolution(space, cfg)
	if err != nil {
		return withHint(fmt.Errorf("%s: %w", o.Config, err), "configs for "+space.Name+" have 20 ks in {3,5,7}, 20 e in {3,4,6}, 5 d in {2,3,4}")
	}
	cfg = cfg.Canonical(wide)

	var net *supernet.Net
	meta := export.Metadata{ToolVersion: version(), Opset: o.Opset}
	if ck != nil {
		if net, err = supernet.Extract(ck, cfg); err != nil {
			return fmt.Errorf("extract subnet from %s: %w", o.Checkpoint, err)
		}
		meta.CheckpointSHA256 = ck.SHA256
	} else {
		net = supernet.Init(wide, cfg, o.Seed)
	}
	costs := wide.Costs(cfg)
	meta.Predictions = map[string]string{
		"macs":              strconv.FormatInt(costs.MACs, 10),
		"params":            strconv.FormatInt(costs.Params, 10),
		"peak_memory_bytes": strconv.FormatInt(costs.PeakMemory, 10),
	}
	if err := export.WriteFile(o.Output, net, meta); err != nil {
		return err
	}
	res := exportResult{Output: o.Output, Space: space.Name, Config: cfg, Untrained: net.Untrained,
		MACs: costs.MACs, Params: costs.Params, PeakMemory: costs.PeakMemory}
	if ck != nil {
		res.Checkpoint, res.SHA256 = o.Checkpoint, ck.SHA256
	}
	if o.Verify {
		d, err := export.VerifyFile(cmd.Context(), o.Output, net, export.VerifyInput(cfg.R))
		if err != nil {
			return withHint(fmt.Errorf("verify %s: %w", o.Output, err), "run 'make ort' or set EDGEFIT_ORT_LIB to an ONNX Runtime 1.24 library")
		}
		res.MaxAbsDiff = &d
		if d > verifyTolerance {
			return withCode(fmt.Errorf("verify %s: ONNX Runtime differs from the subnet by %.3g (tolerance %g): the export is wrong, please report it", o.Output, d, verifyTolerance), ExitMismatch)
		}
	}
	if g.JSON {
		return writeJSON(g.io.Out, res)
	}
	abs, _ := filepath.Abs(o.Output)
	rows := [][]string{
		{"output", abs},
		{"space", res.Space},
		{"config", cfg.String()},
		{"MACs", fmt.Sprintf("%.2fM", float64(costs.MACs)/1e6)},
		{"params", fmt.Sprintf("%.3fM", float64(costs.Params)/1e6)},
		{"peak memory", fmt.Sprintf("%.1f MB", float64(costs.PeakMemory)/1e6)},
	}
	if ck != nil {
		rows = append(rows, []string{"weights", o.Checkpoint + " (sha256 " + ck.SHA256[:12] + "…)"})
	} else {
		rows = append(rows, []string{"weights", "UNTRAINED (seeded init): latency-faithful only, outputs are meaningless"})
	}
	if res.MaxAbsDiff != nil {
		rows = append(rows, []string{"verify", fmt.Sprintf("ONNX Runtime vs edgefit forward pass: max abs diff %.3g (ok, ≤ %g)", *res.MaxAbsDiff, verifyTolerance)})
	}
	return writeKV(g.io.Out, rows)
}
