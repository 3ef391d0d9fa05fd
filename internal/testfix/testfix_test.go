package testfix

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestChildNeed and TestChildShared are run by the tests below in a child
// test process, so that a skip or a failure there can be observed.
func TestChildNeed(t *testing.T) {
	if os.Getenv("TESTFIX_CHILD") != "1" {
		t.Skip("run by TestNeedStrict")
	}
	Need(t, "the frobnicator (apt-get install frob)", errors.New("frob: not found"))
	t.Log("reached after Need")
}

func TestChildShared(t *testing.T) {
	if os.Getenv("TESTFIX_CHILD") != "1" {
		t.Skip("run by TestSharedStrict")
	}
	SharedFile(t, "no/such/file-for-testfix")
	t.Log("reached after SharedFile")
}

func TestChildAndroid(t *testing.T) {
	if os.Getenv("TESTFIX_CHILD") != "1" {
		t.Skip("run by TestAndroidLibraryStrict")
	}
	AndroidLibrary(t, "x86_64", func(abi string) (string, error) { return "no/such/android-" + abi + "/libonnxruntime.so", nil })
	t.Log("reached after AndroidLibrary")
}

// child runs test in a child process with EDGEFIT_TEST_STRICT set to
// strict and returns its verbose output and whether it passed.
func child(t *testing.T, test, strict string) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTFIX_CHILD=1", EnvStrict+"="+strict)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), err == nil
}

func TestNeedStrict(t *testing.T) {
	out, ok := child(t, "TestChildNeed", "")
	if !ok || !strings.Contains(out, "--- SKIP: TestChildNeed") || !strings.Contains(out, "needs the frobnicator (apt-get install frob): frob: not found") {
		t.Errorf("without strict mode Need should skip naming the peer:\n%s", out)
	}
	out, ok = child(t, "TestChildNeed", "1")
	if ok || !strings.Contains(out, "--- FAIL: TestChildNeed") || !strings.Contains(out, "needs the frobnicator (apt-get install frob): frob: not found") || strings.Contains(out, "reached after Need") {
		t.Errorf("under EDGEFIT_TEST_STRICT=1 Need should fail at once, naming the peer:\n%s", out)
	}
}

func TestSharedStrict(t *testing.T) {
	out, ok := child(t, "TestChildShared", "1")
	if ok || !strings.Contains(out, "--- FAIL: TestChildShared") || !strings.Contains(out, "../shared") || strings.Contains(out, "reached after") {
		t.Errorf("under EDGEFIT_TEST_STRICT=1 a missing ../shared file should fail the test:\n%s", out)
	}
	out, ok = child(t, "TestChildShared", "")
	if !ok || !strings.Contains(out, "--- SKIP: TestChildShared") {
		t.Errorf("without strict mode a missing ../shared file should skip:\n%s", out)
	}
}

func TestAndroidLibraryStrict(t *testing.T) {
	const want = "needs ONNX Runtime's Android library for x86_64 (run `make ort-android`): "
	out, ok := child(t, "TestChildAndroid", "")
	if !ok || !strings.Contains(out, "--- SKIP: TestChildAndroid") || !strings.Contains(out, want) {
		t.Errorf("without strict mode a missing Android library should skip naming it:\n%s", out)
	}
	out, ok = child(t, "TestChildAndroid", "1")
	if ok || !strings.Contains(out, "--- FAIL: TestChildAndroid") || !strings.Contains(out, want) || strings.Contains(out, "reached after") {
		t.Errorf("under EDGEFIT_TEST_STRICT=1 a missing Android library should fail the test:\n%s", out)
	}
	dir := t.TempDir()
	if got := AndroidLibrary(t, "x86_64", func(string) (string, error) { return dir, nil }); got != dir {
		t.Errorf("AndroidLibrary = %q, want %q", got, dir)
	}
}
