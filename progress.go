package edgefit

import "fmt"

// Progress receives what a long call is doing, for a terminal or a log.
// A nil Progress reports nothing. The methods are called from the
// goroutine that made the call.
type Progress interface {
	// Status reports a step in one line, such as "searching
	// ofa-mbv3-w1.0 under latency ≤ 20.0 ms".
	Status(msg string)
	// Begin starts a phase that advances by units of work: [PhaseProfile]
	// counts models measured, [PhaseSearch] the search's own steps. The
	// returned Meter reports its advance until its Done.
	Begin(phase string, total int) Meter
}

// Meter follows one phase begun by [Progress.Begin].
type Meter interface {
	Set(done, total int) // total may grow
	Done()
}

// Phases a [Progress] is told about.
const (
	PhaseProfile     = "profile"
	PhaseSearch      = "searching"
	PhaseFitAccuracy = "training the accuracy MLP" // cross-validation folds, then the final fit
)

// quiet is the Progress of a nil Progress.
type quiet struct{}

func (quiet) Status(string)           {}
func (quiet) Begin(string, int) Meter { return quiet{} }
func (quiet) Set(int, int)            {}
func (quiet) Done()                   {}
func orQuiet(p Progress) Progress {
	if p == nil {
		return quiet{}
	}
	return p
}

func statusf(p Progress, format string, args ...any) { p.Status(fmt.Sprintf(format, args...)) }
