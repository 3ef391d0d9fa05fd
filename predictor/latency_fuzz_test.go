package predictor

import (
	"bytes"
	"math"
	"testing"

	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// syntheticLUT is a w1.0 table at r whose latencies are 0.02 ms plus
// 1 ms per million features of the layer: deterministic and needs no
// fixtures.
func syntheticLUT(rs ...int) *lut.LUT {
	s, _ := supernet.NewSpace(1.0)
	tbl := &lut.LUT{Version: lut.Version, Space: s.Name, Target: "synthetic",
		Runtime: lut.Runtime{Name: "none", Batch: 1}, Unit: "ms", Stat: lut.StatMedian}
	buf := make([]float64, 16)
	for _, r := range rs {
		for _, l := range s.DistinctLayers(r) {
			spec := specOf(l.Kind)
			spec.compute(&l, buf[:len(spec.features)])
			ms := 0.02
			for _, v := range buf[1:len(spec.features)] {
				ms += v
			}
			tbl.Entries = append(tbl.Entries, lut.NewEntry(l, r, timing.Stats{Median: ms, Mean: ms, N: 10}))
		}
	}
	return tbl
}

func FuzzReadLatencyPredictor(f *testing.F) {
	p, _, err := Fit(syntheticLUT(128), FitOptions{Resolutions: []int{160}})
	if err != nil {
		f.Fatal(err)
	}
	p.report = nil // keep the seed small: the fuzzer minimizes byte by byte
	var b bytes.Buffer
	p.Write(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"format":"edgefit-latency-predictor","version":1,"predictor":{"space":"ofa-mbv3-w1.0","resolutions":[32]}}`))
	s, _ := supernet.NewSpace(1.0)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := ReadLatencyPredictor(bytes.NewReader(data))
		if err != nil {
			return
		}
		// A predictor that loads answers every valid config with a
		// finite positive latency, or NaN for resolutions it refuses.
		for _, r := range q.Resolutions() {
			for _, c := range []supernet.Config{s.MinConfig(r), s.MaxConfig(r)} {
				if q.SpaceName() != s.Name {
					continue
				}
				v := q.SumMS(c)
				if !(v > 0) || math.IsInf(v, 0) {
					t.Fatalf("r=%d: layer sum %v", r, v)
				}
			}
		}
	})
}
