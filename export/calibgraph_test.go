package export

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/supernet"
)

// smoothBatch returns n images of smooth random colour fields, normalized
// like ImageNet inputs, so that statistics resemble those of real data.
func smoothBatch(n, r int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, 0, n*3*r*r)
	for range n {
		for range 3 {
			a, b, c := rng.Float64()*6, rng.Float64()*6, rng.Float64()*2-1
			for y := range r {
				for x := range r {
					v := c + 0.8*math.Sin(a*float64(x)/float64(r)+b*float64(y)/float64(r)) + 0.1*rng.NormFloat64()
					out = append(out, float32(v))
				}
			}
		}
	}
	return out
}

// TestCalibrationModelMatchesGoReference checks the ONNX Runtime graph
// with batch statistics against the independent Go forward pass, on the
// OFA fixture checkpoint: every BatchNorm's batch mean and variance.
func TestCalibrationModelMatchesGoReference(t *testing.T) {
	needORT(t)
	_, cases, ck := fixture(t)
	for _, fc := range cases[:3] {
		cfg, err := supernet.ParseConfig(ck.Space, fc.Config)
		if err != nil {
			t.Fatal(err)
		}
		net, err := supernet.Extract(ck, cfg)
		if err != nil {
			t.Fatal(err)
		}
		n := 6
		input := smoothBatch(n, net.Config.R, 1)
		want, err := ForwardBatchStats(net, input)
		if err != nil {
			t.Fatal(err)
		}
		model, err := CalibrationModel(net)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ort.Open(model, ort.Options{IntraOpThreads: 1, Batch: n})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := s.RunContext(context.Background(), input)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		bns := net.BatchNorms()
		if len(outs) != 2*len(bns) || len(want) != len(bns) {
			t.Fatalf("%d outputs, %d reference statistics, %d BatchNorms", len(outs), len(want), len(bns))
		}
		worstM, worstV := 0.0, 0.0
		for i, nb := range bns {
			if got := s.OutputNames()[2*i]; got != nb.Name+".mean" {
				t.Fatalf("output %d is %q, want %q", 2*i, got, nb.Name+".mean")
			}
			m, v := statsError(outs[2*i], outs[2*i+1], want[i])
			worstM, worstV = max(worstM, m), max(worstV, v)
		}
		t.Logf("r=%d, %d BatchNorms: worst relative error of the means %.2e, of the variances %.2e", net.Config.R, len(bns), worstM, worstV)
		if worstM > 1e-5 || worstV > 1e-5 {
			t.Errorf("ONNX Runtime statistics differ from the Go reference: means %.2e, variances %.2e (limit 1e-5)", worstM, worstV)
		}
	}
}

// statsError returns the relative errors of one BatchNorm's means and
// variances against the reference, as vectors: ‖Δmean‖/‖std‖ (a mean is
// judged against the spread it is subtracted from, since channel means can
// be 0) and ‖Δvar‖/‖var‖.
func statsError(mean, variance []float32, ref BatchStats) (float64, float64) {
	var dm, nm, dv, nv float64
	for c := range ref.Mean {
		dm += math.Pow(float64(mean[c])-ref.Mean[c], 2)
		nm += ref.Var[c]
		dv += math.Pow(float64(variance[c])-ref.Var[c], 2)
		nv += ref.Var[c] * ref.Var[c]
	}
	return math.Sqrt(dm / nm), math.Sqrt(dv / nv)
}
