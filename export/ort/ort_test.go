package ort

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/testfix"
)

// The tests build their model by hand, field by field in protobuf wire
// format (the helpers are in probe.go), so that this package stays free of
// edgefit's own ONNX writer.

// tinyModel computes y = Relu(x) * w for x of shape [N, 4] and the
// initializer w = {1, 2, 3, 4}.
func tinyModel() []byte {
	var raw []byte
	for _, v := range []float32{1, 2, 3, 4} {
		raw = protowire.AppendFixed32(raw, math.Float32bits(v))
	}
	w := msg(fInt(1, 4), fInt(2, 1), fString(8, "w"), fBytes(9, raw))
	relu := msg(fString(1, "x"), fString(2, "r"), fString(3, "relu"), fString(4, "Relu"))
	mul := msg(fString(1, "r"), fString(1, "w"), fString(2, "y"), fString(3, "mul"), fString(4, "Mul"))
	graph := msg(fBytes(1, relu), fBytes(1, mul), fString(2, "tiny"), fBytes(5, w),
		fBytes(11, msg(fString(1, "x"), fBytes(2, tensorType(-1, 4)))),
		fBytes(12, msg(fString(1, "y"), fBytes(2, tensorType(-1, 4)))))
	return msg(fInt(1, 8), fString(2, "edgefit-test"), fBytes(7, graph), fBytes(8, fInt(2, 17)))
}

func initForTest(t testing.TB) {
	t.Helper()
	testfix.Need(t, testfix.ORT, Init(""))
}

func TestInitIdempotentAndVersion(t *testing.T) {
	initForTest(t)
	if err := Init(""); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	if err := Init(LibraryPath()); err != nil {
		t.Fatalf("Init with the loaded path: %v", err)
	}
	v := Version()
	if !strings.HasPrefix(v, "1.") {
		t.Fatalf("Version() = %q", v)
	}
	t.Logf("ONNX Runtime %s from %s", v, LibraryPath())
	other := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(other, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Init(other); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Fatalf("Init with another library: got %v, want an 'already loaded' error", err)
	}
}

func TestAvailableProviders(t *testing.T) {
	initForTest(t)
	ps, err := AvailableProviders()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("providers: %v", ps)
	found := false
	for _, p := range ps {
		found = found || p == "CPUExecutionProvider"
	}
	if !found {
		t.Fatalf("CPUExecutionProvider missing from %v", ps)
	}
}

func TestRunTinyModel(t *testing.T) {
	initForTest(t)
	model := tinyModel()
	for _, batch := range []int{1, 3} {
		s, err := Open(model, Options{IntraOpThreads: 1, Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.InputShape(0); got[0] != int64(batch) || got[1] != 4 {
			t.Fatalf("input shape %v, want [%d 4]", got, batch)
		}
		in := make([]float32, 4*batch)
		for i := range in {
			in[i] = float32(i) - 2
		}
		outs, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range outs[0] {
			want := max(in[i], 0) * float32(i%4+1)
			if v != want {
				t.Fatalf("batch %d: y[%d] = %v, want %v", batch, i, v, want)
			}
		}
		// The in-place path must see the same numbers.
		copy(s.Input(0), in)
		clear(s.Output(0))
		if err := s.RunInPlace(); err != nil {
			t.Fatal(err)
		}
		for i, v := range s.Output(0) {
			if v != outs[0][i] {
				t.Fatalf("RunInPlace y[%d] = %v, Run gave %v", i, v, outs[0][i])
			}
		}
		if _, err := s.Run(in[:3]); err == nil {
			t.Fatal("Run with a short input succeeded")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := s.RunInPlace(); err == nil {
			t.Fatal("RunInPlace after Close succeeded")
		}
	}
}

func TestOpenFileAndOptions(t *testing.T) {
	initForTest(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.onnx")
	if err := os.WriteFile(path, tinyModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, g := range []GraphOptimization{OptimizeAll, OptimizeExtended, OptimizeBasic, OptimizeNone} {
		s, err := OpenFile(path, Options{IntraOpThreads: 1, InterOpThreads: 1, GraphOptimization: g, ExecutionProvider: "cpu",
			ProfilePrefix: filepath.Join(dir, "prof-"+g.String())})
		if err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		if _, err := s.Run([]float32{1, -1, 2, -2}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s.ProfileFile() == "" {
			t.Errorf("%v: no profile written under %s", g, dir)
		}
	}
	if _, err := OpenFile(filepath.Join(dir, "missing.onnx"), Options{}); err == nil {
		t.Fatal("OpenFile of a missing model succeeded")
	}
	if _, err := Open([]byte("garbage"), Options{}); err == nil {
		t.Fatal("Open of garbage succeeded")
	}
	if _, err := Open(tinyModel(), Options{InputShapes: map[string][]int64{"nope": {1}}}); err == nil {
		t.Fatal("Open with a shape for an unknown input succeeded")
	}
	if _, err := ParseGraphOptimization("fastest"); err == nil {
		t.Fatal("ParseGraphOptimization accepted nonsense")
	}
}

func TestMissingProvider(t *testing.T) {
	initForTest(t)
	have, err := AvailableProviders()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(tinyModel(), Options{ExecutionProvider: "warp-drive"}); err == nil || !strings.Contains(err.Error(), "xnnpack") {
		t.Fatalf("unknown provider: got %v, want a list of known ones", err)
	}
	tested := 0
	for _, key := range ortlib.ProviderNames() {
		name := ortlib.Providers[key]
		if key == "cpu" || contains(have, name) {
			continue
		}
		tested++
		_, err := Open(tinyModel(), Options{ExecutionProvider: key})
		var pe *ProviderError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: got %v, want a *ProviderError", key, err)
		}
		if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "CPUExecutionProvider") {
			t.Fatalf("%s: error %q should name %s and what the library offers", key, err, name)
		}
	}
	if tested == 0 {
		t.Skipf("the library has every provider edgefit knows (%v)", have)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRunContextCancelled(t *testing.T) {
	initForTest(t)
	s, err := Open(tinyModel(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.RunContext(ctx, make([]float32, 4)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: got %v", err)
	}
	if _, err := s.Run(make([]float32, 4)); err != nil {
		t.Fatalf("run after a cancelled one: %v", err)
	}
}

func BenchmarkRunInPlaceTiny(b *testing.B) {
	initForTest(b)
	s, err := Open(tinyModel(), Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.RunInPlace(); err != nil {
			b.Fatal(err)
		}
	}
}
