package export

import (
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/edgefit/edgefit/export/onnxpb"
	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/supernet"
)

// Opsets the writer can target. Every operator it uses (Conv, Relu,
// HardSwish, HardSigmoid, GlobalAveragePool, Mul, Add, Flatten, Gemm) has
// the same meaning from opset 14, where HardSwish appeared, through 21.
const (
	DefaultOpset = 17
	MinOpset     = 14
	MaxOpset     = 21
)

// irVersion returns the ONNX IR version that goes with an opset: 8 up to
// opset 18 (ONNX 1.10-1.13), then 9 and 10 as ONNX released them.
func irVersion(opset int) int64 {
	switch {
	case opset >= 21:
		return 10
	case opset >= 19:
		return 9
	}
	return 8
}

// Metadata keys the writer stores in the model's metadata_props.
const (
	KeySpace            = "edgefit.space"             // space name, such as "ofa-mbv3-w1.0"
	KeyConfig           = "edgefit.config"            // subnet config JSON
	KeyCheckpointSHA256 = "edgefit.checkpoint_sha256" // hex SHA-256 of the checkpoint, or "untrained"
	KeyUntrained        = "edgefit.untrained"         // "true" or "false"
	KeyVersion          = "edgefit.version"           // edgefit's version
	KeyPredictionPrefix = "edgefit.prediction."       // followed by a Metadata.Predictions key

	// KeyBNStatistics says where the BatchNorm statistics folded into the
	// weights come from: BNRecalibrated, BNSupernet or BNUntrained. A
	// recalibrated model also records the KeyCalib* entries.
	KeyBNStatistics    = "edgefit.bn_statistics"
	KeyCalibImages     = "edgefit.calib_images"      // images the statistics were measured on
	KeyCalibBatch      = "edgefit.calib_batch"       // images per batch
	KeyCalibListSHA256 = "edgefit.calib_list_sha256" // SHA-256 of the ordered image list
	KeyCalibTransform  = "edgefit.calib_transform"   // "test" (OFA's test transform) or "augment seed N"
)

// Values of KeyBNStatistics.
const (
	BNRecalibrated = "recalibrated"
	BNSupernet     = "supernet (not recalibrated)"
	BNUntrained    = "untrained (seeded initialization)"
)

// Calibration describes a BatchNorm recalibration for the metadata.
type Calibration struct {
	Images     int
	BatchSize  int
	ListSHA256 string // hex SHA-256 of the ordered list of image paths
	Augment    bool   // training-style crops and flips instead of the test transform
	Seed       uint64 // of the augmentation
}

// Metadata is what [Write] records about a model's origin.
type Metadata struct {
	// CheckpointSHA256 is the hex SHA-256 of the checkpoint the weights came
	// from (supernet.Checkpoint.SHA256). It is required for trained nets
	// and must be empty for untrained ones, which record "untrained".
	CheckpointSHA256 string

	// ToolVersion is edgefit's version; it also becomes the model's
	// producer_version. Empty means "dev".
	ToolVersion string

	// Predictions are free-form figures to keep with the model, such as
	// "latency_ms" or "top1"; each is stored under
	// KeyPredictionPrefix+key.
	Predictions map[string]string

	// Opset is the ONNX opset to write, MinOpset..MaxOpset; 0 means
	// DefaultOpset (17, which Debian's python3-onnx 1.12 checker accepts).
	Opset int

	// Calibration, when set, says that the net's BatchNorm statistics were
	// recalibrated and how; nil means they are the supernet's.
	Calibration *Calibration
}

func (m Metadata) opset() (int, error) {
	if m.Opset == 0 {
		return DefaultOpset, nil
	}
	if m.Opset < MinOpset || m.Opset > MaxOpset {
		return 0, fmt.Errorf("opset %d is not supported: use %d to %d", m.Opset, MinOpset, MaxOpset)
	}
	return m.Opset, nil
}

func (m Metadata) version() string {
	if m.ToolVersion == "" {
		return "dev"
	}
	return m.ToolVersion
}

// Model builds the ONNX model of a subnet: input "input" of shape
// [N, 3, r, r] with a symbolic batch N, output "logits" of shape
// [N, classes]. BatchNorm is folded into the convolutions, so the graph
// holds only Conv, Relu, HardSwish, HardSigmoid, GlobalAveragePool, Mul,
// Add, Flatten and Gemm nodes and no unused initializer.
func Model(net *supernet.Net, meta Metadata) (*onnxpb.ModelProto, error) {
	opset, err := meta.opset()
	if err != nil {
		return nil, err
	}
	units, err := netUnits(net)
	if err != nil {
		return nil, fmt.Errorf("export subnet: %w", err)
	}
	props, err := subnetProps(net, meta)
	if err != nil {
		return nil, err
	}
	r := net.Config.R
	g := graph("edgefit_subnet", units, valueInfo("input", -1, 3, r, r), valueInfo("logits", -1, net.Space.Classes))
	m := newModel(g, opset, meta.version())
	m.DocString = fmt.Sprintf("OFA MobileNetV3 subnet of %s at %dx%d, exported by edgefit", net.Space.Name, r, r)
	m.MetadataProps = props
	return m, nil
}

