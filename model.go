package edgefit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/accuracy"
	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
	"github.com/edgefit/edgefit/supernet/zoo"
)

// ModelSource names where a subnet's space, weights and config come from,
// as the --space, --checkpoint, --config and --res flags of edgefit's
// commands do. Every field may be empty.
type ModelSource struct {
	// Space is a space name, such as "ofa-mbv3-w1.0". It must agree with
	// the checkpoint's and the config's, when they name one.
	Space string
	// Checkpoint is an OFA supernet checkpoint (.pth or .safetensors), or
	// a name from OFA's catalogue that 'edgefit fetch' cached (see
	// [zoo.Resolve]); "" means untrained seeded weights, faithful in
	// latency and memory only.
	Checkpoint string
	// Config is a subnet config file: edgefit's {"ks","e","d","r"} JSON or
	// an OFA net.config.
	Config string
	// Res, when not 0, is the resolution, overriding the config's (an OFA
	// net.config has none, so it needs Res).
	Res int
}

// Model is a resolved [ModelSource]: the space, the config, and the
// checkpoint, which is loaded only when its weights are needed.
type Model struct {
	// Space is the checkpoint's space (width and class count from its
	// tensors), else the space a net.config describes, else the one
	// ModelSource.Space names, else ofa-mbv3-w1.0.
	Space *supernet.Space
	// Config is the subnet of ModelSource.Config, checked against Space
	// at any resolution from 32 to 1024 and canonical; zero without a
	// config.
	Config supernet.Config

	src ModelSource
	ck  *supernet.Checkpoint
}

// DefaultSpace is the space of a [ModelSource] that names none and has no
// checkpoint or config to tell it.
const DefaultSpace = "ofa-mbv3-w1.0"

// checkpointHint is the advice for a checkpoint that cannot be read.
const checkpointHint = "pass an OFA MobileNetV3 supernet (ofa_mbv3_d234_e346_k357_w1.0 or _w1.2; 'edgefit fetch' downloads them)"

// Resolve reads the config, finds the space and checks that the sources
// agree. It reads only the checkpoint's tensor index (see
// [supernet.CheckpointSpace]); [Model.Checkpoint] loads the weights.
// Sources that disagree, and names of nothing known, are [*InputError]s.
func Resolve(src ModelSource) (*Model, error) {
	var cf *supernet.ConfigFile
	if src.Config != "" {
		f, err := readConfig(src.Config, src.Res)
		if err != nil {
			return nil, err
		}
		cf = &f
	}
	var space *supernet.Space
	from := "" // what set space, for errors
	if src.Space != "" {
		s, err := supernet.SpaceByName(src.Space)
		if err != nil {
			return nil, inputErrorf("--space: %v", err)
		}
		space, from = s, "--space says "+s.Name
	}
	if src.Checkpoint != "" {
		path, err := zoo.Resolve(src.Checkpoint, zoo.Options{})
		if err != nil {
			return nil, fmt.Errorf("--checkpoint: %w", err)
		}
		src.Checkpoint = path
		s, err := supernet.CheckpointSpace(src.Checkpoint)
		if err != nil {
			return nil, withHint(err, checkpointHint)
		}
		if space != nil && space.Name != s.Name {
			return nil, inputErrorf("--space %s disagrees with checkpoint %s, which is %s: drop --space or pass the other checkpoint", space.Name, src.Checkpoint, s.Name)
		}
		space, from = s, fmt.Sprintf("--checkpoint %s is %s", src.Checkpoint, s.Name)
	}
	if cf != nil && cf.Space != nil {
		if space != nil && space.Name != cf.Space.Name {
			return nil, withHint(inputErrorf("config %s is for %s, but %s", src.Config, cf.Space.Name, from),
				fmt.Sprintf("pass the %s supernet (or --space %s), or a config selected for %s", cf.Space.Name, cf.Space.Name, space.Name))
		}
		space = cf.Space
	}
	if space == nil {
		space, _ = supernet.SpaceByName(DefaultSpace)
	}
	m := &Model{Space: space, src: src}
	if cf != nil {
		wide, err := validateAnyResolution(space, cf.Config)
		if err != nil {
			return nil, withHint(fmt.Errorf("%s: %w", src.Config, err), configHint(space))
		}
		m.Config = cf.Config.Canonical(wide)
	}
	return m, nil
}

// readConfig reads a subnet config file in either form and applies res.
func readConfig(path string, res int) (supernet.ConfigFile, error) {
	f, err := supernet.LoadConfigFile(path)
	if errors.Is(err, supernet.ErrConfigSyntax) {
		return f, withHint(err, `write it as {"ks":[20 ints],"e":[20 ints],"d":[5 ints],"r":224}, as 'edgefit select' does`)
	}
	if err != nil {
		return f, err
	}
	return f, applyRes(&f, path, res)
}

