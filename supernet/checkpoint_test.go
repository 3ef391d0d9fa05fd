package supernet

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadFixtureCheckpoint(t *testing.T) {
	ck := fixtureCheckpoint(t)
	raw, err := os.ReadFile(ck.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if ck.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 %s, want %x", ck.SHA256, sum)
	}
	if ck.Format != FormatPyTorchZip {
		t.Errorf("format %q", ck.Format)
	}
	if ck.Space.Name != "ofa-mbv3-w1.0" || ck.Space.Classes != 1000 {
		t.Errorf("space %s with %d classes", ck.Space.Name, ck.Space.Classes)
	}
	// OFA's w1.0 state_dict has 475 entries, 64 of them BN batch counters
	// (docs/ofa-mbv3.md section 2).
	if len(ck.Tensors) != 475-64 {
		t.Errorf("%d tensors, want 411", len(ck.Tensors))
	}
	var params int
	for _, tn := range ck.Tensors {
		if len(tn.Data) != tn.Len() {
			t.Fatalf("shape %v with %d values", tn.Shape, len(tn.Data))
		}
		params += len(tn.Data)
	}
	// 7,678,880 parameters including transform matrices, plus the BN
	// running statistics (2 per BN channel), which are buffers.
	var bnChannels int
	for k, tn := range ck.Tensors {
		if strings.HasSuffix(k, ".running_mean") {
			bnChannels += len(tn.Data)
		}
	}
	if params-2*bnChannels != 7678880 {
		t.Errorf("%d parameters, want 7678880", params-2*bnChannels)
	}
	// The fixture's transform matrices are perturbed away from the
	// identity, which is what makes TestExtractMatchesOFA check them.
	m := ck.Tensors["blocks.1.conv.depth_conv.conv.5to3_matrix"]
	if m.Data[0] == 1 && m.Data[1] == 0 && m.Data[10] == 1 {
		t.Error("5to3 matrix of block 1 is the identity")
	}
}

// writeTemp writes data to a file in a fresh temp dir and returns its path.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sameTensors(t *testing.T, got, want map[string]Tensor, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for _, k := range sortedTensors(want) {
		g, ok := got[k]
		if !ok {
			t.Fatalf("tensor %s missing", k)
		}
		w := want[k]
		if !slices.Equal(g.Shape, w.Shape) {
			t.Fatalf("%s: shape %v, want %v", k, g.Shape, w.Shape)
		}
		for i := range w.Data {
			if d := math.Abs(float64(g.Data[i] - w.Data[i])); d > tol*math.Max(1, math.Abs(float64(w.Data[i]))) {
				t.Fatalf("%s[%d] = %v, want %v", k, i, g.Data[i], w.Data[i])
			}
		}
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	ck := fixtureCheckpoint(t)
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, ck.Tensors, map[string]string{"source": "fixture"}); err != nil {
		t.Fatal(err)
	}
	p := writeTemp(t, "supernet.safetensors", buf.Bytes())
	got, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Format != FormatSafetensors || got.Space.Name != ck.Space.Name || got.Space.Classes != 1000 {
		t.Errorf("format %s space %s classes %d", got.Format, got.Space.Name, got.Space.Classes)
	}
	sameTensors(t, got.Tensors, ck.Tensors, 0)
	if (8+binary.LittleEndian.Uint64(buf.Bytes()))%8 != 0 {
		t.Error("data section not 8-byte aligned")
	}
}

