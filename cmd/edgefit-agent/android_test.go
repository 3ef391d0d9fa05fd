package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler/agent/agenttest"
)

// makeAgentAndroid runs `make agent-android` in the repository with
// ANDROID_NDK_HOME as given ("" = unset), writing into a temporary BIN.
func makeAgentAndroid(t *testing.T, ndk string, vars ...string) (out string, built bool, err error) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		testfix.Skip(t, "needs make: apt install make")
	}
	bin := t.TempDir()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "agent-android", "BIN=" + bin}, vars...)...)
	cmd.Dir = agenttest.Root(t)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANDROID_NDK_HOME=") && !strings.HasPrefix(kv, "ANDROID_API=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if ndk != "" {
		cmd.Env = append(cmd.Env, "ANDROID_NDK_HOME="+ndk)
	}
	b, err := cmd.CombinedOutput()
	_, serr := os.Stat(filepath.Join(bin, "edgefit-agent-android-arm64"))
	return string(b), serr == nil, err
}

// fakeNDK lays out the parts of an NDK that `make agent-android` looks at:
// source.properties and a clang for aarch64-linux-android24 that records
// its call and fails (there is no bionic sysroot here to compile with).
func fakeNDK(t *testing.T, revision string) (dir, calls string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the fake NDK has Linux host tools only")
	}
	dir = t.TempDir()
	binDir := filepath.Join(dir, "toolchains", "llvm", "prebuilt", "linux-x86_64", "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "source.properties"), []byte("Pkg.Desc = Android NDK\nPkg.Revision = "+revision+"\n"), 0o644)
	calls = filepath.Join(dir, "calls.log")
	script := "#!/bin/sh\necho \"$0 $*\" >> '" + calls + "'\necho 'fake NDK clang: cannot compile' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(binDir, "aarch64-linux-android24-clang"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, calls
}

// TestMakeAgentAndroidWithoutNDK: with no usable NDK, `make agent-android`
// stops before building with one message that says what to install and
// where to point ANDROID_NDK_HOME, and why this NDK (if any) will not do.
func TestMakeAgentAndroidWithoutNDK(t *testing.T) {
	old, _ := fakeNDK(t, "25.2.9519653")
	tests := []struct {
		name, ndk, why string
		vars           []string
	}{
		{"unset", "", "ANDROID_NDK_HOME is not set", nil},
		{"empty dir", t.TempDir(), "has no source.properties, so it is not an NDK", nil},
		{"r25", old, "is version 25.2.9519653 (r25), older than r26", nil},
		{"api 23", old, "ANDROID_API=23 is below 24", []string{"ANDROID_API=23"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, built, err := makeAgentAndroid(t, tt.ndk, tt.vars...)
			if err == nil || built {
				t.Fatalf("make agent-android succeeded (built %v):\n%s", built, out)
			}
			for _, want := range []string{tt.why, "Android NDK r26 or newer", "SDK Manager", "developer.android.com/ndk/downloads", "export ANDROID_NDK_HOME="} {
				if strings.Count(out, want) != 1 {
					t.Errorf("output should say %q once:\n%s", want, out)
				}
			}
			if strings.Contains(out, "go build") {
				t.Errorf("the build started without an NDK:\n%s", out)
			}
		})
	}
}

// TestMakeAgentAndroidUsesNDKClang: with an NDK r26+ in place, the build
// runs for android/arm64 with that NDK's aarch64-linux-android24-clang as
// the C compiler. The fake clang cannot compile, so the build fails after
// calling it: this checks the wiring, not an Android build.
func TestMakeAgentAndroidUsesNDKClang(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the Go runtime for android/arm64 (about 20 s cold)")
	}
	ndk, calls := fakeNDK(t, "27.2.12479018")
	out, built, err := makeAgentAndroid(t, ndk)
	if err == nil || built {
		t.Fatalf("a fake NDK produced an agent:\n%s", out)
	}
	clang := filepath.Join(ndk, "toolchains", "llvm", "prebuilt", "linux-x86_64", "bin", "aarch64-linux-android24-clang")
	if !strings.Contains(out, "CGO_ENABLED=1 GOOS=android GOARCH=arm64 CC="+clang) {
		t.Errorf("make did not build for android/arm64 with the NDK's clang:\n%s", out)
	}
	b, _ := os.ReadFile(calls)
	if !strings.Contains(string(b), clang) || !strings.Contains(out, "fake NDK clang: cannot compile") {
		t.Errorf("go build never called the NDK's clang (calls: %q):\n%s", b, out)
	}
}
