package edgefit

import (
	"fmt"

	"github.com/edgefit/edgefit/internal/hint"
)

// InputError reports options or files that cannot work, found before any
// device is contacted and before anything is measured. Its text names
// options the way the edgefit command's flags do ("--space"); each is the
// [RunOptions] or [ModelSource] field of that name. The command exits with
// code 2 for it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// LatencyMissError reports that the exported model, measured on the
// device, missed the latency limit after every selection [Run] was allowed.
// Everything is written all the same, and the [RunResult] returned with it
// is complete.
type LatencyMissError struct {
	Target     string
	MeasuredMS float64 // the last model's median
	LimitMS    float64
	Selections int // how many subnets were selected, exported and measured
	// Reason says why no further subnet was selected although retries
	// were left, such as a tighter limit that no subnet meets.
	Reason string
}

func (e *LatencyMissError) Error() string {
	s := fmt.Sprintf("the exported model measured %.2f ms on %s, over the %.2f ms limit, after %d selection(s)",
		e.MeasuredMS, e.Target, e.LimitMS, e.Selections)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// VerifyError reports an exported model that failed the check against
// edgefit's own forward pass of the subnet (ONNX Runtime's logits differ
// by more than the limit of [export.Agreement]: the export is wrong), or
// that could not be checked at all (Err says why). Either way the model is
// moved aside to Renamed ([UnverifiedPath]), so that no file named like a
// good model is left.
type VerifyError struct {
	Path       string
	MaxAbsDiff float64
	Limit      float64 // the largest difference the check accepts
	Err        error   // why the model could not be checked; nil when it was
	Renamed    string  // where the model is now; "" when it could not be moved
	RenameErr  error   // why it could not be moved
}

func (e *VerifyError) Error() string {
	var what string
	if e.Err != nil {
		what = fmt.Sprintf("could not check %s with ONNX Runtime: %v", e.Path, e.Err)
	} else {
		what = fmt.Sprintf("verify %s: ONNX Runtime differs from the subnet by %.3g, over the tolerance %.3g: the export is wrong, please report it",
			e.Path, e.MaxAbsDiff, e.Limit)
	}
	if e.Renamed != "" {
		return what + "; the model is kept as " + e.Renamed + ", unverified"
	}
	return fmt.Sprintf("%s; moving it aside failed too (%v): do not use it", what, e.RenameErr)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// Hint says how to make the check possible, when it could not run.
func (e *VerifyError) Hint() string {
	if e.Err == nil {
		return ""
	}
	return "run 'make ort' or set EDGEFIT_ORT_LIB to an ONNX Runtime 1.24 library, then export again with --verify"
}

// withHint attaches advice to err (see package internal/hint).
func withHint(err error, advice string) error { return hint.Wrap(err, advice) }
