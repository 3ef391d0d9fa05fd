package export

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
)

// The fixture (made by upstream OFA with torch) holds, per case, a subnet
// config, an input image and the logits PyTorch computed for it.
type fixtureCase struct {
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config"`
	Input  string          `json:"input"`
	Shape  []int           `json:"input_shape"`
	Logits []float64       `json:"logits"`
	Top5   []int           `json:"top5"`
}

var fixtureOnce struct {
	sync.Once
	dir   string
	cases []fixtureCase
	ck    *supernet.Checkpoint
	err   error
}

// fixture loads the w1.0 checkpoint and reference cases once per test
// binary, or skips when the shared fixtures are absent.
func fixture(t testing.TB) (string, []fixtureCase, *supernet.Checkpoint) {
	t.Helper()
	f := &fixtureOnce
	shared := testfix.Shared(t) // outside Do: a skip there would leave the Once done and empty
	f.Do(func() {
		f.dir = filepath.Join(shared, "fixtures", "ofa-mbv3-w1.0")
		raw, err := os.ReadFile(filepath.Join(f.dir, "reference.json"))
		if err != nil {
			f.err = err
			return
		}
		var ref struct {
			Cases []fixtureCase `json:"cases"`
		}
		if f.err = json.Unmarshal(raw, &ref); f.err != nil {
			return
		}
		f.cases = ref.Cases
		f.ck, f.err = supernet.LoadCheckpoint(filepath.Join(f.dir, "supernet.pth"))
	})
	if os.IsNotExist(f.err) {
		testfix.Need(t, testfix.SharedDir, f.err)
	}
	if f.err != nil {
		t.Fatalf("load fixtures: %v", f.err)
	}
	return f.dir, f.cases, f.ck
}

func readF32(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("%s: %d bytes is not a whole number of float32s", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func top5(logits []float32) []int {
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	return idx[:5]
}

// TestReferenceLogits exports every fixture case from the real supernet,
// runs it with ONNX Runtime on the case's image, and compares with the
// logits upstream OFA computed in PyTorch.
func TestReferenceLogits(t *testing.T) {
	needORT(t)
	dir, cases, ck := fixture(t)
	if len(cases) == 0 {
		t.Fatal("reference.json has no cases")
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg, err := supernet.ParseConfig(ck.Space, c.Config)
			if err != nil {
				t.Fatal(err)
			}
			net, err := supernet.Extract(ck, cfg)
			if err != nil {
				t.Fatal(err)
			}
			model, err := Marshal(net, Metadata{CheckpointSHA256: ck.SHA256, ToolVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			input := readF32(t, filepath.Join(dir, c.Input))
			if want := []int{1, 3, cfg.R, cfg.R}; !slices.Equal(c.Shape, want) || len(input) != 3*cfg.R*cfg.R {
				t.Fatalf("input shape %v with %d values, want %v", c.Shape, len(input), want)
			}
			got, err := RunModel(context.Background(), model, input, 1)
			if err != nil {
				t.Fatal(err)
			}
			ref := make([]float32, len(c.Logits))
			for i, v := range c.Logits {
				ref[i] = float32(v)
			}
			diff := maxAbsDiff(got, ref)
			goDiff, err := Verify(context.Background(), model, net, input)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("r=%d: max |ORT - PyTorch| = %.3g, max |ORT - Go| = %.3g, top5 %v", cfg.R, diff, goDiff, top5(got))
			if diff > 1e-4 {
				t.Errorf("logits differ from PyTorch's by %g > 1e-4", diff)
			}
			if goDiff > 1e-4 {
				t.Errorf("logits differ from the Go forward pass by %g > 1e-4", goDiff)
			}
			if !slices.Equal(top5(got), c.Top5) {
				t.Errorf("top-5 %v, PyTorch's %v", top5(got), c.Top5)
			}
		})
	}
}

// TestInitNetExports checks nets from supernet.Init (untrained, seeded)
// the same way as the random nets of this package.
func TestInitNetExports(t *testing.T) {
	needORT(t)
	for _, name := range []string{"w1.0", "w1.2"} {
		s := space(t, name)
		for _, c := range []supernet.Config{s.MinConfig(160), s.MaxConfig(176)} {
			net := supernet.Init(s, c, 11)
			model, err := Marshal(net, Metadata{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := Forward(net, VerifyInput(c.R))
			if err != nil {
				t.Fatal(err)
			}
			diff, err := Verify(context.Background(), model, net, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tol := tolerance(1e-4, want); diff > tol {
				t.Fatalf("%s %s: ORT and Go differ by %g > %g", name, c, diff, tol)
			}
			t.Logf("%s r=%d: max |ORT - Go| = %.3g, largest |logit| %.3g", name, c.R, diff, tolerance(1, want))
		}
	}
}

// BenchmarkExportFromCheckpoint: extracting the largest subnet from the
// loaded w1.0 checkpoint and serializing it.
func BenchmarkExportFromCheckpoint(b *testing.B) {
	_, _, ck := fixture(b)
	cfg := ck.Space.MaxConfig(224)
	b.ReportAllocs()
	for b.Loop() {
		net, err := supernet.Extract(ck, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Marshal(net, Metadata{CheckpointSHA256: ck.SHA256}); err != nil {
			b.Fatal(err)
		}
	}
}
