package export

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
)

// checkerScript runs ONNX's own checker (full_check also runs shape
// inference) on every file named on the command line.
const checkerScript = `
import sys, onnx
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as e:
        print("FAIL", path, e)
        sys.exit(1)
print("ok", onnx.__version__, len(sys.argv) - 1)
`

func onnxChecker(t *testing.T) func(paths ...string) {
	t.Helper()
	// Debian's python3-onnx lives in the system interpreter, which a
	// pyenv or virtualenv python3 earlier in PATH would not see.
	candidates := []string{os.Getenv("EDGEFIT_PYTHON"), "python3", "/usr/bin/python3"}
	py := ""
	var tried []string
	for _, c := range candidates {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if err := exec.Command(p, "-c", "import onnx").Run(); err != nil {
			tried = append(tried, p)
			continue
		}
		py = p
		break
	}
	if py == "" {
		testfix.Need(t, testfix.PythonONNX, fmt.Errorf("none of %v imports onnx", tried))
	}
	return func(paths ...string) {
		t.Helper()
		out, err := exec.Command(py, append([]string{"-c", checkerScript}, paths...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("onnx.checker rejected a model: %v\n%s", err, out)
		}
		t.Logf("onnx.checker: %s", strings.TrimSpace(string(out)))
	}
}

func TestONNXChecker(t *testing.T) {
	check := onnxChecker(t)
	dir := t.TempDir()
	var paths []string
	w10, w12 := space(t, "w1.0"), space(t, "w1.2")
	for i, c := range []spaceConfig{
		{w10, w10.MaxConfig(224)},
		{w10, w10.MinConfig(128)},
		{w12, w12.MaxConfig(160)},
	} {
		p := filepath.Join(dir, fmt.Sprintf("net%d.onnx", i))
		if err := WriteFile(p, randomNet(t, c.s, c.c, uint64(i)), Metadata{ToolVersion: "test", Predictions: map[string]string{"latency_ms": "1"}}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, s := range []*spaceConfig{{w10, w10.MaxConfig(224)}, {w12, w12.MaxConfig(160)}} {
		for i, l := range s.s.DistinctLayers(s.c.R) {
			b, err := LayerModel(l, 1+i%3, 1)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, fmt.Sprintf("%s-layer%02d.onnx", s.s.Name, i))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	check(paths...)
}
