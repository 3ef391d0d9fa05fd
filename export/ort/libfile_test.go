package ort

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/testfix"
)

// TestLinuxLibraryIsNotAndroid inspects the `make ort` library: the same
// version reading works on it, it is refused as an Android library, and
// loading it shows that the API version read from the file is exactly
// what its OrtGetApiBase serves.
func TestLinuxLibraryIsNotAndroid(t *testing.T) {
	initForTest(t)
	p := LibraryPath()
	lf, err := ortlib.InspectLibrary(p)
	if err != nil {
		t.Fatal(err)
	}
	if lf.IsAndroid() || lf.Android != nil {
		t.Errorf("Linux library reads as Android: %+v", lf)
	}
	if !strings.HasPrefix(Version(), lf.Version) || lf.Version == "" {
		t.Errorf("file says release %q, the loaded library says %q", lf.Version, Version())
	}
	for v, want := range map[int]bool{lf.APIVersion: true, lf.APIVersion + 1: false, ortlib.BindingsAPIVersion: true} {
		if got, err := servesAPI(v); err != nil || got != want {
			t.Errorf("GetApi(%d) served = %v (%v), want %v: the API version read from the file is %d", v, got, err, want, lf.APIVersion)
		}
	}
	abi := map[string]string{"EM_X86_64": "x86_64", "EM_AARCH64": "arm64-v8a"}[lf.Machine.String()]
	if _, err := ortlib.CheckAndroidLibrary(p, abi); err == nil || !strings.Contains(err.Error(), "not an Android build") || !strings.Contains(err.Error(), "make ort-android") {
		t.Errorf("Linux library checked as Android %s: %v", abi, err)
	}
}

// TestBindingsAPIVersion reads ORT_API_VERSION from the bindings' own
// copy of onnxruntime_c_api.h in the module cache.
func TestBindingsAPIVersion(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		testfix.Skip(t, "locate the onnxruntime_go module: %v", err)
	}
	h, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "onnxruntime_c_api.h"))
	if err != nil {
		testfix.Skip(t, "read the bindings' C header: %v", err)
	}
	m := regexp.MustCompile(`#define ORT_API_VERSION ([0-9]+)`).FindSubmatch(h)
	if m == nil {
		t.Fatal("no ORT_API_VERSION in the bindings' header")
	}
	if v, _ := strconv.Atoi(string(m[1])); v != ortlib.BindingsAPIVersion {
		t.Errorf("the bindings ask for C API %d, BindingsAPIVersion is %d", v, ortlib.BindingsAPIVersion)
	}
}
