package supernet

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tinyTensors is a small state dict in the supernet's spelling, enough to
// drive every parser path without the 31 MB fixture.
func tinyTensors() []torchEntry {
	return []torchEntry{
		{name: "first_conv.conv.weight", t: Tensor{Shape: []int{2, 3, 1, 1}, Data: []float32{1, 2, 3, 4, 5, 6}}},
		{name: "first_conv.bn.num_batches_tracked", t: Tensor{Shape: []int{}, Data: []float32{7}}, dt: dtInt64},
		{name: "blocks.1.conv.depth_conv.conv.5to3_matrix", t: Tensor{Shape: []int{2, 2}, Data: []float32{1, 0, 0, 1}}, param: true, stride: []int{1, 2}},
		{name: "classifier.linear.bias", t: Tensor{Shape: []int{3}, Data: []float32{0.5, -1, 2}}, dt: dtFloat16},
	}
}

func tinySafetensors(t testing.TB) []byte {
	return safetensorsBytes(t, []stEntry{
		{"first_conv.conv.weight", "F32", []int{2, 3, 1, 1}, encodeElems([]float32{1, 2, 3, 4, 5, 6}, dtFloat32)},
		{"blocks.1.mobile_inverted_conv.depth_conv.bn.bn.weight", "BF16", []int{2}, encodeElems([]float32{1, 2}, dtBFloat16)},
		{"first_conv.bn.num_batches_tracked", "I64", []int{}, make([]byte, 8)},
	}, func(h map[string]any) { h["__metadata__"] = map[string]string{"format": "pt"} })
}

func checkpointSeeds(f *testing.F) {
	f.Add(tinySafetensors(f))
	f.Add(torchFile{entries: tinyTensors()}.bytes(f))
	f.Add(torchFile{entries: tinyTensors(), wrap: true}.bytes(f))
	f.Add(torchFile{entries: tinyTensors(), legacy: true}.bytes(f))
	f.Add(torchFile{entries: tinyTensors(), legacy: true, wrap: true}.bytes(f))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'})
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
}

// FuzzLoadCheckpoint feeds arbitrary files to the loader: it must return
// an error or a checkpoint that satisfies its own space, never panic or
// allocate beyond what the file holds.
func FuzzLoadCheckpoint(f *testing.F) {
	checkpointSeeds(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.pth")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ck, err := LoadCheckpoint(p)
		if err != nil {
			return
		}
		for _, sp := range ck.Space.CheckpointTensors() {
			tn, ok := ck.Tensors[sp.Name]
			if !ok || !slices.Equal(tn.Shape, sp.Shape) || len(tn.Data) != tn.Len() {
				t.Fatalf("loaded checkpoint lacks %s %v", sp.Name, sp.Shape)
			}
		}
	})
}

// FuzzReadSafetensors drives the safetensors parser and decoder directly.
func FuzzReadSafetensors(f *testing.F) {
	f.Add(tinySafetensors(f))
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":1}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := readSafetensors(data)
		if err != nil {
			return
		}
		for _, rt := range m {
			v, err := rt.float32s()
			if err == nil && len(v) != (&Tensor{Shape: rt.shape}).Len() {
				t.Fatalf("decoded %d values for shape %v", len(v), rt.shape)
			}
		}
	})
}

// FuzzTorchPickle puts arbitrary bytes in a torch zip as data.pkl, beside
// two small storages, and decodes whatever tensors come out.
func FuzzTorchPickle(f *testing.F) {
	// Seed with the pickles of real-shaped files.
	for _, tf := range []torchFile{{entries: tinyTensors()[:2]}, {entries: tinyTensors()[:2], wrap: true}} {
		zr, err := zip.NewReader(bytes.NewReader(tf.bytes(f)), int64(len(tf.bytes(f))))
		if err != nil {
			f.Fatal(err)
		}
		for _, rec := range zr.File {
			if filepath.Base(rec.Name) == "data.pkl" {
				b, _ := zipRecord(tf.bytes(f), rec)
				f.Add(bytes.Clone(b))
			}
		}
	}
	f.Fuzz(func(t *testing.T, pkl []byte) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, r := range []struct {
			name string
			data []byte
		}{{"a/data.pkl", pkl}, {"a/data/0", make([]byte, 24)}, {"a/data/1", make([]byte, 8)}} {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: r.name, Method: zip.Store})
			w.Write(r.data)
		}
		zw.Close()
		m, err := readTorchZip(buf.Bytes())
		if err != nil {
			return
		}
		for _, rt := range m {
			rt.float32s()
		}
	})
}

// TestTinyTorchFiles checks the fuzz seeds really parse, tensor by tensor,
// so that fuzzing starts from deep inside the loader.
func TestTinyTorchFiles(t *testing.T) {
	for _, tf := range []torchFile{
		{entries: tinyTensors()},
		{entries: tinyTensors(), wrap: true},
		{entries: tinyTensors(), legacy: true},
		{entries: tinyTensors(), legacy: true, wrap: true},
	} {
		data := tf.bytes(t)
		read := readTorchZip
		if tf.legacy {
			read = readTorchLegacy
		}
		m, err := read(data)
		if err != nil {
			t.Fatalf("legacy=%v wrap=%v: %v", tf.legacy, tf.wrap, err)
		}
		if len(m) != len(tf.entries) {
			t.Fatalf("%d tensors, want %d", len(m), len(tf.entries))
		}
		for _, e := range tf.entries {
			rt := m[e.name]
			if rt == nil || !slices.Equal(rt.shape, e.t.Shape) {
				t.Fatalf("%s: got %v", e.name, rt)
			}
			v, err := rt.float32s()
			if e.dt == dtInt64 {
				if err == nil {
					t.Errorf("%s: int tensor decoded as float", e.name)
				}
				continue
			}
			if err != nil || !slices.Equal(v, e.t.Data) {
				t.Errorf("%s: %v %v, want %v", e.name, v, err, e.t.Data)
			}
		}
		// Every strict prefix of the file is refused, without panicking.
		for n := 0; n < len(data); n += 1 + n/8 {
			if _, err := read(data[:n]); err == nil {
				t.Fatalf("legacy=%v: %d-byte prefix of %d accepted", tf.legacy, n, len(data))
			}
		}
	}
	m, err := readSafetensors(tinySafetensors(t))
	if err != nil || len(m) != 3 {
		t.Fatalf("tiny safetensors: %v %v", m, err)
	}
	if v, err := m["blocks.1.mobile_inverted_conv.depth_conv.bn.bn.weight"].float32s(); err != nil || !slices.Equal(v, []float32{1, 2}) {
		t.Errorf("bf16: %v %v", v, err)
	}
}

// readTorchZip and readTorchLegacy read a supernet's state_dict from one
// torch format, without detecting it, so that a test can feed any bytes to
// either reader.
func readTorchZip(data []byte) (map[string]*rawTensor, error) {
	obj, err := unpickleTorchZip(data)
	if err != nil {
		return nil, err
	}
	return stateDict(obj)
}

func readTorchLegacy(data []byte) (map[string]*rawTensor, error) {
	obj, err := unpickleTorchLegacy(data)
	if err != nil {
		return nil, err
	}
	return stateDict(obj)
}
