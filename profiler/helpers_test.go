package profiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgefit/edgefit/export/ort"
)

// requireORT loads ONNX Runtime (EDGEFIT_ORT_LIB or the `make ort` cache)
// or skips the test saying how to get it.
func requireORT(t testing.TB) {
	t.Helper()
	if err := ort.Init(""); err != nil {
		t.Skipf("ONNX Runtime not available (%v); run `make ort` or set EDGEFIT_ORT_LIB", err)
	}
}

// repoRoot returns the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}
