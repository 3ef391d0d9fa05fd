package export

import (
	"io"
	"slices"
	"testing"
	"time"

	"github.com/edgefit/edgefit/export/ort"
)

// BenchmarkMarshalMaxSubnet: serializing the largest w1.0 subnet (BN
// folding included) from weights in memory.
func BenchmarkMarshalMaxSubnet(b *testing.B) {
	s := space(b, "w1.0")
	net := randomNet(b, s, s.MaxConfig(224), 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, net, Metadata{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLayerModels: every distinct layer of the w1.0 space at 224
// (96 micro-models, batch 1), as the profiler generates them.
func BenchmarkLayerModels(b *testing.B) {
	s := space(b, "w1.0")
	layers := s.DistinctLayers(224)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range layers {
			if _, err := LayerModel(l, 1, 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(layers)), "models/op")
}

// BenchmarkForwardMaxSubnet: the Go reference forward pass of the largest
// w1.0 subnet at 224, batch 1.
func BenchmarkForwardMaxSubnet(b *testing.B) {
	s := space(b, "w1.0")
	net := randomNet(b, s, s.MaxConfig(224), 1)
	in := VerifyInput(224)
	for b.Loop() {
		if _, err := Forward(net, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkORTMaxSubnet: ONNX Runtime latency of the exported largest
// w1.0 subnet at 224, batch 1, one intra-op thread, reported as the median
// of the timed runs (ms) besides Go's mean.
func BenchmarkORTMaxSubnet(b *testing.B) {
	needORT(b)
	s := space(b, "w1.0")
	model, err := Marshal(randomNet(b, s, s.MaxConfig(224), 1), Metadata{})
	if err != nil {
		b.Fatal(err)
	}
	sess, err := ort.Open(model, ort.Options{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	copy(sess.Input(0), VerifyInput(224))
	for range 3 { // warm-up
		if err := sess.RunInPlace(); err != nil {
			b.Fatal(err)
		}
	}
	var times []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := sess.RunInPlace(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}
