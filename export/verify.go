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

// Verify is [Compare]'s largest absolute difference between the logits
// of model under ONNX Runtime and those of net's forward pass on input
// (nil: [VerifyInput]).
func Verify(ctx context.Context, model []byte, net *supernet.Net, input []float32) (float64, error) {
	a, err := Compare(ctx, model, net, input)
	return a.MaxAbsDiff, err
}

// VerifyTolerance is the check of every exported model, as one rule: ONNX
// Runtime's logits and those of [Forward] agree when their largest
// difference is at most VerifyTolerance times the larger of 1 and the
// largest logit's magnitude ([Agreement.OK]). Float32 kernels that sum in
// another order differ in proportion to the values they compute: 1e-6 to
// 3e-6 of the largest logit on OFA subnets (measured with seeded weights,
// w1.0 and w1.2, smallest and largest subnets, r = 128..352: 1.1e-5 at
// logits of 3.7, 1.45e-4 at logits of 68), and a recalibrated net, whose
// BatchNorm variances can be small, gives logits in the thousands on
// [VerifyInput]'s random pixels. A wrong slice or an unfolded BatchNorm
// moves the logits by about their own size, far above the limit.
const VerifyTolerance = 1e-4

// Agreement is how an exported model's logits compare with [Forward]'s.
type Agreement struct {
	MaxAbsDiff  float64 // largest absolute difference of a logit
	MaxAbsLogit float64 // largest magnitude of a reference logit
}

// Limit is the largest MaxAbsDiff [Agreement.OK] accepts.
func (a Agreement) Limit() float64 { return VerifyTolerance * max(1, a.MaxAbsLogit) }

// OK reports whether the model computes what the subnet computes, under
// the rule of [VerifyTolerance].
func (a Agreement) OK() bool { return a.MaxAbsDiff <= a.Limit() }

// Compare runs model (ONNX bytes, as [Write] produces) with ONNX Runtime
// on input and returns how its logits agree with those of net's Go
// reference forward pass [Forward]. A nil input means [VerifyInput]; its
// length sets the batch. ONNX Runtime is loaded with ort.Init("") if no
// one loaded it before.
func Compare(ctx context.Context, model []byte, net *supernet.Net, input []float32) (Agreement, error) {
	if net == nil || net.Space == nil {
		return Agreement{}, fmt.Errorf("verify: no network given")
	}
	r := net.Config.R
	if input == nil {
		input = VerifyInput(r)
	}
	per := 3 * r * r
	if len(input) == 0 || len(input)%per != 0 {
		return Agreement{}, fmt.Errorf("verify: input has %d values, want a multiple of 3x%dx%d = %d", len(input), r, r, per)
	}
	want, err := Forward(net, input)
	if err != nil {
		return Agreement{}, fmt.Errorf("verify: %w", err)
	}
	got, err := RunModel(ctx, model, input, len(input)/per)
	if err != nil {
		return Agreement{}, fmt.Errorf("verify: %w", err)
	}
	if len(got) != len(want) {
		return Agreement{}, fmt.Errorf("verify: ONNX Runtime gave %d logits, the reference %d", len(got), len(want))
	}
	a := Agreement{MaxAbsDiff: maxAbsDiff(got, want)}
	for _, v := range want {
		a.MaxAbsLogit = max(a.MaxAbsLogit, math.Abs(float64(v)))
	}
	return a, nil
}

// CompareFile is [Compare] on the model stored at path; its errors leave
// naming the path to the caller.
func CompareFile(ctx context.Context, path string, net *supernet.Net, input []float32) (Agreement, error) {
	model, err := os.ReadFile(path)
	if err != nil {
		return Agreement{}, fmt.Errorf("verify: %w", err)
	}
	return Compare(ctx, model, net, input)
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
