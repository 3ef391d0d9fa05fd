package export

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/edgefit/edgefit/export/onnxpb"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
)

// randomNet builds a subnet with the same random weights the layer
// micro-models use, independent of supernet.Init.
func randomNet(t testing.TB, s *supernet.Space, c supernet.Config, seed uint64) *supernet.Net {
	t.Helper()
	c = c.Canonical(s)
	rng := rand.New(rand.NewPCG(seed, 1))
	net := &supernet.Net{Space: s, Config: c, Untrained: true}
	for _, l := range s.Layers(c, nil) {
		u := randomUnit(l, rng)
		switch l.Kind {
		case supernet.KindFirstConv:
			net.FirstConv = *u.conv
		case supernet.KindBlock:
			net.Blocks = append(net.Blocks, *u.block)
		case supernet.KindFinalExpand:
			net.FinalExpand = *u.conv
		case supernet.KindFeatureMix:
			net.FeatureMix = *u.mix
		case supernet.KindClassifier:
			net.Classifier = *u.fc
		}
	}
	return net
}

func space(t testing.TB, name string) *supernet.Space {
	t.Helper()
	s, err := supernet.SpaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// repoRoot walks up from the package directory to the one holding go.mod.
func repoRoot(t testing.TB) string { return testfix.RepoRoot(t) }

func parseModel(t testing.TB, b []byte) *onnxpb.ModelProto {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatalf("parse exported model: %v", err)
	}
	return &m
}

func needORT(t testing.TB) {
	t.Helper()
	testfix.Need(t, testfix.ORT, ort.Init(""))
}

// tolerance scales an absolute tolerance by the output magnitude, since
// random weights give logits far from 1.
func tolerance(abs float64, out []float32) float64 {
	m := 1.0
	for _, v := range out {
		m = max(m, float64(v), -float64(v))
	}
	return abs * m
}

type spaceConfig struct {
	s *supernet.Space
	c supernet.Config
}
