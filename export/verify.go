package export

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/supernet"
)

// VerifyInput returns a deterministic batch of one input for a subnet at
// resolution r: values in [-2.5, 2.5], about the range of ImageNet-
// normalized pixels.
func VerifyInput(r int) []float32 {
	rng := rand.New(rand.NewPCG(0xedf17, uint64(r)))
	return uniform(rng, 3*r*r, -2.5, 2.5)
}

// Verify runs model (ONNX bytes, as [Write] produces) with ONNX Runtime on
// input and returns the largest absolute difference between its logits and
// those of the Go reference [Forward] of net, in units of the logits' scale
// max(1, max |logit|): float32 kernels that sum in another order differ in
// proportion to the values they compute, and a recalibrated net (whose
// BatchNorm variances can be small) can give logits in the thousands on
// Verify's random input. A nil input means
// [VerifyInput]; its length sets the batch. ONNX Runtime is loaded with
// ort.Init("") if no one loaded it before.
func Verify(ctx context.Context, model []byte, net *supernet.Net, input []float32) (float64, error) {
	if net == nil || net.Space == nil {
		return 0, fmt.Errorf("verify: no network given")
	}
	r := net.Config.R
	if input == nil {
		input = VerifyInput(r)
	}
	per := 3 * r * r
	if len(input) == 0 || len(input)%per != 0 {
		return 0, fmt.Errorf("verify: input has %d values, want a multiple of 3x%dx%d = %d", len(input), r, r, per)
	}
	want, err := Forward(net, input)
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	got, err := RunModel(ctx, model, input, len(input)/per)
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	if len(got) != len(want) {
		return 0, fmt.Errorf("verify: ONNX Runtime gave %d logits, the reference %d", len(got), len(want))
	}
	return maxAbsDiff(got, want) / logitScale(want), nil
}

// logitScale is max(1, max |x|).
func logitScale(x []float32) float64 {
	m := 1.0
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// VerifyFile is [Verify] on the model stored at path.
func VerifyFile(ctx context.Context, path string, net *supernet.Net, input []float32) (float64, error) {
	model, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	d, err := Verify(ctx, model, net, input)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// RunModel runs a single-input, single-output float32 ONNX model with ONNX
// Runtime on the CPU (one thread, so results are reproducible) and returns
// its output.
func RunModel(ctx context.Context, model []byte, input []float32, batch int) ([]float32, error) {
	if err := ort.Init(""); err != nil {
		return nil, err
	}
	s, err := ort.Open(model, ort.Options{IntraOpThreads: 1, InterOpThreads: 1, Batch: batch})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if n := len(s.InputNames()); n != 1 || len(s.OutputNames()) != 1 {
		return nil, fmt.Errorf("model has %d inputs and %d outputs, want one each", n, len(s.OutputNames()))
	}
	outs, err := s.RunContext(ctx, input)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = max(d, x)
	}
	return d
}
