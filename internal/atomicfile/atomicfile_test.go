package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// entries lists dir, so that a test can see that no temporary file was
// left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func checkFile(t *testing.T, path, want string, mode fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s holds %q, want %q", path, b, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
}

func TestWriteFileModeDespiteUmask(t *testing.T) {
	old := syscall.Umask(0o077) // what left select's reports 0600 before
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	if err := WriteFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "one", 0o644)
	if err := WriteFile(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "two", 0o644)
	if got := entries(t, dir); len(got) != 1 { // ro
		t.Errorf("directory holds %v, want only report.json", got)
	}
}

func TestWriteErrorKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.onnx")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v, want boom naming %s", err, p)
	}
	checkFile(t, p, "old", 0o644)
	if got := entries(t, dir); len(got) != 1 { // ro
		t.Errorf("directory holds %v after a failed write, want only model.onnx", got)
	}
}

func TestWriteModeKeepsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "edgefit-agent")
	if err := WriteMode(p, 0o755, func(w io.Writer) error { _, err := io.WriteString(w, "#!"); return err }); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "#!", 0o755)
}

func TestStagedSetMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "libonnxruntime.so")
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Discard()
	f.SetMode(0o755)
	io.WriteString(f, "\x7fELF")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "\x7fELF", 0o755)
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("directory holds %v, want only libonnxruntime.so", got)
	}
}

func TestMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	err := WriteFile(filepath.Join(dir, "x"), []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "does not exist: create it first") {
		t.Errorf("error %v, want a hint to create %s", err, dir)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(file, "x"), nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("error %v, want 'not a directory'", err)
	}
}

func TestFillReplacedInode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pulled")
	// Like adb pull: the tool unlinks the name it is given and creates
	// its own file there.
	err := Fill(p, func(tmp string) error {
		if filepath.Dir(tmp) != dir {
			t.Errorf("temporary file %s is not beside %s", tmp, p)
		}
		if err := os.Remove(tmp); err != nil {
			return err
		}
		return os.WriteFile(tmp, []byte("data"), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "data", 0o644)

	boom := errors.New("pull failed")
	if err := Fill(filepath.Join(dir, "other"), func(tmp string) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want the fill's", err)
	}
	if got := entries(t, dir); len(got) != 1 { // ro
		t.Errorf("directory holds %v, want only pulled", got)
	}
}

func TestStageThenCommit(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	fa, err := Create(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Discard()
	fb, err := Create(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Discard()
	io.WriteString(fa, "first")
	io.WriteString(fb, "second")
	// Staged data can be checked under the temporary name before it is
	// placed.
	if got, err := os.ReadFile(fa.Name()); err != nil || string(got) != "first" {
		t.Fatalf("staged file holds %q (%v)", got, err)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("destination exists before Commit: %v", err)
	}
	if err := fa.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := fa.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	fb.Discard()
	checkFile(t, a, "first", 0o644)
	if got := entries(t, dir); len(got) != 1 || got[0] != "a" {
		t.Errorf("directory holds %v, want only a", got)
	}
	if _, err := fb.Write([]byte("x")); err == nil {
		t.Error("write after Discard succeeded")
	}
}

func TestCommitFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dest")
	// A non-empty directory cannot be renamed over.
	if err := os.MkdirAll(filepath.Join(p, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(p, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), ".tmp-") {
		t.Fatalf("error %v, want a failed rename naming %s and no temporary file", err, p)
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "dest" {
		t.Errorf("directory holds %v after a failed commit, want only dest", got)
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDir(filepath.Join(dir, "out.json")); err != nil {
		t.Fatalf("a writable directory: %v", err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		ro = "/sys/kernel" // root writes anywhere else
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "s.json"), "directory " + filepath.Join(dir, "missing") + " does not exist"},
		{dir, "cannot write " + dir + ": it is a directory"},
		{filepath.Join(ro, "t.lut.json"), "directory " + ro + " is not writable"},
	} {
		err := CheckDir(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), ".check-") {
			t.Errorf("CheckDir(%s) = %v, want one saying %q", tc.path, err, tc.want)
		}
	}
	if got := entries(t, dir); len(got) != 1 { // ro
		t.Errorf("CheckDir left %v behind", got)
	}
}
