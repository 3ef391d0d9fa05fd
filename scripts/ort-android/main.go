// Command ort-android installs ONNX Runtime's Android libraries from the
// npm package `make ort-android` packs (ortlib.AndroidPackage): it reads
// Microsoft's onnxruntime.aar out of the package tarball, extracts
// jni/<abi>/libonnxruntime.so for each ABI in ortlib.AndroidABIs, checks each
// file with ortlib.CheckAndroidLibrary (ELF machine, Android build, C API
// version) and that it is release ortlib.AndroidLibraryVersion, and only
// then moves it into place:
//
//	DIR/android-<abi>/libonnxruntime.so
//	DIR/android-<abi>/LICENSE      the package's licence (MIT, Microsoft)
//	DIR/android-<abi>/SOURCE.txt   where it came from, its SHA-256, what the check found
//
// Usage: go run ./scripts/ort-android PACKAGE.tgz DIR
//
// It needs neither unzip nor network access; `make ort-android` runs npm.
//
// It imports nothing of edgefit but internal helpers, and no cgo.
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/internal/ortlib"
)

// Paths inside the npm tarball and the AAR.
const (
	aarMember     = "package/Plugins/Android/onnxruntime.aar"
	licenseMember = "package/LICENSE"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ort-android PACKAGE.tgz DIR")
		os.Exit(2)
	}
	done, err := install(os.Args[1], os.Args[2], ortlib.AndroidABIs)
	for _, d := range done {
		fmt.Println(d)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ort-android:", err)
		os.Exit(1)
	}
}

// install extracts and checks the libraries of abis from the package
// tarball into dir, returning one line per installed library. A library
// that fails its check is not installed.
func install(tgz, dir string, abis []string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	aar, err := os.CreateTemp(dir, ".onnxruntime-*.aar")
	if err != nil {
		return nil, err
	}
	defer os.Remove(aar.Name())
	defer aar.Close()
	license, err := unpackTarball(tgz, aar)
	if err != nil {
		return nil, err
	}
	aarSum, err := fileSHA256(aar.Name())
	if err != nil {
		return nil, err
	}
	st, err := aar.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(aar, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", aarMember, tgz, err)
	}
	var done []string
	for _, abi := range abis {
		line, err := installABI(zr, dir, abi, license, aarSum)
		if err != nil {
			return done, err
		}
		done = append(done, line)
	}
	return done, nil
}

// unpackTarball copies the AAR out of the gzipped npm tarball into aar and
// returns the package's LICENSE text.
func unpackTarball(tgz string, aar io.Writer) (license []byte, err error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(gz)
	foundAAR := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tgz, err)
		}
		switch h.Name {
		case aarMember:
			if _, err := io.Copy(aar, tr); err != nil {
				return nil, fmt.Errorf("%s: extract %s: %w", tgz, aarMember, err)
			}
			foundAAR = true
		case licenseMember:
			if license, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
				return nil, fmt.Errorf("%s: read %s: %w", tgz, licenseMember, err)
			}
		}
	}
	switch {
	case !foundAAR:
		return nil, fmt.Errorf("%s holds no %s: is it %s?", tgz, aarMember, ortlib.AndroidPackage)
	case len(license) == 0:
		return nil, fmt.Errorf("%s holds no %s: the libraries' licence cannot be recorded", tgz, licenseMember)
	}
	return license, nil
}

// installABI extracts jni/<abi>/libonnxruntime.so next to its final place,
// checks it, writes LICENSE and SOURCE.txt, and commits it into place
// (mode 0755) with atomicfile.
func installABI(zr *zip.Reader, dir, abi string, license []byte, aarSum string) (string, error) {
	member := "jni/" + abi + "/libonnxruntime.so"
	zf, err := zr.Open(member)
	if err != nil {
		return "", fmt.Errorf("%s: %w", member, err)
	}
	defer zf.Close()
	sub := filepath.Join(dir, "android-"+abi)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", err
	}
	final := filepath.Join(sub, "libonnxruntime.so")
	lib, err := atomicfile.Create(final)
	if err != nil {
		return "", err
	}
	defer lib.Discard() // a no-op once committed
	lib.SetMode(0o755)
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(lib, h), zf); err != nil {
		return "", fmt.Errorf("extract %s: %w", member, err)
	}
	lf, err := ortlib.CheckAndroidLibrary(lib.Name(), abi)
	if err != nil {
		return "", fmt.Errorf("%s from %s failed its check: %w", member, ortlib.AndroidPackage, err)
	}
	if lf.Version != ortlib.AndroidLibraryVersion {
		return "", fmt.Errorf("%s from %s is ONNX Runtime %s, but edgefit expects %s there: update ortlib.AndroidLibraryVersion and ORT_ANDROID_VERSION in the Makefile together",
			member, ortlib.AndroidPackage, lf.Version, ortlib.AndroidLibraryVersion)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	facts := fmt.Sprintf("ONNX Runtime %s (C API versions up to %d), %s %s, Android API level %d, NDK %s (build %s)",
		lf.Version, lf.APIVersion, lf.Machine, lf.Class, lf.Android.APILevel, lf.Android.NDK, lf.Android.NDKBuild)
	source := fmt.Sprintf("%s\nfrom npm package %s, %s (sha256 %s), member %s\nsha256 %s\nlinks %s\n",
		facts, ortlib.AndroidPackage, aarMember, aarSum, member, sum, strings.Join(lf.Needed, " "))
	for name, data := range map[string][]byte{"LICENSE": license, "SOURCE.txt": []byte(source)} {
		if err := atomicfile.WriteFile(filepath.Join(sub, name), data); err != nil {
			return "", err
		}
	}
	if err := lib.Commit(); err != nil {
		return "", err
	}
	return final + ": " + facts, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
