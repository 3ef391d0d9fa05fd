package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export/onnxpb"
	"github.com/edgefit/edgefit/supernet"
)

func TestSubnetMatchesForward(t *testing.T) {
	needORT(t)
	rng := rand.New(rand.NewPCG(7, 7))
	type tc struct {
		name string
		s    *supernet.Space
		c    supernet.Config
	}
	w10, w12 := space(t, "w1.0"), space(t, "w1.2")
	cases := []tc{
		{"w1.0-min-128", w10, w10.MinConfig(128)},
		{"w1.2-min-160", w12, w12.MinConfig(160)},
	}
	for i := range 3 {
		c := w10.RandomConfig(rng)
		c.R = []int{132, 144, 176}[i]
		cases = append(cases, tc{fmt.Sprintf("w1.0-random%d-%d", i, c.R), w10, c})
	}
	if !testing.Short() {
		cases = append(cases, tc{"w1.0-max-224", w10, w10.MaxConfig(224)})
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			net := randomNet(t, c.s, c.c, uint64(i))
			model, err := Marshal(net, Metadata{})
			if err != nil {
				t.Fatal(err)
			}
			// Batch 2 exercises the symbolic batch dimension.
			input := append(VerifyInput(c.c.R), VerifyInput(c.c.R + 4)[:3*c.c.R*c.c.R]...)
			want, err := Forward(net, input)
			if err != nil {
				t.Fatal(err)
			}
			diff, err := Verify(context.Background(), model, net, input)
			if err != nil {
				t.Fatal(err)
			}
			tol := tolerance(1e-4, want)
			t.Logf("max |ORT - Go| = %.3g (tolerance %.3g, largest |logit| %.3g)", diff, tol, tolerance(1, want))
			if diff > tol {
				t.Fatalf("ONNX Runtime and the Go forward pass differ by %g > %g", diff, tol)
			}
		})
	}
}

