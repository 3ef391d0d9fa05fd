package devices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Target is a machine that commands run on. Implementations are safe for use
// by one goroutine at a time per call; concurrent calls are allowed but may
// be serialised by the transport.
type Target interface {
	// Name returns the target as given to [Open], e.g. "ssh://pi@10.0.0.5".
	Name() string

	// Run runs argv[0] with the arguments argv[1:] and waits for it.
	// Arguments are passed as data: remote transports quote each one.
	// A command that exits non-zero returns the filled Result and a
	// *CommandError. Other errors (connection lost, context done, transport
	// missing) mean the command may not have run or finished; the Result then
	// holds whatever output arrived.
	Run(ctx context.Context, argv []string, opts RunOptions) (Result, error)

	// Push copies the local file to remote, creating or truncating it and
	// keeping the file's permission bits. Parent directories of remote must
	// exist. Remote paths should be absolute (see [Target.WorkDir]); adb
	// rejects relative ones, ssh resolves them against the login directory.
	Push(ctx context.Context, local, remote string) error

	// Pull copies the remote file to local (written atomically).
	Pull(ctx context.Context, remote, local string) error

	// WorkDir creates a fresh, empty directory on the device and returns its
	// absolute path and a cleanup function that removes it with everything
	// in it.
	WorkDir(ctx context.Context) (dir string, cleanup func(context.Context) error, err error)

	// Info reports the device's operating system and architecture. The
	// first call asks the device; later calls return the cached answer.
	Info(ctx context.Context) (Info, error)

	// Close releases connections. The Target must not be used afterwards.
	Close() error
}

// RunOptions adjusts one [Target.Run] call. The zero value runs the command
// in the transport's default directory with the device's environment.
type RunOptions struct {
	// Dir is the working directory on the device ("" = default: the login
	// directory over ssh, "/" over adb, the current directory locally).
	Dir string
	// Env adds "NAME=value" entries to the command's environment. Names must
	// match [A-Za-z_][A-Za-z0-9_]*.
	Env []string
	// Stdin, if set, is copied to the command's standard input.
	Stdin io.Reader
	// Stdout and Stderr, if set, receive the output as it arrives, in
	// addition to it being collected in the Result. Use them to stream
	// progress from long commands.
	Stdout, Stderr io.Writer
}

// Result is what a command left behind.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Info describes a device's platform in Go's GOOS/GOARCH vocabulary.
//
// On Android, Arch follows the primary ABI (getprop ro.product.cpu.abi),
// which is what binaries must be built for: a phone may run a 32-bit
// userland (armeabi-v7a) on a 64-bit kernel (`uname -m` aarch64).
type Info struct {
	OS      string `json:"os"`            // "linux", "android", "darwin", ...
	Arch    string `json:"arch"`          // "amd64", "arm64", "arm", "386", "riscv64", ...
	Machine string `json:"machine"`       // raw `uname -m`, e.g. "aarch64"
	ABI     string `json:"abi,omitempty"` // Android's primary ABI, e.g. "arm64-v8a"
}

// CommandError reports a command that ran on the device and exited with a
// non-zero status (or was killed by a signal).
type CommandError struct {
	Target   string   // the target's Name
	Argv     []string // the command as given to Run
	ExitCode int      // exit status; -1 when killed by a signal without one
	Stderr   []byte   // its standard error (truncated in Error's text)
	Err      error    // the transport's own error value, if any
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: command %s exited with status %d", e.Target, shortArgv(e.Argv), e.ExitCode)
	if s := strings.TrimSpace(string(e.Stderr)); s != "" {
		if len(s) > 500 {
			s = "..." + s[len(s)-500:]
		}
		fmt.Fprintf(&b, ": %s", s)
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Err }

// shortArgv renders argv for messages, quoted and cut to a readable length.
func shortArgv(argv []string) string {
	s := QuoteArgs(argv)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// ErrClosed is returned by calls on a Target after Close.
var ErrClosed = errors.New("target is closed")

// commandError builds the error for a finished command, or nil for status 0.
func commandError(target string, argv []string, res Result, err error) error {
	if res.ExitCode == 0 {
		return nil
	}
	return &CommandError{Target: target, Argv: append([]string(nil), argv...), ExitCode: res.ExitCode, Stderr: res.Stderr, Err: err}
}

// validateRun checks what every transport needs of a Run call.
func validateRun(argv []string, opts RunOptions) error {
	if len(argv) == 0 {
		return errors.New("run: empty command")
	}
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("run %s: argument holds a NUL byte, which no command line can carry", shortArgv(argv))
		}
	}
	for _, kv := range opts.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !validEnvName(name) {
			return fmt.Errorf("run %s: environment entry %q is not NAME=value with NAME matching [A-Za-z_][A-Za-z0-9_]*", shortArgv(argv), kv)
		}
	}
	if strings.IndexByte(opts.Dir, 0) >= 0 {
		return fmt.Errorf("run %s: directory holds a NUL byte", shortArgv(argv))
	}
	return nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// GoArch maps `uname -m` to Go's GOARCH name; unknown names are returned
// unchanged so that messages still show what the device said.
func GoArch(machine string) string {
	m := strings.TrimSpace(machine)
	switch m {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64", "aarch64_be":
		return "arm64"
	case "i386", "i486", "i586", "i686", "x86":
		return "386"
	case "riscv64":
		return "riscv64"
	case "ppc64le":
		return "ppc64le"
	case "s390x":
		return "s390x"
	}
	if strings.HasPrefix(m, "armv") { // armv7l, and armv8l: 32-bit userland on a 64-bit core

		return "arm"
	}
	return m
}

// ABIGoArch maps an Android ABI (ro.product.cpu.abi) to Go's GOARCH name;
// unknown names are returned unchanged.
func ABIGoArch(abi string) string {
	switch abi {
	case "arm64-v8a":
		return "arm64"
	case "armeabi-v7a", "armeabi":
		return "arm"
	case "x86_64":
		return "amd64"
	case "x86":
		return "386"
	case "riscv64":
		return "riscv64"
	}
	return abi
}