// applyRes sets the resolution of the config file f, named name, to res
// (--res; 0: keep the file's). An OFA net.config has none of its own, so
// without res it is an [*InputError].
func applyRes(f *supernet.ConfigFile, name string, res int) error {
	if f.NetConfig && res == 0 {
		return inputErrorf("%s is an OFA net.config, which has no resolution: pass --res", name)
	}
	if res != 0 {
		f.Config.R = res
	}
	return nil
}

// configHint is the hint of a config that is not in space.
func configHint(space *supernet.Space) string {
	return "configs for " + space.Name + " have 20 ks in {3,5,7}, 20 e in {3,4,6}, 5 d in {2,3,4}"
}

// validateAnyResolution checks c against s, accepting any resolution from
// 32 to 1024 rather than only the ones the space searches: a user may deploy
// a subnet at a size it was not trained at, as OFA's zoo does.
func validateAnyResolution(s *supernet.Space, c supernet.Config) (*supernet.Space, error) {
	rs := append(append([]int(nil), s.Resolutions...), c.R)
	wide, err := s.WithResolutions(rs)
	if err != nil {
		return nil, fmt.Errorf("subnet config: r = %d: %w", c.R, err)
	}
	if err := wide.Validate(c); err != nil {
		return nil, err
	}
	return wide, nil
}

// CheckpointPath returns the checkpoint's file, a catalogue name resolved
// to its cached copy; "" for an untrained model.
func (m *Model) CheckpointPath() string { return m.src.Checkpoint }

// Untrained reports whether the model has no checkpoint, so that its
// subnets get seeded weights.
func (m *Model) Untrained() bool { return m.src.Checkpoint == "" }

// Checkpoint loads the checkpoint's weights, once; it returns nil for an
// untrained model.
func (m *Model) Checkpoint() (*supernet.Checkpoint, error) {
	if m.ck != nil || m.Untrained() {
		return m.ck, nil
	}
	ck, err := supernet.LoadCheckpoint(m.src.Checkpoint)
	if err != nil {
		return nil, withHint(err, checkpointHint)
	}
	m.ck = ck
	return ck, nil
}

// Build cuts subnet c out of the checkpoint, or initializes it with weights
// seeded by seed when the model has none.
func (m *Model) Build(c supernet.Config, seed uint64) (*supernet.Net, error) {
	ck, err := m.Checkpoint()
	if err != nil {
		return nil, err
	}
	if ck == nil {
		return supernet.Init(m.Space, c, seed), nil
	}
	net, err := supernet.Extract(ck, c)
	if err != nil {
		return nil, fmt.Errorf("extract subnet from %s: %w", m.src.Checkpoint, err)
	}
	return net, nil
}

// predictions is what an exported model's metadata records about it
// (export.Metadata.Predictions): its exact costs and, for a subnet a
// search chose (chosen not nil), the predicted latency and accuracy,
// where the accuracy comes from, and the target it was chosen for.
func predictions(costs supernet.Costs, chosen *search.Candidate, accuracySource, target string) map[string]string {
	p := map[string]string{
		"macs":              strconv.FormatInt(costs.MACs, 10),
		"params":            strconv.FormatInt(costs.Params, 10),
		"peak_memory_bytes": strconv.FormatInt(costs.PeakMemory, 10),
	}
	if chosen != nil {
		p["latency_ms"] = strconv.FormatFloat(chosen.LatencyMS, 'f', 4, 64)
		p["accuracy"] = strconv.FormatFloat(chosen.Accuracy, 'f', 5, 64)
		p["accuracy_source"] = accuracySource
		p["target"] = target
	}
	return p
}

// VerifyTolerance is the tolerance of the one check every model edgefit
// writes goes through ('edgefit export --verify' and 'edgefit run' alike):
// see [export.VerifyTolerance] for the rule.
const VerifyTolerance = export.VerifyTolerance

// checkModel runs the model at path with ONNX Runtime and compares its
// logits with net's forward pass under export's rule
// ([export.Agreement.OK]), on a deterministic random input, or, for a net
// recalibrated on cs, on cs's first images ([accuracy.CalibSet.CheckInput]:
// random pixels are far from what such a net was calibrated for, and its
// small variances amplify rounding there). A model that fails the check,
// or that cannot be checked, is renamed to NAME.unverified.onnx, so that
// nothing left behind passes for a good model, and a [*VerifyError] says
// so.
func checkModel(ctx context.Context, path string, net *supernet.Net, cs *accuracy.CalibSet) (export.Agreement, error) {
	var input []float32 // nil: export.VerifyInput
	var a export.Agreement
	var err error
	if cs != nil {
		input, err = cs.CheckInput(ctx, net.Config.R, accuracy.CheckImages)
	}
	if err == nil {
		a, err = export.CompareFile(ctx, path, net, input)
	}
	if err == nil && a.OK() {
		return a, nil
	}
	ve := &VerifyError{Path: path, MaxAbsDiff: a.MaxAbsDiff, Limit: a.Limit(), Err: err, Renamed: UnverifiedPath(path)}
	if rerr := os.Rename(path, ve.Renamed); rerr != nil {
		ve.Renamed, ve.RenameErr = "", rerr
	}
	return a, ve
}

