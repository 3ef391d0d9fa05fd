package supernet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Checkpoint is an OFA MobileNetV3 supernet's weights, checked against its
// space. Load one with [LoadCheckpoint] and cut subnets out of it with
// [Extract].
type Checkpoint struct {
	Path   string // the file it was read from
	SHA256 string // hex SHA-256 of the file's bytes, for provenance in exports
	Format string // "pytorch-zip", "pytorch-legacy" or "safetensors"

	// Space is the supernet's space: width and class count come from the
	// tensors themselves (first_conv and classifier shapes).
	Space *Space

	// Tensors holds every supernet tensor by its canonical name (see
	// [CanonicalKey]), as float32. BatchNorm's num_batches_tracked and
	// profiling buffers (total_ops, total_params) are dropped.
	Tensors map[string]Tensor
}

// Checkpoint formats, as recorded in [Checkpoint.Format].
const (
	FormatPyTorchZip    = "pytorch-zip"
	FormatPyTorchLegacy = "pytorch-legacy"
	FormatSafetensors   = "safetensors"
)

// CheckpointError says what is wrong with a checkpoint file: which file,
// which tensor (when one is to blame) and, for a shape mismatch, the shape
// the space expects against the one found.
type CheckpointError struct {
	Path string
	Key  string // the first offending tensor, canonical name; "" for file-level problems
	Want []int  // expected shape, when the problem is a shape
	Got  []int  // shape found
	Err  error
}

func (e *CheckpointError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "load checkpoint %s: ", e.Path)
	if e.Key != "" {
		fmt.Fprintf(&b, "tensor %s: ", e.Key)
	}
	switch {
	case e.Want != nil:
		fmt.Fprintf(&b, "shape %s, want %s: ", shapeString(e.Got), shapeString(e.Want))
	case e.Got != nil:
		fmt.Fprintf(&b, "shape %s: ", shapeString(e.Got))
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *CheckpointError) Unwrap() error { return e.Err }

// Errors a [CheckpointError] can wrap; test for them with errors.Is.
var (
	ErrNotCheckpoint    = errors.New("not a PyTorch checkpoint (.pth zip or legacy pickle) nor a safetensors file: pass the supernet's state_dict file")
	ErrTruncated        = errors.New("the file is truncated or corrupt: download it again")
	ErrMissingTensor    = errors.New("tensor missing: the file is not a complete OFA MobileNetV3 supernet (d234_e346_k357, w1.0 or w1.2)")
	ErrShape            = errors.New("wrong tensor shape: the file is a checkpoint of another architecture or width")
	ErrUnexpectedTensor = errors.New("unexpected tensor: the file is not an OFA MobileNetV3 supernet (static subnets and ProxylessNAS are not supported)")
	ErrWidth            = errors.New("unknown width: OFA MobileNetV3 supernets have a 16-channel (w1.0) or 24-channel (w1.2) first conv")
)

func shapeString(s []int) string {
	if s == nil {
		return "?"
	}
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(p, ",") + "]"
}

// LoadCheckpoint reads an OFA MobileNetV3 supernet from path. It accepts
// PyTorch files written by torch.save (zip format and the legacy pickle
// format), either the state_dict itself or a dict holding it under
// "state_dict", and safetensors files. Key spellings of every OFA release
// are accepted (see [CanonicalKey]). Every tensor the space needs must be
// present with its exact shape; the error is a [*CheckpointError] naming
// the first bad tensor.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	return ReadCheckpoint(path, data)
}

// ReadCheckpoint is [LoadCheckpoint] on bytes already in memory; name is
// used in errors and recorded as the checkpoint's Path. The returned
// tensors do not alias data.
func ReadCheckpoint(name string, data []byte) (*Checkpoint, error) {
	sum := sha256.Sum256(data)
	ck := &Checkpoint{Path: name, SHA256: hex.EncodeToString(sum[:])}
	format, raw, err := readRaw(name, data)
	if err != nil {
		return nil, err
	}
	ck.Format = format
	if err := ck.fill(raw); err != nil {
		err.Path = name
		return nil, err
	}
	return ck, nil
}

