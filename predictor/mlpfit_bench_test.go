package predictor

import (
	"context"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// benchTrain trains OFA's MLP (3×400, batch 256) on n synthetic samples
// for the given epochs, on the calling goroutine (one core).
func benchTrain(b *testing.B, n, epochs int) {
	s, _ := supernet.NewSpace(1.0)
	d, err := encodeMLPSamples(synthSamples(s, n, nonlinearTarget, 0.001, 1))
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	o := MLPFitOptions{Epochs: epochs}.withDefaults()
	b.ResetTimer()
	for range b.N {
		if _, err := trainMLP(context.Background(), d, rows, o, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/training")
}

// BenchmarkTrainMLP1000x150 is the size the brief names: 1,000 samples,
// 150 epochs, one training (ChooseAccuracy runs six: five folds and the
// final fit, two at a time on two cores).
func BenchmarkTrainMLP1000x150(b *testing.B) { benchTrain(b, 1000, 150) }

// BenchmarkTrainMLPEpoch compares one epoch over 1,000 samples on the
// AVX2/FMA kernel with the portable Go products, in the same run.
func BenchmarkTrainMLPEpoch(b *testing.B) {
	b.Run("kernel", func(b *testing.B) {
		if !useAsm {
			b.Skip("no AVX2/FMA")
		}
		benchTrain(b, 1000, 1)
	})
	b.Run("portable", func(b *testing.B) {
		defer func(v bool) { useAsm = v }(useAsm)
		useAsm = false
		benchTrain(b, 1000, 1)
	})
}
