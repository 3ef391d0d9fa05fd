package profiler

import (
	"testing"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
)

// requireORT loads ONNX Runtime (EDGEFIT_ORT_LIB or the `make ort` cache)
// or skips the test saying how to get it.
func requireORT(t testing.TB) {
	t.Helper()
	testfix.Need(t, testfix.ORT, ort.Init(""))
}