// TestSafetensorsDtypes stores the fixture as F16, BF16 and F64 with
// torch's original key spelling (doubled conv.conv and bn.bn), and BN
// counters as I64.
func TestSafetensorsDtypes(t *testing.T) {
	ck := fixtureCheckpoint(t)
	for _, tc := range []struct {
		name string
		dt   dtype
		tol  float64
	}{{"F16", dtFloat16, 1e-3}, {"BF16", dtBFloat16, 1e-2}, {"F64", dtFloat64, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var entries []stEntry
			for _, k := range sortedTensors(ck.Tensors) {
				tn := ck.Tensors[k]
				entries = append(entries, stEntry{supernetKey(k), tc.name, tn.Shape, encodeElems(tn.Data, tc.dt)})
			}
			entries = append(entries, stEntry{"first_conv.bn.num_batches_tracked", "I64", nil, make([]byte, 8)})
			p := writeTemp(t, "s.safetensors", safetensorsBytes(t, entries, nil))
			got, err := LoadCheckpoint(p)
			if err != nil {
				t.Fatal(err)
			}
			want := ck.Tensors
			if tc.dt == dtFloat16 {
				// Values below half's normal range flush to zero in our
				// encoder; compare with an absolute floor.
				for k, tn := range got.Tensors {
					for i, v := range tn.Data {
						w := want[k].Data[i]
						if math.Abs(float64(v-w)) > 1e-3*math.Max(math.Abs(float64(w)), 1e-1) {
							t.Fatalf("%s[%d] = %v, want %v", k, i, v, w)
						}
					}
				}
				return
			}
			sameTensors(t, got.Tensors, want, tc.tol)
		})
	}
}

// supernetKey turns a canonical key into the spelling OFA's dynamic
// supernet state_dict uses (doubled .conv.conv / .bn.bn in elastic
// blocks).
func supernetKey(k string) string {
	if !strings.HasPrefix(k, "blocks.") || strings.HasPrefix(k, "blocks.0.") {
		return k
	}
	for _, l := range []string{"inverted_bottleneck", "depth_conv", "point_linear"} {
		k = strings.Replace(k, l+".conv.weight", l+".conv.conv.weight", 1)
		k = strings.Replace(k, l+".bn.", l+".bn.bn.", 1)
	}
	return k
}

// TestLegacyKeySpellings loads files whose keys use the older OFA
// spellings: mobile_inverted_conv, single bn, linear.linear, profile
// buffers, DataParallel's module. prefix.
func TestLegacyKeySpellings(t *testing.T) {
	ck := fixtureCheckpoint(t)
	for _, tc := range []struct {
		name string
		key  func(string) string
	}{
		{"mobile_inverted_conv", func(k string) string {
			if !strings.HasPrefix(k, "blocks.") {
				return k
			}
			return strings.Replace(supernetKey(k), ".conv.", ".mobile_inverted_conv.", 1)
		}},
		{"single", func(k string) string { return k }},
		{"linear.linear", func(k string) string { return strings.Replace(k, "classifier.linear.", "classifier.linear.linear.", 1) }},
		{"module", func(k string) string { return "module." + supernetKey(k) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var entries []stEntry
			for _, k := range sortedTensors(ck.Tensors) {
				tn := ck.Tensors[k]
				entries = append(entries, stEntry{tc.key(k), "F32", tn.Shape, encodeElems(tn.Data, dtFloat32)})
			}
			entries = append(entries,
				stEntry{"blocks.3.conv.total_ops", "F64", []int{1}, make([]byte, 8)},
				stEntry{"total_params", "F64", []int{1}, make([]byte, 8)})
			got, err := LoadCheckpoint(writeTemp(t, "legacy.safetensors", safetensorsBytes(t, entries, nil)))
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, got.Tensors, ck.Tensors, 0)
		})
	}
	if got := CanonicalKey("blocks.3.mobile_inverted_conv.depth_conv.conv.conv.weight"); got != "blocks.3.conv.depth_conv.conv.weight" {
		t.Errorf("CanonicalKey = %s", got)
	}
	if got := CanonicalKey("blocks.3.conv.depth_conv.conv.7to5_matrix"); got != "blocks.3.conv.depth_conv.conv.7to5_matrix" {
		t.Errorf("CanonicalKey = %s", got)
	}
}

