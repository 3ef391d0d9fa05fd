package zoo

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
)

// A VerifyError says that a file is not the one OFA published: its size,
// its hash or its structure is wrong. The file has been removed from the
// cache (or, for an import, was never placed there).
type VerifyError struct {
	Item  string // catalogue item
	File  string // the file's name in the cache
	Check string // "size", "git-sha1" or "structure"
	Want  string // expected value (size or hash); "" for structure
	Got   string // value found; "" for structure
	Err   error  // the structure problem, when Check is "structure"
}

func (e *VerifyError) Error() string {
	if e.Check == "structure" {
		return fmt.Sprintf("verify %s (%s): %v", e.File, e.Item, e.Err)
	}
	return fmt.Sprintf("verify %s (%s): %s mismatch: expected %s, got %s", e.File, e.Item, e.Check, e.Want, e.Got)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// GitBlobSHA1 returns the hex git blob SHA-1 of the size bytes read from r:
// SHA-1 of "blob SIZE\x00" followed by the content, which is what
// "git hash-object" prints. It fails if r holds fewer than size bytes.
func GitBlobSHA1(r io.Reader, size int64) (string, error) {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", size)
	n, err := io.Copy(h, io.LimitReader(r, size))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("read %d bytes, want %d", n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileGitSHA1 hashes the file at path and returns its size and blob SHA-1.
func fileGitSHA1(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	sum, err := GitBlobSHA1(f, st.Size())
	if err != nil {
		return 0, "", fmt.Errorf("hash %s: %w", path, err)
	}
	return st.Size(), sum, nil
}

// checkFile runs every check of f on the file at path (which may be a
// .part or temporary file) and returns its size and blob SHA-1.
func checkFile(item string, f File, path string) (int64, string, error) {
	size, sum, err := fileGitSHA1(path)
	if err != nil {
		return 0, "", err
	}
	if f.Size > 0 && size != f.Size {
		return 0, "", &VerifyError{Item: item, File: f.Name, Check: "size",
			Want: strconv.FormatInt(f.Size, 10) + " bytes", Got: strconv.FormatInt(size, 10) + " bytes"}
	}
	if f.GitSHA1 != "" && sum != f.GitSHA1 {
		return 0, "", &VerifyError{Item: item, File: f.Name, Check: "git-sha1", Want: f.GitSHA1, Got: sum}
	}
	if f.Verify != nil {
		if err := f.Verify(path); err != nil {
			return 0, "", &VerifyError{Item: item, File: f.Name, Check: "structure", Err: err}
		}
	}
	return size, sum, nil
}

// sidecar records that a cached file passed every check, so that later
// uses only need to re-hash it (OFA's supernets are checked by structure,
// which means loading tens of megabytes of tensors).
type sidecar struct {
	Item     string    `json:"item"`
	URL      string    `json:"url,omitempty"`    // where it was downloaded from
	Source   string    `json:"source,omitempty"` // or the file it was imported from
	Size     int64     `json:"size"`
	GitSHA1  string    `json:"git_sha1"`
	Verified time.Time `json:"verified"`
}

const sidecarSuffix = ".verified"

func readSidecar(dest string) (*sidecar, error) {
	data, err := os.ReadFile(dest + sidecarSuffix)
	if err != nil {
		return nil, err
	}
	var s sidecar
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w", dest+sidecarSuffix, err)
	}
	return &s, nil
}

func writeSidecar(dest string, s *sidecar) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(dest+sidecarSuffix, append(data, '\n'))
}

// cachedOK reports whether the cached file dest still is the file that was
// verified: its size and hash match the known values, or the sidecar's
// when none are known. It never loads the file's structure.
func cachedOK(f File, dest string) (bool, error) {
	size, sum, err := fileGitSHA1(dest)
	if err != nil {
		return false, err
	}
	sc, scErr := readSidecar(dest)
	if f.GitSHA1 != "" {
		// OFA's bytes are known: the hash alone proves the file, even one
		// placed in the cache by hand without a sidecar.
		return sum == f.GitSHA1 && (f.Size == 0 || size == f.Size), nil
	}
	if scErr != nil {
		return false, nil
	}
	return sc.Size == size && sc.GitSHA1 == sum, nil
}

// verifySupernet loads path as an OFA MobileNetV3 checkpoint (which checks
// every tensor's name and shape) and requires the given width.
func verifySupernet(path string, width float64) error {
	ck, err := supernet.LoadCheckpoint(path)
	if err != nil {
		return err
	}
	if ck.Space.WidthMult != width {
		return fmt.Errorf("the checkpoint is the width %g supernet (%s), not width %g: it was published under the wrong name or the wrong file was served",
			ck.Space.WidthMult, ck.Space.Name, width)
	}
	return nil
}

// verifyLUT parses path as OFA's lookup table for resolution r: 96 keys,
// each a layer of the w1.2 space with {count, mean, std}.
func verifyLUT(path string, r int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tbl, err := lut.ImportOFA(SupernetW12, map[int]io.Reader{r: bytes.NewReader(data)})
	if err != nil {
		return err
	}
	if n := len(tbl.Entries); n != 96 {
		return fmt.Errorf("%s has %d keys, OFA's Note10 tables have 96", filepath.Base(path), n)
	}
	return nil
}