// TestGraphStructure checks the max subnet graph: only the expected
// operators, no BatchNormalization or Identity, every initializer used
// exactly by some node, and the I/O signature.
func TestGraphStructure(t *testing.T) {
	s := space(t, "w1.0")
	net := randomNet(t, s, s.MaxConfig(224), 1)
	b, err := Marshal(net, Metadata{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m := parseModel(t, b)
	if m.IrVersion != 8 || len(m.OpsetImport) != 1 || m.OpsetImport[0].Version != 17 || m.OpsetImport[0].Domain != "" {
		t.Fatalf("ir_version %d, opsets %v; want IR 8 with ai.onnx 17", m.IrVersion, m.OpsetImport)
	}
	g := m.Graph
	counts := opCounts(g)
	t.Logf("max subnet w1.0@224: %d nodes, %d initializers, %d bytes; by op: %s", len(g.Node), len(g.Initializer), len(b), formatCounts(counts))
	allowed := []string{"Conv", "Relu", "HardSwish", "HardSigmoid", "GlobalAveragePool", "Mul", "Add", "Flatten", "Gemm"}
	for op := range counts {
		if !slices.Contains(allowed, op) {
			t.Errorf("unexpected operator %s", op)
		}
	}
	// Counted from the architecture: 1 first conv, 1+20 blocks with 20
	// expand convs and 21 depthwise+project pairs, 11 SE blocks with two
	// convs each, final expand and feature mix.
	layers := s.Layers(net.Config, nil)
	var se, res, expand, blocks int
	for _, l := range layers {
		if l.Kind == supernet.KindBlock {
			blocks++
			se += min(l.SE, 1)
			res += b2i(l.Residual)
			expand += b2i(l.Expand)
		}
	}
	want := map[string]int{
		"Conv":              1 + expand + 2*blocks + 2*se + 2,
		"GlobalAveragePool": se + 1,
		"HardSigmoid":       se,
		"Mul":               se,
		"Add":               res,
		"Flatten":           1,
		"Gemm":              1,
	}
	for op, n := range want {
		if counts[op] != n {
			t.Errorf("%s nodes: %d, want %d", op, counts[op], n)
		}
	}
	checkNoDeadWeight(t, g)
	if in := g.Input; len(in) != 1 || in[0].Name != "input" || shapeOf(in[0]) != "[N 3 224 224]" {
		t.Errorf("graph input %v", in)
	}
	if out := g.Output; len(out) != 1 || out[0].Name != "logits" || shapeOf(out[0]) != "[N 1000]" {
		t.Errorf("graph output %v", out)
	}
	for _, n := range g.Node {
		if n.OpType == "HardSigmoid" {
			var alpha, beta float32
			for _, a := range n.Attribute {
				switch a.Name {
				case "alpha":
					alpha = a.F
				case "beta":
					beta = a.F
				}
			}
			if alpha != float32(1.0/6) || beta != 0.5 {
				t.Fatalf("HardSigmoid alpha %v beta %v, want 1/6 and 1/2", alpha, beta)
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func opCounts(g *onnxpb.GraphProto) map[string]int {
	c := map[string]int{}
	for _, n := range g.Node {
		c[n.OpType]++
	}
	return c
}

func formatCounts(c map[string]int) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s=%d", op, c[op]))
	}
	return strings.Join(parts, " ")
}

func shapeOf(v *onnxpb.ValueInfoProto) string {
	var dims []string
	for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
		if p := d.GetDimParam(); p != "" {
			dims = append(dims, p)
		} else {
			dims = append(dims, fmt.Sprint(d.GetDimValue()))
		}
	}
	return "[" + strings.Join(dims, " ") + "]"
}

// checkNoDeadWeight fails on BatchNormalization or Identity nodes, unused
// or duplicate initializers, and values read before they are produced.
func checkNoDeadWeight(t *testing.T, g *onnxpb.GraphProto) {
	t.Helper()
	inits := map[string]int{}
	for _, in := range g.Initializer {
		if _, dup := inits[in.Name]; dup {
			t.Errorf("initializer %s appears twice", in.Name)
		}
		inits[in.Name] = 0
	}
	known := map[string]bool{}
	for _, in := range g.Input {
		known[in.Name] = true
	}
	for _, n := range g.Node {
		if n.OpType == "BatchNormalization" || n.OpType == "Identity" {
			t.Errorf("node %s is a %s", n.Name, n.OpType)
		}
		for _, in := range n.Input {
			if _, ok := inits[in]; ok {
				inits[in]++
			} else if !known[in] {
				t.Errorf("node %s reads %s before it is produced", n.Name, in)
			}
		}
		for _, o := range n.Output {
			known[o] = true
		}
	}
	for name, uses := range inits {
		if uses == 0 {
			t.Errorf("initializer %s is unused", name)
		}
	}
	for _, o := range g.Output {
		if !known[o.Name] {
			t.Errorf("graph output %s is never produced", o.Name)
		}
	}
}

func TestDeterministic(t *testing.T) {
	s := space(t, "w1.0")
	c := s.RandomConfig(rand.New(rand.NewPCG(3, 4)))
	meta := Metadata{ToolVersion: "v1.2.3", Predictions: map[string]string{"latency_ms": "12.5", "top1": "0.77", "a": "b", "z": "y"}}
	var first []byte
	for i := range 3 {
		var buf bytes.Buffer
		// A fresh net each time: equal weights must give equal bytes
		// regardless of allocation or map order.
		if err := Write(&buf, randomNet(t, s, c, 9), meta); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.Bytes()
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("export %d differs from the first", i)
		}
	}
	other, err := Marshal(randomNet(t, s, c, 10), meta)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, other) {
		t.Fatal("different weights gave identical bytes")
	}
	for _, l := range s.DistinctLayers(160)[:8] {
		a, err1 := LayerModel(l, 1, 5)
		b, err2 := LayerModel(l, 1, 5)
		c, err3 := LayerModel(l, 1, 6)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		if !bytes.Equal(a, b) || bytes.Equal(a, c) {
			t.Fatalf("%s: same seed equal = %v, other seed equal = %v", l.Key(), bytes.Equal(a, b), bytes.Equal(a, c))
		}
	}
}

func TestMetadata(t *testing.T) {
	s := space(t, "w1.2")
	net := randomNet(t, s, s.MinConfig(160), 2)
	b, err := Marshal(net, Metadata{ToolVersion: "v9", Predictions: map[string]string{"latency_ms": "3.5"}})
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	var order []string
	for _, p := range parseModel(t, b).MetadataProps {
		props[p.Key] = p.Value
		order = append(order, p.Key)
	}
	want := map[string]string{
		KeySpace:                           "ofa-mbv3-w1.2",
		KeyConfig:                          net.Config.String(),
		KeyCheckpointSHA256:                "untrained",
		KeyUntrained:                       "true",
		KeyVersion:                         "v9",
		KeyPredictionPrefix + "latency_ms": "3.5",
		KeyBNStatistics:                    "untrained (seeded initialization)",
	}
	if !maps.Equal(props, want) {
		t.Fatalf("metadata %v, want %v", props, want)
	}
	cfg, err := supernet.ParseConfig(s, []byte(props[KeyConfig]))
	if err != nil || cfg != net.Config {
		t.Fatalf("config from metadata: %v, %v", cfg, err)
	}
	got, err := ReadMetadata(b)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("ReadMetadata = %v, %v", got, err)
	}
	_ = order

	// A recalibrated trained net records how; a trained one without
	// calibration says its statistics are the supernet's.
	tr := randomNet(t, s, s.MinConfig(160), 2)
	tr.Untrained = false
	ck := strings.Repeat("cd", 32)
	for _, c := range []struct {
		cal  *Calibration
		want map[string]string
	}{
		{nil, map[string]string{"edgefit.bn_statistics": "supernet (not recalibrated)"}},
		{&Calibration{Images: 2000, BatchSize: 200, ListSHA256: strings.Repeat("0f", 32)}, map[string]string{
			"edgefit.bn_statistics": "recalibrated", "edgefit.calib_images": "2000", "edgefit.calib_batch": "200",
			"edgefit.calib_list_sha256": strings.Repeat("0f", 32), "edgefit.calib_transform": "test"}},
		{&Calibration{Images: 10, BatchSize: 3, ListSHA256: strings.Repeat("0f", 32), Augment: true, Seed: 7}, map[string]string{
			"edgefit.bn_statistics": "recalibrated", "edgefit.calib_images": "10", "edgefit.calib_batch": "3",
			"edgefit.calib_list_sha256": strings.Repeat("0f", 32), "edgefit.calib_transform": "augment seed 7"}},
	} {
		b, err := Marshal(tr, Metadata{CheckpointSHA256: ck, Calibration: c.cal})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := ReadMetadata(b)
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("calibration %+v: %s = %q, want %q", c.cal, k, got[k], v)
			}
		}
		if c.cal == nil && got["edgefit.calib_images"] != "" {
			t.Error("a model without calibration records calibration entries")
		}
	}
	if _, err := Marshal(tr, Metadata{CheckpointSHA256: ck, Calibration: &Calibration{Images: 1, BatchSize: 1, ListSHA256: "nope"}}); err == nil {
		t.Error("a calibration list digest that is not a SHA-256 was accepted")
	}

	trained := randomNet(t, s, s.MinConfig(160), 2)
	trained.Untrained = false
	sha := strings.Repeat("ab", 32)
	for _, c := range []struct {
		net  *supernet.Net
		meta Metadata
		err  string
	}{
		{trained, Metadata{}, "no checkpoint SHA-256"},
		{trained, Metadata{CheckpointSHA256: "xyz"}, "not 64 hex digits"},
		{net, Metadata{CheckpointSHA256: sha}, "untrained"},
		{net, Metadata{Predictions: map[string]string{"": "1"}}, "empty name"},
		{net, Metadata{Opset: 13}, "opset 13"},
		{trained, Metadata{CheckpointSHA256: sha}, ""},
	} {
		_, err := Marshal(c.net, c.meta)
		if c.err == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.meta, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: got %v, want an error mentioning %q", c.meta, err, c.err)
		}
	}
}

