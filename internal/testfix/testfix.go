// Package testfix is what edgefit's tests share about the world outside
// the repository: the peers some tests need (ONNX Runtime, sshd, adb, qemu,
// python3-onnx, the arm64 cross compiler) and the read-only reference
// material in ../shared (OFA's published files and the fixtures written by
// the upstream OFA code, read in place and never copied into the repo).
//
// A test that needs a peer calls [Need] (or [Skip]): it skips, naming what
// is missing and how to get it, except under EDGEFIT_TEST_STRICT=1, where
// it fails, so that CI (.ci/run) cannot pass with a peer missing. Only
// tests import this package; it imports nothing else of edgefit and has no
// cgo, so that any package's tests may use it.
//
// A leaf helper: it imports nothing else of edgefit and uses no cgo.
package testfix

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// EnvStrict names the variable that turns a missing peer from a skip into
// a failure: EDGEFIT_TEST_STRICT=1.
const EnvStrict = "EDGEFIT_TEST_STRICT"

// The peers tests need, each with how to get it, for [Need].
const (
	ORT        = "ONNX Runtime (run `make ort`, or set EDGEFIT_ORT_LIB to a libonnxruntime.so.1)"
	SSHD       = "OpenSSH's sshd (apt-get install openssh-server openssh-sftp-server)"
	ADB        = "the adb client (apt-get install adb)"
	QEMU       = "qemu-aarch64-static (apt-get install qemu-user-static)"
	ARM64CC    = "the arm64 cross compiler and libraries (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstdc++6-arm64-cross)"
	PythonONNX = "python3 with the onnx module (apt-get install python3-onnx, or set EDGEFIT_PYTHON)"
	SharedDir  = "../shared beside the checkout, with OFA's published files and the OFA-written fixtures (run the tests in a checkout next to it)"
	GoTool     = "the go command on PATH"
)

// Strict reports whether EDGEFIT_TEST_STRICT=1 is set.
func Strict() bool { return os.Getenv(EnvStrict) == "1" }

// Skip skips the test with the message, or fails it under
// EDGEFIT_TEST_STRICT=1. Use it for a missing peer only; a test that does
// not apply (testing.Short, another architecture) calls t.Skip itself.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s [%s=1: a missing peer fails the test]", msg, EnvStrict)
	}
	t.Skip(msg)
}

// Need skips the test, or fails it under EDGEFIT_TEST_STRICT=1, when err
// is not nil: err says why the peer what (one of the constants above, or
// any description with how to get it) is not usable.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		Skip(t, "needs %s: %v", what, err)
	}
}

// RepoRoot returns the directory holding go.mod above the test's package.
func RepoRoot(t testing.TB) string {
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
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// Shared returns ../shared beside the repository root. Where it is absent
// the test skips, or fails under EDGEFIT_TEST_STRICT=1.
func Shared(t testing.TB) string {
	t.Helper()
	shared := filepath.Join(RepoRoot(t), "..", "shared")
	_, err := os.Stat(filepath.Join(shared, "ofa-upstream"))
	Need(t, SharedDir, err)
	return shared
}

// SharedFile returns the path of rel (slash-separated) under ../shared,
// which must exist: otherwise the test skips, or fails under
// EDGEFIT_TEST_STRICT=1.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Shared(t), filepath.FromSlash(rel))
	_, err := os.Stat(p)
	Need(t, SharedDir, err)
	return p
}

// AndroidLibrary returns ONNX Runtime's Android library for abi, the file
// where(abi) names (pass ortlib.AndroidLibraryPath, which this leaf
// package does not import). Where it is not cached (`make ort-android`)
// the test skips, or fails under EDGEFIT_TEST_STRICT=1, as with [Need].
func AndroidLibrary(t testing.TB, abi string, where func(abi string) (string, error)) string {
	t.Helper()
	p, err := where(abi)
	if err == nil {
		_, err = os.Stat(p)
	}
	Need(t, fmt.Sprintf("ONNX Runtime's Android library for %s (run `make ort-android`)", abi), err)
	return p
}
