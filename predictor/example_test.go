package predictor_test

import (
	"fmt"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// ExampleFit fits a latency predictor to a lookup table measured at two
// resolutions only, and predicts a subnet at a resolution in between.
func ExampleFit() {
	space, _ := supernet.NewSpace(1.0)
	tbl := &lut.LUT{Version: lut.Version, Space: space.Name, Target: "example",
		Runtime: lut.Runtime{Name: "onnxruntime", Threads: 1, Batch: 1}, Unit: "ms", Stat: lut.StatMedian}
	// A stand-in for a profiled device: 0.02 ms per layer plus 1 ms per
	// 100 million multiply-accumulates (a real table comes from
	// edgefit profile or lut.ImportOFA).
	for _, r := range []int{160, 224} {
		for _, l := range space.DistinctLayers(r) {
			ms := 0.02 + float64(layerMACs(l))/1e8
			tbl.Entries = append(tbl.Entries, lut.NewEntry(l, r, timing.Stats{Median: ms, Mean: ms, N: 50}))
		}
	}
	p, report, err := predictor.Fit(tbl, predictor.FitOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("measured:", report.LUTResolutions)
	fmt.Printf("max subnet at 224: %.2f ms (from the table)\n", p.LatencyMS(space.MaxConfig(224)))
	fmt.Printf("max subnet at 192: %.2f ms (predicted)\n", p.LatencyMS(space.MaxConfig(192)))
	var truth float64
	for _, l := range space.Layers(space.MaxConfig(192), nil) {
		truth += 0.02 + float64(layerMACs(l))/1e8
	}
	fmt.Printf("the stand-in device would take %.2f ms\n", truth)
	// Output:
	// measured: [160 224]
	// max subnet at 224: 6.18 ms (from the table)
	// max subnet at 192: 4.70 ms (predicted)
	// the stand-in device would take 4.69 ms
}

// layerMACs counts a layer's multiply-accumulates.
func layerMACs(l supernet.Layer) int64 {
	h := int64(l.OutSize * l.OutSize)
	switch l.Kind {
	case supernet.KindFirstConv:
		return h * int64(l.In*l.Out*9)
	case supernet.KindBlock:
		m := h * int64(l.Mid*(l.Kernel*l.Kernel+l.Out))
		if l.Expand {
			m += int64(l.InSize*l.InSize) * int64(l.In*l.Mid)
		}
		if l.SE > 0 {
			m += 2 * int64(l.Mid*l.SE)
		}
		return m
	case supernet.KindAvgPool:
		return 0
	default:
		return h * int64(l.In*l.Out)
	}
}