func TestOpsets(t *testing.T) {
	needORT(t)
	s := space(t, "w1.0")
	net := randomNet(t, s, s.MinConfig(128), 4)
	for opset := MinOpset; opset <= MaxOpset; opset++ {
		b, err := Marshal(net, Metadata{Opset: opset})
		if err != nil {
			t.Fatal(err)
		}
		diff, err := Verify(context.Background(), b, net, nil)
		if err != nil {
			t.Fatalf("opset %d: %v", opset, err)
		}
		if diff > 1e-4 {
			t.Fatalf("opset %d: diff %g", opset, diff)
		}
	}
}

func TestMalformedNet(t *testing.T) {
	s := space(t, "w1.0")
	good := func() *supernet.Net { return randomNet(t, s, s.MinConfig(128), 1) }
	cases := []struct {
		name   string
		mutate func(n *supernet.Net)
		want   string
	}{
		{"no space", func(n *supernet.Net) { n.Space = nil }, "no space"},
		{"bad config", func(n *supernet.Net) { n.Config.R = 20 }, "outside"},
		{"bad kernel", func(n *supernet.Net) { n.Config.KS[0] = 4 }, "ks[0]"},
		{"missing block", func(n *supernet.Net) { n.Blocks = n.Blocks[:3] }, "blocks"},
		{"bad shape", func(n *supernet.Net) { n.Blocks[2].Project.Weight.Shape[1]++ }, "project: weight has shape"},
		{"short data", func(n *supernet.Net) { n.FirstConv.Weight.Data = n.FirstConv.Weight.Data[1:] }, "first conv"},
		{"short BN", func(n *supernet.Net) { n.FinalExpand.BN.Var = n.FinalExpand.BN.Var[1:] }, "running_var"},
		{"NaN", func(n *supernet.Net) { n.Classifier.Bias[3] = float32(nanf()) }, "NaN"},
		{"negative var", func(n *supernet.Net) { n.Blocks[1].Depthwise.BN.Var[0] = -1 }, "non-positive"},
		{"wrong act", func(n *supernet.Net) { n.Blocks[1].Depthwise.Act = supernet.ActHSwish }, "activation"},
		{"wrong stride", func(n *supernet.Net) { n.Blocks[1].Depthwise.Stride = 1 }, "stride"},
		{"missing SE", func(n *supernet.Net) { n.Blocks[3].SE = nil }, "squeeze-excite"},
		{"mix bias", func(n *supernet.Net) { n.FeatureMix.Bias = make([]float32, 1280) }, "has a bias"},
	}
	for _, c := range cases {
		n := good()
		c.mutate(n)
		_, err := Marshal(n, Metadata{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
		}
		if _, err := Forward(n, VerifyInput(128)); err == nil {
			t.Errorf("%s: Forward accepted the broken net", c.name)
		}
	}
	if _, err := Forward(good(), make([]float32, 5)); err == nil {
		t.Error("Forward accepted a short input")
	}
}

func nanf() float64 {
	var zero float64
	return zero / zero
}

func TestCompareFile(t *testing.T) {
	needORT(t)
	s := space(t, "w1.0")
	net := randomNet(t, s, s.MinConfig(128), 1)
	path := filepath.Join(t.TempDir(), "net.onnx")
	if err := WriteFile(path, net, Metadata{}); err != nil {
		t.Fatal(err)
	}
	if a, err := CompareFile(context.Background(), path, net, nil); err != nil || a.MaxAbsDiff > 1e-4 {
		t.Fatalf("CompareFile = %g, %v", a.MaxAbsDiff, err)
	}
	if _, err := CompareFile(context.Background(), path+".missing", net, nil); err == nil {
		t.Fatal("CompareFile of a missing file succeeded")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	s := space(t, "w1.0")
	net := randomNet(t, s, s.MinConfig(128), 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "net.onnx")
	if err := WriteFile(path, net, Metadata{}); err != nil {
		t.Fatal(err)
	}
	want, _ := Marshal(net, Metadata{})
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file content differs from Marshal (%v)", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("written file mode %v (%v), want 0644", fi.Mode(), err)
	}
	// A failing export must leave the previous file untouched.
	bad := randomNet(t, s, s.MinConfig(128), 1)
	bad.Blocks = nil
	if err := WriteFile(path, bad, Metadata{}); err == nil {
		t.Fatal("WriteFile of a broken net succeeded")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatal("failed export changed the existing file")
	}

	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing", "net.onnx"), "does not exist"},
		// Tests may run as root, which ignores permission bits, so make
		// the directory unusable by placing it under a regular file.
		{filepath.Join(file, "net.onnx"), "not a directory"},
		{filepath.Join(file, "sub", "net.onnx"), "not a directory"},
	} {
		err := WriteFile(c.path, net, Metadata{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.path, err, c.want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"net.onnx", "plain-file"}) {
		t.Fatalf("directory holds %v, want only net.onnx and plain-file (no temp files)", names)
	}
}

// TestVerifyDetectsMismatch shows that Verify's comparison has teeth: a
// model whose weights or operator constants drift from the net is caught.
func TestVerifyDetectsMismatch(t *testing.T) {
	needORT(t)
	s := space(t, "w1.0")
	c := s.MinConfig(128)
	net := randomNet(t, s, c, 5)
	model, err := Marshal(net, Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if d, err := Verify(ctx, model, net, nil); err != nil || d > 1e-5 {
		t.Fatalf("faithful model: diff %g, %v", d, err)
	}

	// A BatchNorm statistic the model does not have.
	drift := randomNet(t, s, c, 5)
	drift.Blocks[3].Project.BN.Mean[0] += 0.5
	if d, err := Verify(ctx, model, drift, nil); err != nil || d < 1e-4 {
		t.Errorf("changed running mean: diff %g, %v; want a large diff", d, err)
	}

	// ONNX's default HardSigmoid alpha (0.2) instead of PyTorch's 1/6.
	m := parseModel(t, model)
	patched := 0
	for _, n := range m.Graph.Node {
		if n.OpType == "HardSigmoid" {
			n.Attribute = slices.DeleteFunc(n.Attribute, func(a *onnxpb.AttributeProto) bool { return a.Name == "alpha" })
			patched++
		}
	}
	if patched == 0 {
		t.Fatal("min subnet has no HardSigmoid")
	}
	wrong, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Verify(ctx, wrong, net, nil); err != nil || d < 1e-4 {
		t.Errorf("HardSigmoid with default alpha: diff %g, %v; want a visible diff", d, err)
	} else {
		t.Logf("default HardSigmoid alpha shifts logits by %.3g", d)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Verify(cancelled, model, net, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Verify: %v", err)
	}
	if _, err := Verify(ctx, model, net, make([]float32, 7)); err == nil {
		t.Error("Verify accepted an input of the wrong size")
	}
	if _, err := Verify(ctx, []byte("not onnx"), net, nil); err == nil {
		t.Error("Verify accepted garbage bytes")
	}
}
