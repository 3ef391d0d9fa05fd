package profiler

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/internal/scratch"
)

// workspace is a directory on the device that batches of models are
// pushed into and removed from again, so that the device's disk holds one
// batch at a time.
type workspace struct {
	t      devices.Target
	dir    string
	clean  func(context.Context) error
	hasTar bool
	kept   map[string]bool // models left on the device (the reference)
	seq    int             // batches staged
}

// newWorkspace makes a fresh directory on the device, under base if set
// (else where the transport keeps temporary files).
func newWorkspace(ctx context.Context, t devices.Target, base string) (*workspace, error) {
	w := &workspace{t: t, kept: map[string]bool{}}
	if base == "" {
		dir, clean, err := t.WorkDir(ctx)
		if err != nil {
			return nil, fmt.Errorf("create work directory on %s: %w", t.Name(), err)
		}
		w.dir, w.clean = dir, clean
	} else {
		res, err := t.Run(ctx, []string{"sh", "-c", `mkdir -p "$1" && mktemp -d "$1/edgefit-XXXXXX"`, "sh", base}, devices.RunOptions{})
		if err != nil {
			if isNoSpace(err) {
				return nil, &DeviceFullError{Target: t.Name(), Where: base, Err: err}
			}
			return nil, fmt.Errorf("create work directory under %s on %s: %w", base, t.Name(), err)
		}
		dir := strings.TrimSpace(string(res.Stdout))
		if !path.IsAbs(dir) {
			return nil, fmt.Errorf("create work directory under %s on %s: mktemp printed %q", base, t.Name(), dir)
		}
		w.dir = dir
		w.clean = func(ctx context.Context) error {
			_, err := t.Run(ctx, []string{"rm", "-rf", dir}, devices.RunOptions{})
			return err
		}
	}
	_, err := t.Run(ctx, []string{"sh", "-c", "command -v tar"}, devices.RunOptions{})
	w.hasTar = err == nil
	return w, nil
}

// stage copies models not yet on the device, and the extra files (name →
// content), into the workspace: as one tar archive unpacked on the device
// where it has tar (one round trip instead of one per file), else file by
// file. Reference models stay for later batches; it returns the names of
// everything else, for remove.
func (w *workspace) stage(ctx context.Context, models []runModel, extra map[string][]byte) (temp []string, err error) {
	w.seq++
	var push []runModel
	seen := map[string]bool{}
	for _, m := range models {
		if seen[m.Name] || w.kept[m.Name] {
			continue
		}
		seen[m.Name] = true
		push = append(push, m)
		if !m.Reference {
			temp = append(temp, m.Name)
		}
	}
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	temp = append(temp, names...)

	tmp, release, err := scratch.Dir("edgefit-push-")
	if err != nil {
		return temp, hostErr(os.TempDir(), err)
	}
	defer release()
	var need int64
	for _, m := range push {
		if fi, err := os.Stat(m.Path); err == nil {
			need += fi.Size()
		}
	}
	for _, n := range names {
		need += int64(len(extra[n]))
	}
	fail := func(step string, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isNoSpace(err) || w.lowOnSpace(ctx, 2*need) {
			return &DeviceFullError{Target: w.t.Name(), Where: w.dir, Err: err}
		}
		return fmt.Errorf("%s on %s: %w", step, w.t.Name(), err)
	}
	if !w.hasTar || len(push)+len(names) <= 1 {
		for _, m := range push {
			if err := w.t.Push(ctx, m.Path, path.Join(w.dir, m.Name)); err != nil {
				return temp, fail("push model", err)
			}
		}
		for _, n := range names {
			local := filepath.Join(tmp, n)
			if err := os.WriteFile(local, extra[n], 0o644); err != nil {
				return temp, hostErr(local, err)
			}
			if err := w.t.Push(ctx, local, path.Join(w.dir, n)); err != nil {
				return temp, fail("push "+n, err)
			}
		}
	} else {
		tarPath := filepath.Join(tmp, "batch.tar")
		if err := writeTar(tarPath, push, names, extra); err != nil {
			return temp, hostErr(tarPath, err)
		}
		remote := path.Join(w.dir, "batch-"+strconv.Itoa(w.seq)+".tar")
		if err := w.t.Push(ctx, tarPath, remote); err != nil {
			w.t.Run(context.WithoutCancel(ctx), []string{"rm", "-f", remote}, devices.RunOptions{})
			return temp, fail("push models", err)
		}
		_, err := w.t.Run(ctx, []string{"sh", "-c", `cd "$2" && tar -xf "$1"; s=$?; rm -f "$1"; exit $s`, "sh", remote, w.dir}, devices.RunOptions{})
		if err != nil {
			return temp, fail("unpack models", err)
		}
	}
	for _, m := range push {
		if m.Reference {
			w.kept[m.Name] = true
		}
	}
	return temp, nil
}

// remove deletes staged files, freeing the device's disk for the next
// batch. Failing to is not worth failing the run for: the whole workspace
// goes at the end.
func (w *workspace) remove(ctx context.Context, names []string) {
	if len(names) == 0 {
		return
	}
	argv := []string{"rm", "-f"}
	for _, n := range names {
		argv = append(argv, path.Join(w.dir, n))
	}
	w.t.Run(context.WithoutCancel(ctx), argv, devices.RunOptions{})
}

// lowOnSpace asks the device whether the workspace's file system has less
// than need bytes free: SFTP and adb report a full disk as a bare
// "failure", so the cause is checked rather than guessed.
func (w *workspace) lowOnSpace(ctx context.Context, need int64) bool {
	res, err := w.t.Run(context.WithoutCancel(ctx), []string{"df", "-k", w.dir}, devices.RunOptions{})
	if err != nil {
		return false
	}
	avail, ok := dfAvailable(string(res.Stdout))
	return ok && avail < need
}

// dfAvailable reads the free bytes from `df -k DIR` output:
//
//	Filesystem 1K-blocks Used Available Use% Mounted on
//
// where a long device name may wrap onto a line of its own, so fields are
// read from the end.
func dfAvailable(out string) (int64, bool) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return 0, false
	}
	f := strings.Fields(strings.Join(lines[1:], " "))
	if len(f) < 4 {
		return 0, false
	}
	kb, err := strconv.ParseInt(f[len(f)-3], 10, 64)
	if err != nil || kb < 0 {
		return 0, false
	}
	return kb * 1024, true
}

func writeTar(dst string, models []runModel, names []string, extra map[string][]byte) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	add := func(name string, size int64, src io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		_, err := io.Copy(tw, src)
		return err
	}
	for _, m := range models {
		mf, err := os.Open(m.Path)
		if err != nil {
			f.Close()
			return err
		}
		fi, err := mf.Stat()
		if err == nil {
			err = add(m.Name, fi.Size(), mf)
		}
		mf.Close()
		if err != nil {
			f.Close()
			return err
		}
	}
	for _, n := range names {
		if err := add(n, int64(len(extra[n])), bytes.NewReader(extra[n])); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Close removes the workspace from the device.
func (w *workspace) Close(ctx context.Context) error {
	if w.clean == nil {
		return nil
	}
	return w.clean(ctx)
}
