package supernet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
)

// TestReadStateDict reads tiny state_dicts in every container: names stay
// as saved, float tensors of any width come back as float32 (strided views
// made contiguous), integer tensors are left out.
func TestReadStateDict(t *testing.T) {
	entries := tinyTensors()
	for _, tf := range []torchFile{
		{entries: entries},
		{entries: entries, wrap: true},
		{entries: entries, legacy: true},
		{entries: entries, legacy: true, wrap: true},
	} {
		sd, err := ReadStateDict(tf.bytes(t))
		if err != nil {
			t.Fatalf("legacy=%v wrap=%v: %v", tf.legacy, tf.wrap, err)
		}
		var names []string
		for k := range sd {
			names = append(names, k)
		}
		slices.Sort(names)
		want := []string{"blocks.1.conv.depth_conv.conv.5to3_matrix", "classifier.linear.bias", "first_conv.conv.weight"}
		if !slices.Equal(names, want) {
			t.Fatalf("legacy=%v wrap=%v: tensors %v, want %v (the int64 counter left out)", tf.legacy, tf.wrap, names, want)
		}
		for _, e := range entries {
			if e.dt == dtInt64 {
				continue
			}
			got := sd[e.name]
			if !slices.Equal(got.Shape, e.t.Shape) || !slices.Equal(got.Data, e.t.Data) {
				t.Errorf("%s: got %v %v, want %v %v", e.name, got.Shape, got.Data, e.t.Shape, e.t.Data)
			}
		}
	}
	if sd, err := ReadStateDict(tinySafetensors(t)); err != nil || len(sd) != 2 {
		t.Errorf("safetensors: %d tensors, %v; want the 2 float ones", len(sd), err)
	}
}

func TestReadStateDictRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("not a checkpoint"), "not a state_dict saved by torch.save"},
		{"only ints", torchFile{entries: []torchEntry{{name: "n", t: Tensor{Shape: []int{}, Data: []float32{1}}, dt: dtInt64}}}.bytes(t), "no floating-point tensors"},
	} {
		if _, err := ReadStateDict(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	data := torchFile{entries: tinyTensors()}.bytes(t)
	for n := 0; n < len(data); n += 1 + n/8 {
		if _, err := ReadStateDict(data[:n]); err == nil {
			t.Fatalf("a %d-byte prefix of a %d-byte file was accepted", n, len(data))
		}
	}
	path := filepath.Join(t.TempDir(), "p.pth")
	os.WriteFile(path, []byte("x"), 0o644)
	if _, err := LoadStateDict(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadStateDict error %v does not name the file", err)
	}
}

// TestLooseStateDict: a state_dict that is not a supernet's keeps its
// tensors and drops what is not a tensor named by a string, where the
// supernet's reader refuses the file.
func TestLooseStateDict(t *testing.T) {
	tensor := &rawTensor{st: &storage{dt: dtFloat32, numel: 1, bytes: make([]byte, 4)}, shape: []int{1}}
	d := types.NewDict()
	d.Set("w", tensor)
	d.Set("epoch", 3)
	d.Set(7, tensor)
	raw, err := looseStateDict(d)
	if err != nil || len(raw) != 1 || raw["w"] != tensor {
		t.Errorf("looseStateDict = %v, %v; want only w", raw, err)
	}
	if _, err := stateDict(d); err == nil {
		t.Error("the supernet's reader accepted a non-tensor entry")
	}
	if _, err := looseStateDict(3); err == nil {
		t.Error("an int was taken for a state_dict")
	}
}
