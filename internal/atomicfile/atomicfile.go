// Package atomicfile writes files so that a reader, or the next run after
// a crash, sees either the old file or the whole new one, never a part.
// It is edgefit's one way to put a result on disk: lookup tables, ONNX
// models, predictors, plots, reports and files pulled from devices.
//
// Every writer here goes the same way: a temporary file in the
// destination's directory (so that the rename cannot cross file systems),
// the data, fsync, the mode, rename over the destination, then fsync of
// the directory so that the rename itself survives a crash. On any error
// the temporary file is removed and an existing destination is left as it
// was.
//
// Files get mode [Mode], 0644, set explicitly so that the umask does not
// narrow it, unless the caller names another with [WriteMode] or
// [File.SetMode].
//
// A leaf helper: it imports nothing else of edgefit and uses no cgo.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Mode is the permission of every file this package writes, unless
// [WriteMode] is given another.
const Mode fs.FileMode = 0o644

// WriteFile writes data to path atomically, with mode [Mode].
func WriteFile(path string, data []byte) error {
	return WriteMode(path, Mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write streams a file to path atomically, with mode [Mode]: write gets
// the temporary file, and whatever error it returns aborts the file.
func Write(path string, write func(w io.Writer) error) error {
	return WriteMode(path, Mode, write)
}

// WriteMode is [Write] with the permission bits perm, for copies that
// keep their source's mode.
func WriteMode(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Discard()
	f.SetMode(perm)
	if err := write(f.f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// Fill writes path atomically through a program that writes the file
// itself, such as `adb pull`: fill gets a fresh temporary name in path's
// directory (an empty file exists there; fill may replace it), and once
// it returns nil the file under that name becomes path, with mode [Mode].
func Fill(path string, fill func(tmp string) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Discard()
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f.f = nil
	if err := fill(f.tmp); err != nil {
		return err
	}
	return f.Commit()
}

// File is a file being written to a temporary name beside its
// destination, for work that stages several files and places them only
// once all are complete. Create one with [Create]; end it with
// [File.Commit] or [File.Discard].
type File struct {
	path, tmp string
	f         *os.File // nil once closed
	perm      fs.FileMode
	done      bool
}

// Create starts writing path: it opens a temporary file in path's
// directory. It fails with a hint when the directory does not exist.
func Create(path string) (*File, error) {
	dir := filepath.Dir(path)
	if err := dirProblem(dir); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w (is the directory writable?)", path, err)
	}
	return &File{path: path, tmp: f.Name(), f: f, perm: Mode}, nil
}

// dirProblem says why files cannot be created in dir, if it is missing
// or not a directory, or nil; the caller names the file in front.
func dirProblem(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist: create it first", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.f == nil {
		return 0, fmt.Errorf("write %s: %w", f.path, fs.ErrClosed)
	}
	return f.f.Write(p)
}

// SetMode sets the permission bits the file gets at [File.Commit], in
// place of [Mode]: 0755 for a program or a shared library, say.
func (f *File) SetMode(perm fs.FileMode) { f.perm = perm }

// Name returns the temporary file's path, where its data can be read
// back before it is committed.
func (f *File) Name() string { return f.tmp }

// Commit syncs the temporary file, gives it its mode and renames it over
// the destination, then syncs the directory. After an error the
// temporary file is gone and the destination unchanged.
func (f *File) Commit() (err error) {
	if f.done {
		return fmt.Errorf("write %s: already committed or discarded", f.path)
	}
	defer func() {
		if err != nil {
			f.Discard()
			err = fmt.Errorf("write %s: %w", f.path, err)
		}
	}()
	if f.f == nil {
		// A program wrote the file under its temporary name (see Fill),
		// possibly as a new inode: sync what is there now.
		if f.f, err = os.OpenFile(f.tmp, os.O_RDWR, 0); err != nil {
			return err
		}
	}
	if err = f.f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err = f.f.Chmod(f.perm); err != nil {
		return err
	}
	err = f.f.Close()
	f.f = nil
	if err != nil {
		return err
	}
	if err = os.Rename(f.tmp, f.path); err != nil {
		// The temporary name means nothing to the reader: the error
		// names the destination (see the deferred wrap).
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err
		}
		return err
	}
	f.done = true
	SyncDir(filepath.Dir(f.path))
	return nil
}

// Discard closes and removes the temporary file, leaving the destination
// as it was. It does nothing after Commit, so it can be deferred.
func (f *File) Discard() {
	if f.done {
		return
	}
	f.done = true
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
	os.Remove(f.tmp)
}

// SyncDir fsyncs a directory, so that files created, renamed or removed in
// it survive a crash. Some file systems refuse to sync a directory; that
// costs only this guarantee, so it is not an error.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