// TestTorchVariants writes the fixture tensors the ways torch.save does
// and checks each loads to the same tensors.
func TestTorchVariants(t *testing.T) {
	ck := fixtureCheckpoint(t)
	base := func(mod func(k string, e *torchEntry)) []torchEntry {
		var es []torchEntry
		for _, k := range sortedTensors(ck.Tensors) {
			e := torchEntry{name: supernetKey(k), t: ck.Tensors[k]}
			if mod != nil {
				mod(k, &e)
			}
			es = append(es, e)
		}
		return es
	}
	params := func(k string, e *torchEntry) { e.param = true }
	for _, tc := range []struct {
		name   string
		f      torchFile
		format string
		tol    float64
	}{
		{"zip bare dict", torchFile{entries: base(nil)}, FormatPyTorchZip, 0},
		{"zip wrapped", torchFile{entries: base(nil), wrap: true}, FormatPyTorchZip, 0},
		{"zip parameters", torchFile{entries: base(params), wrap: true}, FormatPyTorchZip, 0},
		{"legacy bare dict", torchFile{entries: base(nil), legacy: true}, FormatPyTorchLegacy, 0},
		{"legacy wrapped parameters", torchFile{entries: base(params), wrap: true, legacy: true}, FormatPyTorchLegacy, 0},
		{"zip float64", torchFile{entries: base(func(k string, e *torchEntry) { e.dt = dtFloat64 })}, FormatPyTorchZip, 0},
		{"zip bfloat16", torchFile{entries: base(func(k string, e *torchEntry) { e.dt = dtBFloat16 })}, FormatPyTorchZip, 1e-2},
		{"zip strided", torchFile{entries: base(func(k string, e *torchEntry) {
			// Store 2-D and 4-D weights with padded rows.
			if len(e.t.Shape) >= 2 {
				e.stride = contiguousStrides(e.t.Shape)
				e.stride[0] += 3
			}
		})}, FormatPyTorchZip, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadCheckpoint(writeTemp(t, "x.pth", tc.f.bytes(t)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Format != tc.format {
				t.Errorf("format %s, want %s", got.Format, tc.format)
			}
			sameTensors(t, got.Tensors, ck.Tensors, tc.tol)
		})
	}
}

// TestWidth12AndClasses builds a w1.2 supernet with 10 classes and
// identity transforms, and checks that the loader finds width and class
// count and that extraction crops kernels.
func TestWidth12AndClasses(t *testing.T) {
	s, _ := NewSpace(1.2)
	s.Classes = 10
	rng := newRand(1)
	var entries []stEntry
	tensors := map[string]Tensor{}
	for _, sp := range s.CheckpointTensors() {
		tn := Tensor{Shape: sp.Shape}
		tn.Data = make([]float32, tn.Len())
		if strings.HasSuffix(sp.Name, "_matrix") {
			n := sp.Shape[0]
			for i := range n {
				tn.Data[i*n+i] = 1
			}
		} else {
			for i := range tn.Data {
				tn.Data[i] = float32(rng.NormFloat64())
			}
		}
		tensors[sp.Name] = tn
		entries = append(entries, stEntry{sp.Name, "F32", sp.Shape, encodeElems(tn.Data, dtFloat32)})
	}
	ck, err := LoadCheckpoint(writeTemp(t, "w12.safetensors", safetensorsBytes(t, entries, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Space.Name != "ofa-mbv3-w1.2" || ck.Space.Classes != 10 || ck.Space.FirstConv != 24 {
		t.Fatalf("space %s, %d classes", ck.Space.Name, ck.Space.Classes)
	}
	n, err := Extract(ck, ck.Space.MinConfig(160))
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Classifier.Weight.Shape; !slices.Equal(got, []int{10, 1536}) {
		t.Errorf("classifier %v", got)
	}
	// With identity matrices, K3 is the centre of K7.
	w7 := tensors["blocks.1.conv.depth_conv.conv.weight"].Data
	k3 := n.Blocks[1].Depthwise.Weight.Data
	for r := range 3 {
		for c := range 3 {
			if k3[r*3+c] != w7[(r+2)*7+c+2] {
				t.Fatalf("K3[%d][%d] = %v, want centre of K7 %v", r, c, k3[r*3+c], w7[(r+2)*7+c+2])
			}
		}
	}
	checkNetLayers(t, n)
}

// fixtureEntries returns the fixture as safetensors entries, edited by
// mod (return false to drop an entry).
func fixtureEntries(t *testing.T, mod func(e *stEntry) bool) []stEntry {
	ck := fixtureCheckpoint(t)
	var es []stEntry
	for _, k := range sortedTensors(ck.Tensors) {
		tn := ck.Tensors[k]
		e := stEntry{k, "F32", tn.Shape, encodeElems(tn.Data, dtFloat32)}
		if mod == nil || mod(&e) {
			es = append(es, e)
		}
	}
	return es
}

func TestCheckpointErrors(t *testing.T) {
	fixture, err := os.ReadFile(fixturePath(t, "supernet.pth"))
	if err != nil {
		t.Fatal(err)
	}
	good := safetensorsBytes(t, fixtureEntries(t, nil), nil)
	zipNoPickle := func() []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, _ := zw.Create("model/weights.bin")
		w.Write([]byte("hello"))
		zw.Close()
		return b.Bytes()
	}()
	flipped := bytes.Clone(fixture)
	flipped[len(flipped)/2] ^= 0xff // inside a stored tensor record

	for _, tc := range []struct {
		name string
		data []byte
		is   error
		want []string // substrings of the message, besides the file name
	}{
		{"truncated pth", fixture[:len(fixture)/2], ErrTruncated, nil},
		{"truncated pth tail", fixture[:len(fixture)-100], ErrTruncated, nil},
		{"corrupt pth", flipped, ErrTruncated, []string{"CRC"}},
		{"truncated safetensors", good[:len(good)-1000], ErrTruncated, nil},
		{"text file", []byte("this is not a checkpoint\n"), ErrNotCheckpoint, nil},
		{"empty", nil, ErrNotCheckpoint, nil},
		{"zip without data.pkl", zipNoPickle, ErrNotCheckpoint, nil},
		{"missing key", safetensorsBytes(t, fixtureEntries(t, func(e *stEntry) bool {
			return e.name != "blocks.5.conv.point_linear.bn.running_var"
		}), nil), ErrMissingTensor, []string{"blocks.5.conv.point_linear.bn.running_var"}},
		{"wrong shape", safetensorsBytes(t, fixtureEntries(t, func(e *stEntry) bool {
			if e.name == "blocks.9.conv.inverted_bottleneck.conv.weight" {
				e.shape = []int{120, 80, 1, 1} // same size, other layout
			}
			return true
		}), nil), ErrShape, []string{"blocks.9.conv.inverted_bottleneck.conv.weight", "[120,80,1,1]", "[240,40,1,1]"}},
		{"wrong width", safetensorsBytes(t, fixtureEntries(t, func(e *stEntry) bool {
			if e.name == "first_conv.conv.weight" {
				e.shape = []int{40, 3, 3, 1} // ProxylessNAS w1.3 has 40
				e.data = e.data[:40*9*4]
			}
			return true
		}), nil), ErrWidth, []string{"first_conv.conv.weight", "[40,3,3,1]"}},
		{"w1.2 first conv in a w1.0 file", safetensorsBytes(t, fixtureEntries(t, func(e *stEntry) bool {
			if e.name == "first_conv.conv.weight" {
				e.shape = []int{24, 3, 3, 3}
				e.data = make([]byte, 24*27*4)
			}
			return true
		}), nil), ErrShape, []string{"first_conv.bn.weight", "[16]", "[24]"}},
		{"unexpected key", safetensorsBytes(t, append(fixtureEntries(t, nil), stEntry{"blocks.21.conv.point_linear.conv.weight", "F32", []int{1}, make([]byte, 4)}), nil),
			ErrUnexpectedTensor, []string{"blocks.21.conv.point_linear.conv.weight"}},
		{"int weights", safetensorsBytes(t, fixtureEntries(t, func(e *stEntry) bool {
			if e.name == "classifier.linear.bias" {
				e.dtype = "I32"
			}
			return true
		}), nil), nil, []string{"classifier.linear.bias", "int32"}},
		{"two spellings", safetensorsBytes(t, append(fixtureEntries(t, nil), stEntry{"classifier.linear.linear.bias", "F32", []int{1000}, make([]byte, 4000)}), nil),
			nil, []string{"classifier.linear.bias", "twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, "bad.pth", tc.data)
			_, err := LoadCheckpoint(p)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %q", err, tc.is)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, p) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
	if _, err := LoadCheckpoint(filepath.Join(t.TempDir(), "nope.pth")); err == nil || !strings.Contains(err.Error(), "nope.pth") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSafetensorsBadHeaders(t *testing.T) {
	one := []stEntry{{"a", "F32", []int{2}, make([]byte, 8)}, {"b", "F32", []int{1}, make([]byte, 4)}}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"header past end", func() []byte {
			b := safetensorsBytes(t, one, nil)
			binary.LittleEndian.PutUint64(b, uint64(len(b)))
			return b
		}(), ""},
		{"header not JSON", append(binary.LittleEndian.AppendUint64(nil, 4), []byte("{abc")...), "JSON"},
		{"offsets past data", safetensorsBytes(t, one, func(h map[string]any) {
			h["b"].(map[string]any)["data_offsets"] = []int{8, 16}
		}), "outside"},
		{"offsets reversed", safetensorsBytes(t, one, func(h map[string]any) {
			h["b"].(map[string]any)["data_offsets"] = []int{12, 8}
		}), "outside"},
		{"size mismatch", safetensorsBytes(t, one, func(h map[string]any) {
			h["a"].(map[string]any)["shape"] = []int{3}
		}), "need"},
		{"overlap", safetensorsBytes(t, one, func(h map[string]any) {
			h["b"].(map[string]any)["data_offsets"] = []int{4, 8}
		}), "overlaps"},
		{"negative shape", safetensorsBytes(t, one, func(h map[string]any) {
			h["a"].(map[string]any)["shape"] = []int{-2}
		}), "shape"},
		{"unknown dtype", safetensorsBytes(t, one, func(h map[string]any) {
			h["a"].(map[string]any)["dtype"] = "F8_E4M3"
		}), "dtype"},
		{"unknown field", safetensorsBytes(t, one, func(h map[string]any) {
			h["a"].(map[string]any)["offsets"] = 1
		}), "header entry"},
		{"bad metadata", safetensorsBytes(t, one, func(h map[string]any) {
			h["__metadata__"] = map[string]any{"x": 1}
		}), "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readSafetensors(tc.data)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// A good small file parses.
	m, err := readSafetensors(safetensorsBytes(t, one, nil))
	if err != nil || len(m) != 2 {
		t.Fatalf("small file: %v %v", m, err)
	}
}

func TestHalfToFloat(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, float32(math.Ldexp(1, -24))}, {0x0400, float32(math.Ldexp(1, -14))},
		{0x8000, float32(math.Copysign(0, -1))}, {0x3555, 0.333251953125},
	} {
		if got := halfToFloat(tc.h); got != tc.want || math.Signbit(float64(got)) != math.Signbit(float64(tc.want)) {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if !math.IsInf(float64(halfToFloat(0x7c00)), 1) || !math.IsNaN(float64(halfToFloat(0x7e00))) {
		t.Error("inf/NaN")
	}
}

func BenchmarkLoadCheckpoint(b *testing.B) {
	p := fixturePath(b, "supernet.pth")
	for b.Loop() {
		if _, err := LoadCheckpoint(p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRawTensorViews(t *testing.T) {
	st := &storage{dt: dtFloat32, numel: 6, bytes: encodeElems([]float32{0, 1, 2, 3, 4, 5}, dtFloat32)}
	for _, tc := range []struct {
		name   string
		off    int
		shape  []int
		stride []int
		want   []float32 // nil: must fail
	}{
		{"contiguous", 0, []int{2, 3}, nil, []float32{0, 1, 2, 3, 4, 5}},
		{"transposed", 0, []int{3, 2}, []int{1, 3}, []float32{0, 3, 1, 4, 2, 5}},
		{"offset", 4, []int{2}, []int{1}, []float32{4, 5}},
		{"broadcast", 1, []int{2, 2}, []int{0, 1}, []float32{1, 2, 1, 2}},
		{"scalar", 5, []int{}, []int{}, []float32{5}},
		{"past end", 4, []int{3}, []int{1}, nil},
		{"offset past end", 6, []int{1}, []int{1}, nil},
		{"negative offset", -1, []int{1}, []int{1}, nil},
		{"negative stride", 5, []int{2}, []int{-1}, nil},
		{"overflowing stride", 0, []int{3}, []int{1 << 62}, nil},
		{"overflowing offset", 1 << 62, []int{3}, []int{1 << 62}, nil},
		{"huge broadcast", 0, []int{1 << 20, 1 << 20}, []int{0, 0}, nil},
		{"stride count", 0, []int{2, 3}, []int{1}, nil},
	} {
		got, err := (&rawTensor{st: st, offset: tc.off, shape: tc.shape, stride: tc.stride}).float32s()
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: accepted: %v", tc.name, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}
