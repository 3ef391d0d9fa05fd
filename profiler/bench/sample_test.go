package bench

import (
	"context"
	"testing"

	"github.com/edgefit/edgefit/profiler/bench/wire"
)

func TestRunsPerSample(t *testing.T) {
	for _, tc := range []struct {
		sampleMS, warmupMS float64
		warmup             int
		firstMS            float64
		want               int
	}{
		{0, 10, 5, 3, 1},       // off
		{1, 0.5, 5, 3, 10},     // 0.1 ms per run from the warm-up
		{1, 0, 0, 0.3, 4},      // no warm-up: the first run
		{1, 50, 5, 20, 1},      // already longer than a sample
		{5, 0.001, 5, 0, 1000}, // capped
		{1, 0, 5, 0, 1},        // nothing measurable
	} {
		if got := runsPerSample(tc.sampleMS, tc.warmupMS, tc.warmup, tc.firstMS); got != tc.want {
			t.Errorf("runsPerSample(%v, %v, %d, %v) = %d, want %d", tc.sampleMS, tc.warmupMS, tc.warmup, tc.firstMS, got, tc.want)
		}
	}
}

// TestMeasureSampleMS: with SampleMS each sample averages several runs of a
// tiny model, and the counts are of samples.
func TestMeasureSampleMS(t *testing.T) {
	initORT(t)
	res, err := Measure(context.Background(), wire.ModelSpec{ID: "tiny", Path: tinynet(t), Runs: 12, Warmup: 3, Threads: 1, SampleMS: 2}, "")
	if err != nil || res.Error != "" {
		t.Fatalf("measure: %v %s", err, res.Error)
	}
	if res.RunsPerSample < 2 || res.Stats.N != 12 || !(res.Stats.Median > 0) || res.Stats.Median*float64(res.RunsPerSample) > 50 {
		t.Errorf("runs per sample %d, stats %+v", res.RunsPerSample, res.Stats)
	}
}
