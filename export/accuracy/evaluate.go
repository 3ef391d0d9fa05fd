package accuracy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgefit/edgefit/export/ort"
)

// EvalResult is how a model classified a labelled image folder.
type EvalResult struct {
	Images          int     `json:"images"`
	Top1Hits        int     `json:"top1_hits"`
	Top5Hits        int     `json:"top5_hits"`
	Top1            float64 `json:"top1"` // fraction of images
	Top5            float64 `json:"top5"`
	Seconds         float64 `json:"wall_seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
	Skipped         int     `json:"skipped_images,omitempty"`
}

// hits counts whether label is among the k highest of logits, as
// torch.topk-based accuracy does; a logit equal to the label's does not
// push it out (ties count in the label's favour).
func hits(logits []float32, label int) (top1, top5 bool) {
	l := logits[label]
	above := 0
	for i, v := range logits {
		if v > l && i != label {
			above++
		}
	}
	return above < 1, above < 5
}

// Evaluator runs an exported model (folded BatchNorm, as export.Marshal
// writes it) with ONNX Runtime on the host CPU, one session per batch size.
type Evaluator struct {
	classes int
	sessions
}

// NewEvaluator loads model for evaluation; threads sizes ONNX Runtime's
// intra-op pool (0: one per core).
func NewEvaluator(model []byte, threads int) (*Evaluator, error) {
	if err := ort.Init(""); err != nil {
		return nil, err
	}
	e := &Evaluator{}
	e.sessions = newSessions(model, threads, "evaluation model", func(s *ort.Session) error {
		if err := oneInOneOut(s); err != nil {
			return err
		}
		shape := s.OutputShape(0)
		if len(shape) != 2 {
			return fmt.Errorf("model output has shape %v, want [batch, classes]", shape)
		}
		e.classes = int(shape[1])
		return nil
	})
	return e, nil
}

// oneInOneOut refuses models other than classifiers with one input and
// one output.
func oneInOneOut(s *ort.Session) error {
	if len(s.InputNames()) != 1 || len(s.OutputNames()) != 1 {
		return fmt.Errorf("model has %d inputs and %d outputs: edgefit evaluates classifiers with one input and one output (the models `edgefit export` writes)", len(s.InputNames()), len(s.OutputNames()))
	}
	return nil
}

// Run evaluates every batch src yields; batches must carry labels.
func (e *Evaluator) Run(ctx context.Context, src Source, progress func(images int)) (*EvalResult, error) {
	start := time.Now()
	res := &EvalResult{}
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(b.Labels) != b.N {
			return nil, fmt.Errorf("evaluation batch of %d images has %d labels: evaluation needs a labelled folder", b.N, len(b.Labels))
		}
		s, err := e.session(b.N)
		if err != nil {
			return nil, err
		}
		outs, err := s.RunContext(ctx, b.Data)
		if err != nil {
			return nil, err
		}
		for i, label := range b.Labels {
			if label < 0 || label >= e.classes {
				return nil, fmt.Errorf("label %d is outside the model's %d classes", label, e.classes)
			}
			t1, t5 := hits(outs[0][i*e.classes:(i+1)*e.classes], label)
			if t1 {
				res.Top1Hits++
			}
			if t5 {
				res.Top5Hits++
			}
		}
		res.Images += b.N
		if progress != nil {
			progress(res.Images)
		}
	}
	if res.Images == 0 {
		return nil, errors.New("no images to evaluate")
	}
	res.Top1 = float64(res.Top1Hits) / float64(res.Images)
	res.Top5 = float64(res.Top5Hits) / float64(res.Images)
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.ImagesPerSecond = float64(res.Images) / res.Seconds
	}
	return res, nil
}

// Shape is what an image classifier takes and gives.
type Shape struct {
	Resolution int // input [N, 3, r, r]
	Classes    int // output [N, classes]
}

// ModelShape reads the input resolution and class count of an ONNX
// classifier, refusing models edgefit cannot evaluate.
func ModelShape(model []byte) (Shape, error) {
	if err := ort.Init(""); err != nil {
		return Shape{}, err
	}
	s, err := ort.Open(model, ort.Options{IntraOpThreads: 1, Batch: 1})
	if err != nil {
		return Shape{}, err
	}
	defer s.Close()
	if err := oneInOneOut(s); err != nil {
		return Shape{}, err
	}
	in, out := s.InputShape(0), s.OutputShape(0)
	if len(in) != 4 || in[1] != 3 || in[2] != in[3] || in[2] <= 0 {
		return Shape{}, fmt.Errorf("model input has shape %v, want [batch, 3, r, r]", in)
	}
	if len(out) != 2 || out[1] < 1 {
		return Shape{}, fmt.Errorf("model output has shape %v, want [batch, classes]", out)
	}
	return Shape{Resolution: int(in[2]), Classes: int(out[1])}, nil
}
