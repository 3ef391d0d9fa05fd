package export

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export/onnxpb"
	"github.com/edgefit/edgefit/supernet"
)

// TestLayerModelsMatchForward runs every distinct layer of both spaces at
// one resolution through ONNX Runtime at batch 2 and compares with the Go
// forward pass of the same weights.
func TestLayerModelsMatchForward(t *testing.T) {
	needORT(t)
	for _, c := range []struct {
		space string
		r     int
	}{{"w1.0", 128}, {"w1.2", 160}} {
		s := space(t, c.space)
		layers := s.DistinctLayers(c.r)
		if len(layers) != 96 {
			t.Fatalf("%s@%d: %d distinct layers, want 96", c.space, c.r, len(layers))
		}
		kinds := map[supernet.LayerKind]int{}
		for _, l := range layers {
			kinds[l.Kind]++
			model, err := LayerModel(l, 2, 42)
			if err != nil {
				t.Fatal(err)
			}
			m := parseModel(t, model)
			checkNoDeadWeight(t, m.Graph)
			in := LayerInputShape(l, 2)
			if got := shapeOf(m.Graph.Input[0]); got != dimsString(in) {
				t.Fatalf("%s: input %s, want %s", l.Key(), got, dimsString(in))
			}
			x := uniform(rand.New(rand.NewPCG(1, 2)), int(prod(in)), -2.5, 2.5)
			got, err := RunModel(context.Background(), model, x, 2)
			if err != nil {
				t.Fatalf("%s: %v", l.Key(), err)
			}
			want, err := LayerForward(l, 42, x)
			if err != nil {
				t.Fatalf("%s: %v", l.Key(), err)
			}
			out := LayerOutputShape(l, 2)
			if n := int(prod(out)); len(got) != n || len(want) != n {
				t.Fatalf("%s: ORT gave %d values, Go %d, want %d (%v)", l.Key(), len(got), len(want), n, out)
			}
			if d, tol := maxAbsDiff(got, want), tolerance(1e-5, want); d > tol {
				t.Fatalf("%s: ORT and Go differ by %g > %g", l.Key(), d, tol)
			}
		}
		t.Logf("%s@%d: %d layer models checked, by kind %v", c.space, c.r, len(layers), kinds)
	}
}

func prod(s []int64) int64 {
	p := int64(1)
	for _, v := range s {
		p *= v
	}
	return p
}

func dimsString(s []int64) string {
	return strings.ReplaceAll(fmt.Sprint(s), ",", "")
}

// TestLayerNodesMatchSubnet checks that the micro-models are the subnet's
// own pieces: each layer's node sequence (operators and attributes) occurs
// in the subnet's graph as a contiguous run.
func TestLayerNodesMatchSubnet(t *testing.T) {
	s := space(t, "w1.0")
	c := s.MaxConfig(160)
	c.KS[5], c.E[5] = 3, 4
	c.D[2] = 3
	net := randomNet(t, s, c, 3)
	b, err := Marshal(net, Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	sub := nodeSignatures(parseModel(t, b).Graph)
	for _, l := range s.Layers(c, nil) {
		lm, err := LayerModel(l, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		sig := nodeSignatures(parseModel(t, lm).Graph)
		if !containsRun(sub, sig) {
			t.Errorf("%s: micro-model nodes %v do not occur in the subnet", l.Key(), sig)
		}
	}
}

func nodeSignatures(g *onnxpb.GraphProto) []string {
	var out []string
	for _, n := range g.Node {
		sig := n.OpType
		for _, a := range n.Attribute {
			sig += fmt.Sprintf(" %s=%v%v%v", a.Name, a.I, a.F, a.Ints)
		}
		out = append(out, sig)
	}
	return out
}

func containsRun(haystack, run []string) bool {
	for i := 0; i+len(run) <= len(haystack); i++ {
		if slices.Equal(haystack[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

func TestLayerModelErrors(t *testing.T) {
	s := space(t, "w1.0")
	good := s.Layers(s.MinConfig(128), nil)[3]
	for name, mutate := range map[string]func(l *supernet.Layer){
		"zero batch":   nil,
		"no channels":  func(l *supernet.Layer) { l.In = 0 },
		"even kernel":  func(l *supernet.Layer) { l.Kernel = 4 },
		"bad out size": func(l *supernet.Layer) { l.OutSize++ },
		"bad residual": func(l *supernet.Layer) { l.Residual, l.Stride, l.OutSize = true, 2, (l.InSize-1)/2+1 },
		"unknown kind": func(l *supernet.Layer) { l.Kind = 42 },
		"huge":         func(l *supernet.Layer) { l.InSize = 1 << 20 },
		"negative se":  func(l *supernet.Layer) { l.SE = -1 },
		"first no mid": func(l *supernet.Layer) { l.Expand = false },
	} {
		l, batch := good, 1
		if mutate == nil {
			batch = 0
		} else {
			mutate(&l)
		}
		if _, err := LayerModel(l, batch, 1); err == nil {
			t.Errorf("%s: LayerModel accepted %+v", name, l)
		}
	}
}
