package edgefit

import "fmt"

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
}

func (e *LatencyMissError) Error() string {
	return fmt.Sprintf("the exported model measured %.2f ms on %s, over the %.2f ms limit, after %d selection(s)",
		e.MeasuredMS, e.Target, e.LimitMS, e.Selections)
}

// VerifyError reports an exported model whose outputs under ONNX Runtime
// differ from edgefit's own forward pass of the subnet by more than
// [VerifyTolerance]: the export is wrong. The model file is left written,
// for the report.
type VerifyError struct {
	Path       string
	MaxAbsDiff float64
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify %s: ONNX Runtime differs from the subnet by %.3g (tolerance %g): the export is wrong, please report it",
		e.Path, e.MaxAbsDiff, VerifyTolerance)
}

// hintError carries advice on what to do about err. Any error in a chain
// may offer such advice through a Hint method; the edgefit command prints
// it as a hint line.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }

func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint}
}
