package devices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/internal/scratch"
)

func init() {
	Register("local", func(ctx context.Context, target, rest string, opts Options) (Target, error) {
		if rest != "" {
			return nil, &TargetSyntaxError{Target: target, Reason: "local takes no address", Suggestion: "local"}
		}
		return NewLocal(), nil
	})
}

// Local is the machine edgefit runs on. Commands run through os/exec
// without a shell, so arguments need no quoting at all.
type Local struct {
	mu     sync.Mutex
	closed bool
}

// NewLocal returns the local target.
func NewLocal() *Local { return &Local{} }

func (l *Local) Name() string { return "local" }

func (l *Local) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}

func (l *Local) Run(ctx context.Context, argv []string, opts RunOptions) (Result, error) {
	if err := l.check(); err != nil {
		return Result{}, err
	}
	if err := validateRun(argv, opts); err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = opts.Dir
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.Stdin = opts.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = teeTo(&stdout, opts.Stdout)
	cmd.Stderr = teeTo(&stderr, opts.Stderr)
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("local: run %s: %w", shortArgv(argv), ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// Killed by a signal: report it the way a shell does, as the
			// remote transports see it.
			res.ExitCode = 128 + int(ws.Signal())
		}
		return res, commandError(l.Name(), argv, res, err)
	}
	// Report a missing or non-executable program as a shell would (127,
	// 126), so callers see the same thing on every transport.
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		res.ExitCode = 127
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.ENOEXEC):
		res.ExitCode = 126
	default:
		return res, fmt.Errorf("local: run %s: %w", shortArgv(argv), err)
	}
	res.Stderr = append(res.Stderr, []byte(err.Error()+"\n")...)
	return res, commandError(l.Name(), argv, res, err)
}

func (l *Local) Push(ctx context.Context, local, remote string) error {
	if err := l.check(); err != nil {
		return err
	}
	if err := copyFileAtomic(ctx, local, remote); err != nil {
		return fmt.Errorf("local: push %s to %s: %w", local, remote, err)
	}
	return nil
}

func (l *Local) Pull(ctx context.Context, remote, local string) error {
	if err := l.check(); err != nil {
		return err
	}
	if err := copyFileAtomic(ctx, remote, local); err != nil {
		return fmt.Errorf("local: pull %s to %s: %w", remote, local, err)
	}
	return nil
}

func (l *Local) WorkDir(ctx context.Context) (string, func(context.Context) error, error) {
	if err := l.check(); err != nil {
		return "", nil, err
	}
	// A directory that a killed edgefit left is removed by the next one
	// (see internal/scratch).
	dir, release, err := scratch.Dir("edgefit-")
	if err != nil {
		return "", nil, fmt.Errorf("local: create work directory: %w", err)
	}
	return dir, func(context.Context) error { return release() }, nil
}

func (l *Local) Info(ctx context.Context) (Info, error) {
	if err := l.check(); err != nil {
		return Info{}, err
	}
	info := Info{OS: runtime.GOOS, Arch: runtime.GOARCH}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		info.Machine = unix.ByteSliceToString(u.Machine[:])
	}
	return info, nil
}

func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// teeTo returns a writer that fills buf and also forwards to w when set.
func teeTo(buf *bytes.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}

// copyFileAtomic copies src to dst through a temporary file in dst's
// directory, keeping src's permission bits, so that dst is never seen half
// written.
func copyFileAtomic(ctx context.Context, src, dst string) error {
	in, st, err := openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.WriteMode(dst, st.Mode().Perm(), func(w io.Writer) error {
		_, err := io.Copy(w, ctxReader{ctx, in})
		return err
	})
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// openRegular opens a local file to push or copy, refusing directories,
// devices and other files that have no fixed content.
func openRegular(name string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", name)
	}
	return f, st, nil
}
