package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CheckDir reports, before any long work, whether a file could be written
// at path: path is not a directory, and its directory exists, is a
// directory and accepts new files (a temporary file is created there and
// removed). The error names path and the directory and says what to do.
func CheckDir(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("cannot write %s: it is a directory: name a file, such as %s", path, filepath.Join(path, "out.json"))
	}
	dir := filepath.Dir(path)
	if err := dirProblem(dir); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: directory %s is not writable (%v): choose another output path", path, dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}
