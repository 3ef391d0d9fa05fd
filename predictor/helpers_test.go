package predictor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgefit/edgefit/profiler"
)

// sharedDir returns ../shared next to the repository root (the directory
// holding go.mod), where the OFA fixtures live, or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root (go.mod) not found")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("OFA fixtures not found at %s: run the tests beside ../shared", shared)
	}
	return shared
}

// note10 imports OFA's Note10 lookup tables (w1.2 space, r 160..224 step 16).
func note10(t testing.TB) *profiler.LUT {
	t.Helper()
	lut, err := profiler.ImportOFADir("ofa-mbv3-w1.2", filepath.Join(sharedDir(t), "ofa-upstream", "note10"))
	if err != nil {
		t.Fatal(err)
	}
	lut.Target = "Samsung Note10 (OFA)"
	return lut
}
