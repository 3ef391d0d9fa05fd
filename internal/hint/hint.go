// Package hint attaches advice to an error: what the person at the
// terminal should do about it. Any error in a chain may offer advice
// through a Hint() string method; the edgefit command prints it under the
// error, and its JSON error report lists it. Wrap is that method for an
// error that has none of its own.
//
// A leaf helper: it imports nothing else of edgefit and uses no cgo.
package hint

// Error is an error with advice; it unwraps to the error it advises on.
type Error struct {
	Err    error
	Advice string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Hint returns the advice.
func (e *Error) Hint() string { return e.Advice }

// Wrap returns err with advice (nil for a nil err).
func Wrap(err error, advice string) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Advice: advice}
}