func newModel(g *onnxpb.GraphProto, opset int, version string) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:       irVersion(opset),
		ProducerName:    "edgefit",
		ProducerVersion: version,
		Graph:           g,
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: "", Version: int64(opset)}},
	}
}

func subnetProps(net *supernet.Net, meta Metadata) ([]*onnxpb.StringStringEntryProto, error) {
	sha := strings.ToLower(meta.CheckpointSHA256)
	switch {
	case net.Untrained && sha != "":
		return nil, fmt.Errorf("network is untrained, but a checkpoint SHA-256 was given: drop one or the other")
	case net.Untrained:
		sha = "untrained"
	case sha == "":
		return nil, fmt.Errorf("no checkpoint SHA-256 given for a trained network: pass supernet.Checkpoint.SHA256 in Metadata")
	default:
		if b, err := hex.DecodeString(sha); err != nil || len(b) != 32 {
			return nil, fmt.Errorf("checkpoint SHA-256 %q is not 64 hex digits", meta.CheckpointSHA256)
		}
	}
	cfg, err := net.Config.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode subnet config: %w", err)
	}
	props := []*onnxpb.StringStringEntryProto{
		{Key: KeySpace, Value: net.Space.Name},
		{Key: KeyConfig, Value: string(cfg)},
		{Key: KeyCheckpointSHA256, Value: sha},
		{Key: KeyUntrained, Value: strconv.FormatBool(net.Untrained)},
		{Key: KeyVersion, Value: meta.version()},
	}
	bn, err := calibProps(net, meta.Calibration)
	if err != nil {
		return nil, err
	}
	props = append(props, bn...)
	keys := make([]string, 0, len(meta.Predictions))
	for k := range meta.Predictions {
		if k == "" {
			return nil, fmt.Errorf("prediction with an empty name: name every prediction")
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		props = append(props, &onnxpb.StringStringEntryProto{Key: KeyPredictionPrefix + k, Value: meta.Predictions[k]})
	}
	return props, nil
}

// BNStatisticsOf says where a model's BatchNorm statistics come from, as
// its KeyBNStatistics metadata records it: BNRecalibrated when they were
// recalibrated, else BNUntrained for untrained weights, else BNSupernet.
func BNStatisticsOf(untrained, recalibrated bool) string {
	switch {
	case recalibrated:
		return BNRecalibrated
	case untrained:
		return BNUntrained
	}
	return BNSupernet
}

func calibProps(net *supernet.Net, c *Calibration) ([]*onnxpb.StringStringEntryProto, error) {
	switch {
	case c == nil:
		return []*onnxpb.StringStringEntryProto{{Key: KeyBNStatistics, Value: BNStatisticsOf(net.Untrained, false)}}, nil
	case c.Images <= 0 || c.BatchSize <= 0:
		return nil, fmt.Errorf("calibration of %d images in batches of %d: both must be positive", c.Images, c.BatchSize)
	}
	if b, err := hex.DecodeString(c.ListSHA256); err != nil || len(b) != 32 {
		return nil, fmt.Errorf("calibration list SHA-256 %q is not 64 hex digits", c.ListSHA256)
	}
	tf := "test"
	if c.Augment {
		tf = fmt.Sprintf("augment seed %d", c.Seed)
	}
	return []*onnxpb.StringStringEntryProto{
		{Key: KeyBNStatistics, Value: BNStatisticsOf(net.Untrained, true)},
		{Key: KeyCalibImages, Value: strconv.Itoa(c.Images)},
		{Key: KeyCalibBatch, Value: strconv.Itoa(c.BatchSize)},
		{Key: KeyCalibListSHA256, Value: c.ListSHA256},
		{Key: KeyCalibTransform, Value: tf},
	}, nil
}

// marshal serializes a model. protobuf-go writes fields in number order
// and this schema has no maps, so equal models give equal bytes.
func marshal(m *onnxpb.ModelProto) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode ONNX model: %w", err)
	}
	return b, nil
}

// Marshal returns the ONNX bytes of a subnet; see [Model].
func Marshal(net *supernet.Net, meta Metadata) ([]byte, error) {
	m, err := Model(net, meta)
	if err != nil {
		return nil, err
	}
	return marshal(m)
}

// Write writes a subnet as an ONNX model to w; see [Model]. The same
// network and metadata always give the same bytes.
func Write(w io.Writer, net *supernet.Net, meta Metadata) error {
	b, err := Marshal(net, meta)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write ONNX model: %w", err)
	}
	return nil
}

// WriteFile writes a subnet's ONNX model to path atomically (see
// internal/atomicfile), with mode 0644. The model is built first, so a
// broken net writes nothing; on any error no file is left behind and an
// existing path is untouched.
func WriteFile(path string, net *supernet.Net, meta Metadata) error {
	b, err := Marshal(net, meta)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}
