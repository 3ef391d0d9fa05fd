package supernet

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCheckpointSpace checks that the cheap read finds the width and class
// count LoadCheckpoint finds, in every format, and refuses what has no
// space with LoadCheckpoint's errors.
func TestCheckpointSpace(t *testing.T) {
	ck := fixtureCheckpoint(t)
	torch := func(legacy bool) []byte {
		var es []torchEntry
		for _, k := range sortedTensors(ck.Tensors) {
			es = append(es, torchEntry{name: supernetKey(k), t: ck.Tensors[k]})
		}
		return torchFile{entries: es, wrap: true, legacy: legacy}.bytes(t)
	}
	w12 := func(classes int) []byte {
		s, _ := NewSpace(1.2)
		s.Classes = classes
		var es []stEntry
		for _, sp := range s.CheckpointTensors() {
			es = append(es, stEntry{sp.Name, "F32", sp.Shape, make([]byte, 4*(&Tensor{Shape: sp.Shape}).Len())})
		}
		return safetensorsBytes(t, es, nil)
	}
	fixture, err := os.ReadFile(fixturePath(t, "supernet.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		space   string
		classes int
		is      error
	}{
		{"fixture zip", fixturePath(t, "supernet.pth"), "ofa-mbv3-w1.0", 1000, nil},
		{"legacy pickle", writeTemp(t, "legacy.pth", torch(true)), "ofa-mbv3-w1.0", 1000, nil},
		{"zip wrapped", writeTemp(t, "wrapped.pth", torch(false)), "ofa-mbv3-w1.0", 1000, nil},
		{"w1.2 safetensors with 10 classes", writeTemp(t, "w12.safetensors", w12(10)), "ofa-mbv3-w1.2", 10, nil},
		{"truncated zip", writeTemp(t, "half.pth", fixture[:len(fixture)/2]), "", 0, ErrTruncated},
		{"text file", writeTemp(t, "notes.pth", []byte("not a checkpoint\n")), "", 0, ErrNotCheckpoint},
		{"no first conv", writeTemp(t, "nofc.safetensors", safetensorsBytes(t, fixtureEntries(t, func(e *stEntry) bool {
			return e.name != "first_conv.conv.weight"
		}), nil)), "", 0, ErrMissingTensor},
		{"ProxylessNAS width", writeTemp(t, "w13.safetensors", safetensorsBytes(t, fixtureEntries(t, func(e *stEntry) bool {
			if e.name == "first_conv.conv.weight" {
				e.shape, e.data = []int{40, 3, 3, 1}, e.data[:40*9*4]
			}
			return true
		}), nil)), "", 0, ErrWidth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := CheckpointSpace(tc.path)
			if tc.is != nil {
				var ce *CheckpointError
				if !errors.Is(err, tc.is) || !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("error %v, want a CheckpointError naming the file and wrapping %v", err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != tc.space || s.Classes != tc.classes {
				t.Errorf("space %s with %d classes, want %s with %d", s.Name, s.Classes, tc.space, tc.classes)
			}
			if full, err := LoadCheckpoint(tc.path); err == nil && (full.Space.Name != s.Name || full.Space.Classes != s.Classes) {
				t.Errorf("LoadCheckpoint finds %s with %d classes", full.Space.Name, full.Space.Classes)
			}
		})
	}
}

// BenchmarkCheckpointSpace reads the fixture's space the cheap way; compare
// with BenchmarkLoadCheckpoint, which decodes and hashes the whole file.
func BenchmarkCheckpointSpace(b *testing.B) {
	p := fixturePath(b, "supernet.pth")
	for b.Loop() {
		if _, err := CheckpointSpace(p); err != nil {
			b.Fatal(err)
		}
	}
}
