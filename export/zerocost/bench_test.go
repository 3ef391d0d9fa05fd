package zerocost

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/edgefit/edgefit/export/native"
	"github.com/edgefit/edgefit/supernet"
)

// benchSubnets are the subnets timed at 224: the mid w1.0 subnet (kernel
// 5, expand 4, depth 3), the product target, and the largest w1.2 subnet.
func benchSubnets(b *testing.B) map[string]supernet.Config {
	w10, w12 := space(b, "ofa-mbv3-w1.0"), space(b, "ofa-mbv3-w1.2")
	mid := w10.MaxConfig(224)
	for i := range mid.KS {
		mid.KS[i], mid.E[i] = 5, 4
	}
	for i := range mid.D {
		mid.D[i] = 3
	}
	return map[string]supernet.Config{"w1.0-mid": mid, "w1.2-max": w12.MaxConfig(224)}
}

// BenchmarkScore224 times one uncached score of 64 synthetic images at
// 224 (untrained weights: initialization, forward pass, codes, kernel),
// and, as the baseline in the same run, the initialization and forward
// pass alone (native BatchStats on the same net and batch); the
// difference is what coding the activations and counting the kernel cost.
func BenchmarkScore224(b *testing.B) {
	im, err := SyntheticImages(DefaultImages, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for name, c := range benchSubnets(b) {
		s := space(b, "ofa-mbv3-"+name[:4])
		batch, err := im.Batch(ctx, 224)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/score", func(b *testing.B) {
			m, err := New(s, Options{Images: im, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			c0 := cpuTime()
			for b.Loop() {
				clear(m.cache) // every iteration computes the score
				if _, err := m.Score(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/subnet")
			b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/subnet")
		})
		b.Run(name+"/forward-only", func(b *testing.B) {
			var spent time.Duration
			c0 := cpuTime()
			for b.Loop() {
				net := supernet.Init(s, c, 1)
				cal, err := native.NewCalibrator(net, DefaultImages)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if _, err := cal.BatchStats(ctx, batch, DefaultImages); err != nil {
					b.Fatal(err)
				}
				spent += time.Since(t0)
				cal.Close()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/subnet")
			b.ReportMetric(spent.Seconds()/float64(b.N), "s-batchstats/subnet")
			b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/subnet")
		})
	}
}

// cpuTime is the process's user and system time: on a shared machine it
// says what a score costs better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
