package native

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/supernet"
)

// midSubnet is the product target's subnet: kernel 5, expand 4, depth 3
// on every block of w1.0, at 224, with seeded weights.
func midSubnet(tb testing.TB) *supernet.Net {
	s := spaceNamed(tb, "w1.0")
	var c supernet.Config
	for i := range c.KS {
		c.KS[i], c.E[i] = 5, 4
	}
	for i := range c.D {
		c.D[i] = 3
	}
	c.R = 224
	return supernet.Init(s, c, 1)
}

// benchBatch is the batch size of the whole-net benchmarks:
// EDGEFIT_BENCH_BATCH or 200 (OFA's calibration batch).
func benchBatch() int {
	if n, err := strconv.Atoi(os.Getenv("EDGEFIT_BENCH_BATCH")); err == nil && n > 0 {
		return n
	}
	return 200
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds images/s (wall) and CPU seconds per 100 images.
func report(b *testing.B, images int, wall, cpu time.Duration) {
	b.ReportMetric(float64(images)/wall.Seconds(), "images/s")
	b.ReportMetric(cpu.Seconds()/float64(images)*100, "cpu-s/100img")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCalibrateMidSubnet224 runs one calibration batch of the mid
// subnet at 224 with the native engine (each kernel set) and with the ONNX
// Runtime graph (export.CalibrationModel), on GOMAXPROCS threads. Run it
// with -cpu 1,2 for the single-threaded CPU time and the two-thread wall
// rate.
func BenchmarkCalibrateMidSubnet224(b *testing.B) {
	net := midSubnet(b)
	n := benchBatch()
	in := images(n, 224, 1)
	for _, ks := range kernelSets() {
		if ks == goKernels {
			continue
		}
		b.Run("native-"+ks.name, func(b *testing.B) {
			c := newCalibratorKernels(b, net, n, ks)
			defer c.Close()
			timed(b, n, func() error {
				_, err := c.BatchStats(context.Background(), in, n)
				return err
			})
		})
	}
	b.Run("ort", func(b *testing.B) { benchORT(b, export.CalibrationModel, net, in, n) })
}

// timed runs one warm-up batch of n images (which also allocates), then
// the timed ones, and reports their rates.
func timed(b *testing.B, n int, batch func() error) {
	if err := batch(); err != nil {
		b.Fatal(err)
	}
	t0, c0 := time.Now(), cpuTime()
	for b.Loop() {
		if err := batch(); err != nil {
			b.Fatal(err)
		}
	}
	report(b, b.N*n, time.Since(t0), cpuTime()-c0)
}

// benchORT runs the model that build makes of net in ONNX Runtime on
// GOMAXPROCS intra-op threads.
func benchORT(b *testing.B, build func(*supernet.Net) ([]byte, error), net *supernet.Net, in []float32, n int) {
	if err := ort.Init(""); err != nil {
		b.Skipf("ONNX Runtime unavailable: %v", err)
	}
	model, err := build(net)
	if err != nil {
		b.Fatal(err)
	}
	s, err := ort.Open(model, ort.Options{IntraOpThreads: runtime.GOMAXPROCS(0), InterOpThreads: 1, Batch: n})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	copy(s.Input(0), in)
	timed(b, n, s.RunInPlace)
}

// BenchmarkForwardMidSubnet224 runs eval mode (running statistics, through
// the classifier) on the mid subnet at 224: the native engine against the
// exported ONNX model (BatchNorm folded) in ONNX Runtime, on GOMAXPROCS
// threads, batches of EDGEFIT_BENCH_BATCH (default 200).
func BenchmarkForwardMidSubnet224(b *testing.B) {
	net := midSubnet(b)
	n := benchBatch()
	in := images(n, 224, 1)
	b.Run("native", func(b *testing.B) {
		c := newCalibratorKernels(b, net, n, nil)
		defer c.Close()
		timed(b, n, func() error {
			_, err := c.Forward(context.Background(), in, n)
			return err
		})
	})
	b.Run("ort", func(b *testing.B) {
		benchORT(b, func(net *supernet.Net) ([]byte, error) { return export.Marshal(net, export.Metadata{}) }, net, in, n)
	})
}