// readTensors reads the tensors of a torch.save file (zip or legacy) or a
// safetensors file, returning its format ("" when it is none of them).
// dict turns the unpickled object of a torch file into its tensors: the
// strict stateDict for supernets, looseStateDict for other state_dicts.
func readTensors(data []byte, dict func(any) (map[string]*rawTensor, error)) (string, map[string]*rawTensor, error) {
	var (
		format string
		obj    any
		err    error
	)
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")):
		format = FormatPyTorchZip
		obj, err = unpickleTorchZip(data)
	case isLegacyTorch(data):
		format = FormatPyTorchLegacy
		obj, err = unpickleTorchLegacy(data)
	case isSafetensors(data):
		raw, err := readSafetensors(data)
		return FormatSafetensors, raw, err
	default:
		return "", nil, nil
	}
	if err != nil {
		return format, nil, err
	}
	raw, err := dict(obj)
	return format, raw, err
}

// readRaw recognizes the file's format and reads a supernet's tensor index
// (names, shapes and where each tensor's bytes are, decoding none of
// them). Errors are [*CheckpointError]s naming the file.
func readRaw(name string, data []byte) (string, map[string]*rawTensor, error) {
	format, raw, err := readTensors(data, stateDict)
	if format == "" {
		err = ErrNotCheckpoint
	}
	if err != nil {
		return "", nil, fileError(name, err)
	}
	return format, raw, nil
}

// fileError makes err a [*CheckpointError] naming the file.
func fileError(name string, err error) *CheckpointError {
	var ce *CheckpointError
	if errors.As(err, &ce) {
		ce.Path = name
		return ce
	}
	return &CheckpointError{Path: name, Err: err}
}

// isLegacyTorch reports whether data starts like torch.save's pre-1.6
// format: a pickle (protocol 2) of the magic number 0x1950a86a20f9469cfc6c.
func isLegacyTorch(data []byte) bool {
	return bytes.HasPrefix(data, []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19})
}

// CanonicalKey maps a supernet state_dict key of any OFA release to the
// spelling [Checkpoint.Tensors] uses: ".mobile_inverted_conv." becomes
// ".conv.", and the doubled ".conv.conv.", ".bn.bn." and ".linear.linear."
// of dynamic layers become single, so that
// "blocks.3.mobile_inverted_conv.depth_conv.conv.conv.weight" and
// "blocks.3.conv.depth_conv.conv.weight" name the same tensor. A leading
// "module." (from nn.DataParallel) is dropped.
func CanonicalKey(k string) string {
	k = strings.TrimPrefix(k, "module.")
	k = strings.ReplaceAll(k, ".mobile_inverted_conv.", ".conv.")
	for _, d := range [...]string{"conv", "bn", "linear"} {
		k = strings.ReplaceAll(k, "."+d+"."+d+".", "."+d+".")
		k = strings.ReplaceAll(k, "."+d+"."+d+".", "."+d+".") // "conv.conv.conv" from mixed spellings
	}
	return k
}

// ignoredKey reports whether a state_dict entry carries nothing the
// supernet needs: BN batch counters and the buffers ofa.utils.profile
// leaves behind.
func ignoredKey(k string) bool {
	return strings.HasSuffix(k, ".num_batches_tracked") || strings.HasSuffix(k, "total_ops") || strings.HasSuffix(k, "total_params")
}

// TensorSpec is one tensor a supernet checkpoint must hold.
type TensorSpec struct {
	Name  string // canonical name, as in [Checkpoint.Tensors]
	Shape []int
}

