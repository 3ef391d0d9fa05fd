package predictor

import (
	"path/filepath"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler/lut"
)

// sharedDir returns ../shared next to the repository root (the directory
// holding go.mod), where the OFA fixtures live, or skips the test.
func sharedDir(t testing.TB) string { return testfix.Shared(t) }

// note10 imports OFA's Note10 lookup tables (w1.2 space, r 160..224 step 16).
func note10(t testing.TB) *lut.LUT {
	t.Helper()
	tbl, err := lut.ImportOFADir("ofa-mbv3-w1.2", filepath.Join(sharedDir(t), "ofa-upstream", "note10"))
	if err != nil {
		t.Fatal(err)
	}
	tbl.Target = "Samsung Note10 (OFA)"
	return tbl
}