// UnverifiedPath is where a model that failed its check, or could not be
// checked, is moved: model.onnx becomes model.unverified.onnx.
func UnverifiedPath(path string) string {
	return strings.TrimSuffix(path, ".onnx") + ".unverified.onnx"
}

// ExportOptions say how [Export] writes a model.
type ExportOptions struct {
	Opset       int    // ONNX opset, export.MinOpset..MaxOpset; 0 = export.DefaultOpset
	Seed        uint64 // seed of the untrained weights (without a checkpoint)
	Verify      bool   // run the written model with ONNX Runtime and compare
	ToolVersion string // recorded in the metadata

	// Calib, when set, recalibrates the subnet's BatchNorm statistics on
	// the user's images before BatchNorm is folded, exactly as OFA's
	// set_running_statistics does (see package export/accuracy); the
	// model's metadata records how. Without it the model keeps the
	// supernet's statistics and its metadata says so.
	Calib    *accuracy.CalibOptions
	Progress Progress // reports the recalibration; nil is silent
}

// ExportResult describes a model [Export] wrote; it is what 'edgefit
// export --json' prints.
type ExportResult struct {
	Output     string          `json:"output"`
	Space      string          `json:"space"`
	Config     supernet.Config `json:"config"`
	Checkpoint string          `json:"checkpoint,omitempty"`
	SHA256     string          `json:"checkpoint_sha256,omitempty"`
	Untrained  bool            `json:"untrained"`
	MACs       int64           `json:"macs"`
	Params     int64           `json:"params"`
	PeakMemory int64           `json:"peak_memory_bytes"`
	// BNStatistics says where the folded BatchNorm statistics come from
	// (export.BNRecalibrated, BNSupernet or BNUntrained).
	BNStatistics string                `json:"bn_statistics"`
	Calibration  *accuracy.Calibration `json:"calibration,omitempty"`

	// Verified reports a model that ONNX Runtime ran and that agrees with
	// the subnet; MaxAbsDiff and VerifyLimit say how closely.
	Verified    bool     `json:"verified"`
	MaxAbsDiff  *float64 `json:"verify_max_abs_diff,omitempty"`
	VerifyLimit *float64 `json:"verify_tolerance,omitempty"`
}

// Export writes m's config as an ONNX model at path, BatchNorm folded,
// with its config, the checkpoint's SHA-256 and its costs in the metadata.
// With o.Verify it then checks the file with ONNX Runtime; a model that
// fails the check, or cannot be checked, is renamed (see [UnverifiedPath],
// and the result's Output) and a [*VerifyError] comes with the result.
func Export(ctx context.Context, m *Model, path string, o ExportOptions) (*ExportResult, error) {
	if err := atomicfile.CheckDir(path); err != nil {
		return nil, &InputError{Err: err}
	}
	cs, err := openCalibration(ctx, m, o.Calib)
	if err != nil {
		return nil, err
	}
	costs := m.Space.Costs(m.Config)
	net, err := m.Build(m.Config, o.Seed)
	if err != nil {
		return nil, err
	}
	net, cal, err := calibrate(ctx, net, cs, o.Progress)
	if err != nil {
		return nil, err
	}
	meta := export.Metadata{ToolVersion: o.ToolVersion, Opset: o.Opset, Predictions: predictions(costs, nil, "", ""), Calibration: cal.Metadata()}
	if m.ck != nil {
		meta.CheckpointSHA256 = m.ck.SHA256
	}
	if err := export.WriteFile(path, net, meta); err != nil {
		return nil, err
	}
	res := &ExportResult{Output: path, Space: m.Space.Name, Config: m.Config, Untrained: net.Untrained,
		MACs: costs.MACs, Params: costs.Params, PeakMemory: costs.PeakMemory,
		BNStatistics: bnStatistics(net.Untrained, cal), Calibration: cal}
	if m.ck != nil {
		res.Checkpoint, res.SHA256 = m.src.Checkpoint, m.ck.SHA256
	}
	if !o.Verify {
		return res, nil
	}
	a, err := checkModel(ctx, path, net, cs)
	var ve *VerifyError
	if errors.As(err, &ve) && ve.Err != nil {
		res.Output = ve.Renamed
		return res, err
	}
	limit := a.Limit()
	res.MaxAbsDiff, res.VerifyLimit, res.Verified = &a.MaxAbsDiff, &limit, err == nil
	if err != nil {
		res.Output = ve.Renamed
	}
	return res, err
}