// CheckpointTensors lists every tensor a supernet of space s holds, in
// state_dict order, by canonical name and shape.
func (s *Space) CheckpointTensors() []TensorSpec {
	var out []TensorSpec
	add := func(name string, shape ...int) { out = append(out, TensorSpec{name, shape}) }
	bn := func(prefix string, c int) {
		for _, p := range [...]string{"weight", "bias", "running_mean", "running_var"} {
			add(prefix+".bn."+p, c)
		}
	}
	f := s.FirstConv
	add("first_conv.conv.weight", f, 3, 3, 3)
	bn("first_conv", f)
	add("blocks.0.conv.depth_conv.conv.weight", f, 1, 3, 3)
	bn("blocks.0.conv.depth_conv", f)
	add("blocks.0.conv.point_linear.conv.weight", s.FirstBlock, f, 1, 1)
	bn("blocks.0.conv.point_linear", s.FirstBlock)
	kmax := s.KernelSizes[len(s.KernelSizes)-1]
	for i := range NumBlocks {
		p := "blocks." + strconv.Itoa(i+1) + ".conv."
		in, out, m := s.BlockIn(i), s.BlockOut(i), s.MaxMid(i)
		add(p+"inverted_bottleneck.conv.weight", m, in, 1, 1)
		bn(p+"inverted_bottleneck", m)
		add(p+"depth_conv.conv.weight", m, 1, kmax, kmax)
		for j := len(s.KernelSizes) - 1; j > 0; j-- {
			a, b := s.KernelSizes[j], s.KernelSizes[j-1]
			add(fmt.Sprintf("%sdepth_conv.conv.%dto%d_matrix", p, a, b), b*b, b*b)
		}
		bn(p+"depth_conv", m)
		if s.Stages[i/MaxDepth].SE {
			se := SEChannels(m)
			add(p+"depth_conv.se.fc.reduce.weight", se, m, 1, 1)
			add(p+"depth_conv.se.fc.reduce.bias", se)
			add(p+"depth_conv.se.fc.expand.weight", m, se, 1, 1)
			add(p+"depth_conv.se.fc.expand.bias", m)
		}
		add(p+"point_linear.conv.weight", out, m, 1, 1)
		bn(p+"point_linear", out)
	}
	last := s.Stages[NumStages-1].Width
	add("final_expand_layer.conv.weight", s.FinalExpand, last, 1, 1)
	bn("final_expand_layer", s.FinalExpand)
	add("feature_mix_layer.conv.weight", s.FeatureMix, s.FinalExpand, 1, 1)
	add("classifier.linear.weight", s.Classes, s.FeatureMix)
	add("classifier.linear.bias", s.Classes)
	return out
}

// fill checks the raw tensors against the space they imply and decodes
// them into ck.Tensors.
func (ck *Checkpoint) fill(raw map[string]*rawTensor) *CheckpointError {
	canon, keys, cerr := canonicalTensors(raw)
	if cerr != nil {
		return cerr
	}
	s, cerr := spaceOfTensors(canon)
	if cerr != nil {
		return cerr
	}
	specs := s.CheckpointTensors()
	want := make(map[string]bool, len(specs))
	for _, sp := range specs {
		want[sp.Name] = true
		t, ok := canon[sp.Name]
		if !ok {
			return &CheckpointError{Key: sp.Name, Err: ErrMissingTensor}
		}
		if !slices.Equal(t.shape, sp.Shape) {
			return &CheckpointError{Key: sp.Name, Want: sp.Shape, Got: t.shape, Err: ErrShape}
		}
	}
	for _, k := range keys {
		if c := CanonicalKey(k); !ignoredKey(k) && !want[c] {
			return &CheckpointError{Key: k, Err: ErrUnexpectedTensor}
		}
	}
	ck.Space = s
	ck.Tensors = make(map[string]Tensor, len(specs))
	for _, sp := range specs {
		data, err := canon[sp.Name].float32s()
		if err != nil {
			return &CheckpointError{Key: sp.Name, Err: err}
		}
		ck.Tensors[sp.Name] = Tensor{Shape: sp.Shape, Data: data}
	}
	return nil
}

// dtype is a tensor element type as stored on disk.
type dtype int

const (
	dtFloat32 dtype = iota
	dtFloat16
	dtBFloat16
	dtFloat64
	dtInt64
	dtInt32
	dtInt16
	dtInt8
	dtUint8
	dtBool
)

func (d dtype) size() int {
	switch d {
	case dtFloat64, dtInt64:
		return 8
	case dtFloat32, dtInt32:
		return 4
	case dtFloat16, dtBFloat16, dtInt16:
		return 2
	}
	return 1
}

