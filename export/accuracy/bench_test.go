package accuracy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/supernet"

	"github.com/edgefit/edgefit/internal/testfix"
)

// benchFolder is a folder of n JPEG pictures of ImageNet's typical size
// (500×375, quality 90, in 10 class folders), made once per process
// under the system temporary directory and reused by later runs.
func benchFolder(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("edgefit-bench-images-%d", n))
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				testfix.WritePicture(b, filepath.Join(dir, fmt.Sprint(i%10), fmt.Sprintf("%05d.jpg", i)), 500, 375, uint64(i))
			}
		}()
	}
	for c := range 10 {
		os.MkdirAll(filepath.Join(dir, fmt.Sprint(c)), 0o755)
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	os.WriteFile(done, nil, 0o644)
	return dir
}

// midSubnet is the subnet of the benchmark targets: ks 5, e 4, d 3 on
// every block, at 224, from the fixture checkpoint when there is one.
func midSubnet(b *testing.B) *supernet.Net {
	b.Helper()
	var ck *supernet.Checkpoint
	if p := "../../../shared/fixtures/ofa-mbv3-w1.0/supernet.pth"; fileExists(p) {
		var err error
		if ck, err = supernet.LoadCheckpoint(p); err != nil {
			b.Fatal(err)
		}
	}
	s, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	c := supernet.Config{R: 224}
	for i := range supernet.NumBlocks {
		c.KS[i], c.E[i] = 5, 4
	}
	for i := range supernet.NumStages {
		c.D[i] = 3
	}
	if ck == nil {
		return supernet.Init(s, c, 1)
	}
	net, err := supernet.Extract(ck, c)
	if err != nil {
		b.Fatal(err)
	}
	return net
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// BenchmarkRecalibrate2000JPEG is the target: recalibrating a mid
// subnet at 224 on 2000 JPEG images in OFA's batches of 200, decoding
// included (listing and header checks too), with each engine.
func BenchmarkRecalibrate2000JPEG(b *testing.B) {
	dir := benchFolder(b, 2000)
	net := midSubnet(b)
	for _, engine := range []Engine{EngineNative, EngineORT} {
		b.Run(string(engine), func(b *testing.B) {
			if engine == EngineORT {
				needORT(b)
			}
			for range b.N {
				start := time.Now()
				cs, err := OpenCalibration(context.Background(), CalibOptions{Dir: dir, Batch: 200, Images: 2000, Engine: engine})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := cs.Recalibrate(context.Background(), net, nil); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "s/recalibration")
				b.ReportMetric(2000/time.Since(start).Seconds(), "images/s")
			}
		})
	}
}

// BenchmarkEvaluate1000JPEG evaluates the exported mid subnet at 224 on
// 1000 JPEG images through ONNX Runtime, decoding included.
func BenchmarkEvaluate1000JPEG(b *testing.B) {
	needORT(b)
	dir := benchFolder(b, 1000)
	net := midSubnet(b)
	model, err := export.Marshal(net, export.Metadata{CheckpointSHA256: sha(net)})
	if err != nil {
		b.Fatal(err)
	}
	es, err := OpenEvaluation(context.Background(), EvalOptions{Dir: dir}, net.Space.Classes)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		res, err := es.Evaluate(context.Background(), model, 224, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.ImagesPerSecond, "images/s")
	}
}

// BenchmarkDatasetMeasurement is one accuracy-dataset measurement once the
// folders' crops are kept (every measurement after the first at a
// resolution): recalibration on 2000 images and evaluation on 1000, at
// 224, for the mid subnet.
func BenchmarkDatasetMeasurement(b *testing.B) {
	needORT(b)
	calibDir, valDir := benchFolder(b, 2000), benchFolder(b, 1000)
	net := midSubnet(b)
	cs, err := OpenCalibration(context.Background(), CalibOptions{Dir: calibDir, Batch: 200, Images: 2000})
	if err != nil {
		b.Fatal(err)
	}
	es, err := OpenEvaluation(context.Background(), EvalOptions{Dir: valDir}, net.Space.Classes)
	if err != nil {
		b.Fatal(err)
	}
	cs.KeepCrops()
	es.KeepCrops()
	measureOnce := func() {
		rec, _, err := cs.Recalibrate(context.Background(), net, nil)
		if err != nil {
			b.Fatal(err)
		}
		model, err := export.Marshal(rec, export.Metadata{CheckpointSHA256: sha(rec)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := es.Evaluate(context.Background(), model, 224, nil); err != nil {
			b.Fatal(err)
		}
	}
	measureOnce() // fills the crop caches
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		measureOnce()
		b.ReportMetric(3600/time.Since(start).Seconds(), "subnets/hour")
	}
}

// sha is the metadata checkpoint hash of net: any 64 hex digits for a
// trained net, none for an untrained one.
func sha(net *supernet.Net) string {
	if net.Untrained {
		return ""
	}
	return "0000000000000000000000000000000000000000000000000000000000000000"
}
