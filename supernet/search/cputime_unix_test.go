//go:build unix

package search

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system) the process has used, to
// report benchmark costs that other processes on a busy machine cannot
// inflate the way they inflate wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