func (d dtype) isFloat() bool { return d <= dtFloat64 }

func (d dtype) String() string {
	return [...]string{"float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"}[d]
}

// storage is a flat run of little-endian elements. load, when set, fetches
// the bytes on first use so that tensors nobody needs are never read.
type storage struct {
	dt    dtype
	numel int
	bytes []byte
	load  func() ([]byte, error)
}

func (st *storage) data() ([]byte, error) {
	if st.bytes == nil && st.load != nil {
		b, err := st.load()
		if err != nil {
			return nil, err
		}
		if len(b) < st.numel*st.dt.size() {
			return nil, fmt.Errorf("storage holds %d bytes, want %d: %w", len(b), st.numel*st.dt.size(), ErrTruncated)
		}
		st.bytes, st.load = b, nil
	}
	return st.bytes, nil
}

// rawTensor is a view of a storage, as torch's _rebuild_tensor_v2
// describes it (offset and strides in elements; nil stride means
// contiguous).
type rawTensor struct {
	st     *storage
	offset int
	shape  []int
	stride []int
}

// float32s decodes the tensor in row-major order, checking that the view
// stays inside its storage.
func (t *rawTensor) float32s() ([]float32, error) {
	if !t.st.dt.isFloat() {
		return nil, fmt.Errorf("element type %s is not a floating-point type", t.st.dt)
	}
	n := 1
	for _, d := range t.shape {
		if d < 0 || (d > 0 && n > (1<<40)/d) {
			return nil, fmt.Errorf("impossible shape %s", shapeString(t.shape))
		}
		n *= d
	}
	stride := t.stride
	if stride == nil {
		stride = contiguousStrides(t.shape)
	}
	if len(stride) != len(t.shape) {
		return nil, fmt.Errorf("%d strides for a %d-dimensional tensor", len(stride), len(t.shape))
	}
	if n == 0 {
		return []float32{}, nil
	}
	if n > t.st.numel && n > 1<<26 {
		// Only stride-0 (broadcast) views can be larger than their storage;
		// refuse absurd ones rather than allocate them.
		return nil, fmt.Errorf("view of %d elements on a storage of %d", n, t.st.numel)
	}
	if t.offset < 0 || t.offset >= t.st.numel {
		return nil, fmt.Errorf("storage offset %d outside its storage of %d elements: %w", t.offset, t.st.numel, ErrTruncated)
	}
	last := t.offset
	for i, d := range t.shape {
		// Bounding each term by the storage size keeps the sum from
		// overflowing.
		if stride[i] < 0 || (d > 1 && stride[i] > t.st.numel/(d-1)) {
			return nil, fmt.Errorf("stride %d of dimension %d reaches outside its storage of %d elements: %w", stride[i], i, t.st.numel, ErrTruncated)
		}
		last += (d - 1) * stride[i]
	}
	if last >= t.st.numel {
		return nil, fmt.Errorf("view [%d..%d] outside its storage of %d elements: %w", t.offset, last, t.st.numel, ErrTruncated)
	}
	b, err := t.st.data()
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	if slices.Equal(stride, contiguousStrides(t.shape)) {
		decodeFloats(out, b[t.offset*t.st.dt.size():], t.st.dt)
		return out, nil
	}
	// Strided view: walk the index space.
	idx := make([]int, len(t.shape))
	one := make([]float32, 1)
	for j := range out {
		off := t.offset
		for i, v := range idx {
			off += v * stride[i]
		}
		sz := t.st.dt.size()
		decodeFloats(one, b[off*sz:off*sz+sz], t.st.dt)
		out[j] = one[0]
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < t.shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}

func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// decodeFloats fills out from little-endian elements of type dt in b.
func decodeFloats(out []float32, b []byte, dt dtype) {
	switch dt {
	case dtFloat32:
		b = b[:4*len(out)]
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case dtFloat16:
		b = b[:2*len(out)]
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case dtBFloat16:
		b = b[:2*len(out)]
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case dtFloat64:
		b = b[:8*len(out)]
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
}

// halfToFloat converts an IEEE 754 binary16 value exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = frac * 2^-24.
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
