package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/testfix"
)

// cached returns a library `make ort` fetched.
func cached(t *testing.T, where func() (string, error)) string {
	t.Helper()
	path, err := where()
	if err == nil {
		_, err = os.Stat(path)
	}
	if err != nil {
		testfix.Skip(t, "cached ONNX Runtime library missing (%v): run `make ort`", err)
	}
	return path
}

// fakePackage writes an npm tarball shaped like the real one: an AAR whose
// jni/<abi>/libonnxruntime.so members are the given files, and a LICENSE.
func fakePackage(t *testing.T, libs map[string]string, license string) string {
	t.Helper()
	var aar bytes.Buffer
	zw := zip.NewWriter(&aar)
	for abi, src := range libs {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "jni/" + abi + "/libonnxruntime.so", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tgz := filepath.Join(t.TempDir(), "package.tgz")
	f, err := os.Create(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, _ := gzip.NewWriterLevel(f, gzip.NoCompression)
	tw := tar.NewWriter(gz)
	members := map[string][]byte{aarMember: aar.Bytes()}
	if license != "" {
		members[licenseMember] = []byte(license)
	}
	for name, data := range members {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return tgz
}

func TestInstallChecksBeforeInstalling(t *testing.T) {
	android := testfix.AndroidLibrary(t, "x86_64", ortlib.AndroidLibraryPath)
	linux := cached(t, func() (string, error) { return ortlib.CachedPath("amd64") })
	dir := t.TempDir()

	// The real Android x86_64 library is installed with its licence and
	// provenance; the sha256 recorded is that of the file in place.
	done, err := install(fakePackage(t, map[string]string{"x86_64": android}, "MIT License\n"), dir, []string{"x86_64"})
	if err != nil || len(done) != 1 || !strings.Contains(done[0], "ONNX Runtime 1.29.0") {
		t.Fatalf("install: %v %v", done, err)
	}
	sub := filepath.Join(dir, "android-x86_64")
	src, _ := fileSHA256(android)
	got, _ := fileSHA256(filepath.Join(sub, "libonnxruntime.so"))
	prov, _ := os.ReadFile(filepath.Join(sub, "SOURCE.txt"))
	lic, _ := os.ReadFile(filepath.Join(sub, "LICENSE"))
	if got != src || !strings.Contains(string(prov), "sha256 "+src) || string(lic) != "MIT License\n" {
		t.Errorf("installed sha256 %s (source %s), SOURCE.txt %q, LICENSE %q", got, src, prov, lic)
	}

	// A Linux build in the x86_64 slot fails the check and is not
	// installed; the good file from before stays.
	_, err = install(fakePackage(t, map[string]string{"x86_64": linux}, "MIT License\n"), dir, []string{"x86_64"})
	if err == nil || !strings.Contains(err.Error(), "not an Android build") {
		t.Fatalf("Linux library installed as Android: %v", err)
	}
	if after, _ := fileSHA256(filepath.Join(sub, "libonnxruntime.so")); after != src {
		t.Error("a library that failed its check replaced the installed one")
	}
	if left, _ := filepath.Glob(filepath.Join(sub, ".*")); len(left) != 0 { // atomicfile's temporary names
		t.Errorf("temporary files left: %v", left)
	}

	// An ABI the package lacks, or a package without a licence, is an error.
	if _, err := install(fakePackage(t, map[string]string{"x86_64": android}, "MIT"), dir, []string{"arm64-v8a"}); err == nil || !strings.Contains(err.Error(), "jni/arm64-v8a/libonnxruntime.so") {
		t.Errorf("missing ABI: %v", err)
	}
	if _, err := install(fakePackage(t, map[string]string{"x86_64": android}, ""), dir, []string{"x86_64"}); err == nil || !strings.Contains(err.Error(), "LICENSE") {
		t.Errorf("missing licence: %v", err)
	}
}

// TestMakefileAgrees keeps the Makefile's package and version in step with
// the constants edgefit looks the libraries up by.
func TestMakefileAgrees(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(testfix.RepoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"ORT_ANDROID_PACKAGE": ortlib.AndroidPackage, "ORT_ANDROID_VERSION": ortlib.AndroidLibraryVersion,
		"ORT_ANDROID_ABIS": strings.Join(ortlib.AndroidABIs, " ")} {
		m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(.+)$`).FindSubmatch(mk)
		if m == nil || strings.TrimSpace(string(m[1])) != want {
			t.Errorf("Makefile %s = %q, Go says %q", name, m, want)
		}
	}
}
