package profiler

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// DeviceFullError reports that a file system filled up while profiling:
// the device's work directory (Host false) or the directory of the
// journal and table on this machine (Host true). Everything measured
// before is in the journal.
type DeviceFullError struct {
	Target string
	Where  string // directory or file that could not be written
	Host   bool
	Err    error
}

func (e *DeviceFullError) Error() string {
	if e.Host {
		return fmt.Sprintf("no space left on this machine writing %s: %v", e.Where, e.Err)
	}
	return fmt.Sprintf("no space left on device %s (writing %s): %v", e.Target, e.Where, e.Err)
}

func (e *DeviceFullError) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *DeviceFullError) Hint() string {
	if e.Host {
		return "free disk space here (or write the table elsewhere with -o) and rerun the same command: measurements already journalled are kept"
	}
	return "free space on the device (models are pushed in batches of up to --batch-bytes) and rerun the same command: measurements already journalled are kept"
}

// isNoSpace tells whether err says that a file system is full, however the
// transport spelled it (ENOSPC locally, SFTP status text, adb's stderr).
func isNoSpace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no space left") || strings.Contains(s, "disk quota exceeded") ||
		strings.Contains(s, "not enough space") || strings.Contains(s, "enospc")
}

// SettingsChangedError refuses to resume a journal started with other
// settings or on another device: its numbers would not mix with new ones.
type SettingsChangedError struct {
	Journal string
	Changes []string // "threads was 1, now 2"
}

func (e *SettingsChangedError) Error() string {
	return fmt.Sprintf("journal %s was started with other settings: %s", e.Journal, strings.Join(e.Changes, "; "))
}

// Hint says how to go on.
func (e *SettingsChangedError) Hint() string {
	return "rerun with the journal's settings to resume it, write to a new -o, or pass --restart to set the journal aside and measure afresh"
}

// RuntimeError reports that the runner could not be set up on the device
// (no usable ONNX Runtime, agent that does not start, missing trtexec).
type RuntimeError struct {
	Target string
	Runner string
	Err    error
}

func (e *RuntimeError) Error() string {
	return fmt.Sprintf("no usable %s runtime on %s: %v", e.Runner, e.Target, e.Err)
}

func (e *RuntimeError) Unwrap() error { return e.Err }

// Hint says what to check.
func (e *RuntimeError) Hint() string {
	switch e.Runner {
	case RunnerTrtexec:
		return "install TensorRT's trtexec on the device (on Jetson: /usr/src/tensorrt/bin) or use --runner agent"
	case RunnerPerfTest:
		return "put onnxruntime_perf_test on the device's PATH or use --runner agent"
	}
	return "check the ONNX Runtime library for the device's architecture (`make ort`, or EDGEFIT_ORT_LIB) and that the execution provider is available there (--ep cpu always is)"
}
