// Package agenttest builds edgefit-agent for tests and provides a small
// model to measure, so that tests of the profiler and the CLI can drive the
// real agent through local, SSH and ADB targets. It imports nothing of
// edgefit but internal helpers.
package agenttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
)

var (
	mu     sync.Mutex
	built  = map[string]string{}
	tmpDir string
)

// Root returns the module root (the directory holding go.mod).
func Root(t testing.TB) string { return testfix.RepoRoot(t) }

// Build compiles cmd/edgefit-agent for goos/goarch once per test binary
// and returns its path, named edgefit-agent-GOOS-GOARCH. Cross builds for
// linux/arm64 use CC=aarch64-linux-gnu-gcc and skip the test when that
// compiler is missing. The binaries live in a directory removed by
// [Cleanup] (call it from TestMain) or left in the OS temp dir.
func Build(t testing.TB, goos, goarch string) string {
	t.Helper()
	key := goos + "-" + goarch
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[key]; ok {
		return p
	}
	env := append(os.Environ(), "CGO_ENABLED=1", "GOOS="+goos, "GOARCH="+goarch)
	if goarch == "arm64" && goos == "linux" && !isNative(goos, goarch) {
		cc := "aarch64-linux-gnu-gcc"
		_, err := exec.LookPath(cc)
		testfix.Need(t, testfix.ARM64CC, err)
		env = append(env, "CC="+cc)
	}
	if tmpDir == "" {
		d, err := os.MkdirTemp("", "edgefit-agenttest-")
		if err != nil {
			t.Fatal(err)
		}
		tmpDir = d
	}
	out := filepath.Join(tmpDir, "edgefit-agent-"+key)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/edgefit-agent")
	cmd.Dir = Root(t)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build edgefit-agent for %s: %v\n%s", key, err, b)
	}
	built[key] = out
	return out
}

// Cleanup removes the built binaries.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
		tmpDir = ""
		built = map[string]string{}
	}
}

func isNative(goos, goarch string) bool {
	out, err := exec.Command("go", "env", "GOHOSTOS", "GOHOSTARCH").Output()
	return err == nil && string(out) == fmt.Sprintf("%s\n%s\n", goos, goarch)
}

// TinyModel returns profiler/bench/testdata/tinynet.onnx: a MobileNetV3-like
// block (conv+HardSwish, depthwise+ReLU, squeeze-excite, 1x1 conv, pool,
// Gemm) with input [N,3,64,64] and output [N,10].
func TinyModel(t testing.TB) string {
	t.Helper()
	return filepath.Join(Root(t), "profiler", "bench", "testdata", "tinynet.onnx")
}
