package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/supernet/search"
)

// Exit codes of the edgefit binary. They are part of its interface:
// scripts may rely on them.
const (
	ExitOK         = 0   // success
	ExitFailure    = 1   // the work failed (bad input file, device error, ...)
	ExitUsage      = 2   // bad flags or arguments
	ExitInfeasible = 3   // no subnet meets the requested limits
	ExitMismatch   = 4   // a verification failed (export --verify, run's measured check)
	ExitCancelled  = 130 // interrupted (Ctrl-C / SIGTERM)
)

// userError is an error meant for the person at the terminal: its text is
// printed as is, followed by hints on what to do.
type userError struct {
	err   error
	hints []string
	code  int
}

func (e *userError) Error() string { return e.err.Error() }
func (e *userError) Unwrap() error { return e.err }

// usageErrorf reports bad flags or arguments (exit code 2).
func usageErrorf(format string, args ...any) error {
	return &userError{err: fmt.Errorf(format, args...), code: ExitUsage}
}

// withHint attaches hints to err, keeping its exit code if it has one.
func withHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	code := ExitFailure
	var ue *userError
	if errors.As(err, &ue) {
		code = ue.code
		hints = append(append([]string(nil), ue.hints...), hints...)
	}
	return &userError{err: err, hints: hints, code: code}
}

// withCode sets the exit code reported for err.
func withCode(err error, code int) error {
	if err == nil {
		return nil
	}
	var ue *userError
	if errors.As(err, &ue) {
		return &userError{err: ue.err, hints: ue.hints, code: code}
	}
	return &userError{err: err, code: code}
}

// ExitCodeOf maps an error returned by [Execute] to the process exit code.
func ExitCodeOf(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return ExitCancelled
	}
	var ue *userError
	if errors.As(err, &ue) {
		return ue.code
	}
	return ExitFailure
}

// interrupted is what an interrupted command says.
const interrupted = "interrupted; anything measured so far is kept, rerun the same command to resume"

// PrintError writes err and its hints to w in edgefit's format.
func PrintError(w io.Writer, err error) {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(w, "edgefit: "+interrupted)
		return
	}
	fmt.Fprintf(w, "edgefit: error: %v\n", err)
	for _, h := range hintsOf(err) {
		fmt.Fprintf(w, "edgefit: hint: %s\n", h)
	}
}

// hintsOf collects the advice err carries, each once: the Hint of an
// error of the packages below cmd, then the command's own.
func hintsOf(err error) []string {
	var hints []string
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		hints = append(hints, h.Hint())
	}
	var ue *userError
	if errors.As(err, &ue) {
		hints = append(hints, ue.hints...)
	}
	out := []string{}
	for _, h := range hints {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// resultError is a failure that comes with the command's complete
// result, such as a run whose model missed the measured limit: under
// --json the result is printed inside the error's report.
type resultError struct {
	error
	result any
}

func (e *resultError) Unwrap() error { return e.error }

// withResult attaches the result a failed command still produced.
func withResult(err error, result any) error {
	if err == nil {
		return nil
	}
	return &resultError{err, result}
}

// errorJSON is what a command that fails under --json prints on stdout.
type errorJSON struct {
	Error    string   `json:"error"`
	Hints    []string `json:"hints"`
	ExitCode int      `json:"exit_code"`
	// Limits and Minima, for limits no subnet meets (exit code 3): the
	// smallest value each limit can take, keyed as the limits are.
	Limits *search.Limits            `json:"limits,omitempty"`
	Minima map[string]search.Minimum `json:"minima,omitempty"`
	// Result is the command's result, where it produced one all the same.
	Result any `json:"result,omitempty"`
}

// writeErrorJSON writes the JSON report of err: its message, hints and
// exit code, the minima of an infeasible search, and any result.
func writeErrorJSON(w io.Writer, err error) error {
	e := errorJSON{Error: err.Error(), Hints: hintsOf(err), ExitCode: ExitCodeOf(err)}
	if errors.Is(err, context.Canceled) {
		e.Error = interrupted
	}
	var inf *search.InfeasibleError
	if errors.As(err, &inf) {
		e.Limits, e.Minima = &inf.Limits, inf.MinimaByLimit()
	}
	var re *resultError
	if errors.As(err, &re) {
		e.Result = re.result
	}
	return writeJSON(w, e)
}

// noArgs refuses positional arguments as a usage error (exit code 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return withHint(usageErrorf("%s takes no arguments; got %q", cmd.CommandPath(), args), fmt.Sprintf("see '%s --help'", cmd.CommandPath()))
	}
	return nil
}

// pipelineError gives the errors of the edgefit package their exit codes:
// bad input is a usage error (2), limits no subnet meets exit 3, a model
// that fails its check or misses the measured limit exit 4. Their advice
// comes with them (PrintError prints any Hint in the chain).
func pipelineError(err error) error {
	var (
		in   *edgefit.InputError
		inf  *search.InfeasibleError
		ver  *edgefit.VerifyError
		miss *edgefit.LatencyMissError
	)
	switch {
	case errors.As(err, &in):
		return withCode(err, ExitUsage)
	case errors.As(err, &inf):
		return withCode(err, ExitInfeasible)
	case errors.As(err, &ver) && ver.Err != nil:
		return withCode(err, ExitFailure) // the check could not run
	case errors.As(err, &ver), errors.As(err, &miss):
		return withCode(err, ExitMismatch)
	}
	return err
}
