package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/adbfake"
	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/profiler/agent/agenttest"
	"github.com/edgefit/edgefit/profiler/bench"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	agenttest.Cleanup()
	os.Exit(code)
}

func needORT(t *testing.T) string {
	t.Helper()
	lib, err := ortlib.CachedPath(runtime.GOARCH)
	if err == nil {
		_, err = os.Stat(lib)
	}
	testfix.Need(t, testfix.ORT, err)
	return lib
}

// deployAndMeasure is the end-to-end path: deploy to tg, deploy again
// (everything cached), measure tinynet with profiling, and check the
// outputs against the same model run in this process.
func deployAndMeasure(t *testing.T, tg devices.Target, opts agent.Options) {
	ctx := context.Background()
	needORT(t)
	if opts.Agent == "" {
		opts.Agent = agenttest.Build(t, "linux", runtime.GOARCH)
	}
	a, err := agent.Deploy(ctx, tg, opts)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if a.Pushed != 2 {
		t.Errorf("first deploy pushed %d files, want 2", a.Pushed)
	}
	if a.Info.ORTVersion != "1.24.1" || !slices.Contains(a.Info.Providers, "CPUExecutionProvider") || a.Info.GOARCH != runtime.GOARCH {
		t.Errorf("agent info = %+v", a.Info)
	}
	again, err := agent.Deploy(ctx, tg, opts)
	if err != nil || again.Pushed != 0 || again.Bin != a.Bin {
		t.Fatalf("second deploy pushed %d (%v), want everything cached", again.Pushed, err)
	}

	profiles := t.TempDir()
	spec := wire.ModelSpec{ID: "tiny it's $(x)", Runs: 8, Warmup: 2, Threads: 1, Outputs: -1, Seed: 42, Profile: true}
	broken := wire.ModelSpec{ID: "broken", Runs: 3, Provider: "nnapi"}
	var results []wire.Result
	var log bytes.Buffer
	err = a.Run(ctx, []agent.Model{{Local: agenttest.TinyModel(t), Spec: spec}, {Local: agenttest.TinyModel(t), Spec: broken}},
		agent.RunOptions{ProfileDir: profiles, Stderr: &log},
		func(r wire.Result) error { results = append(results, r); return nil })
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if len(results) != 2 {
		t.Fatalf("got %d results, want 2", len(results))
	}
	r := results[0]
	if r.ID != spec.ID || r.Error != "" || r.Stats.N != 8 || r.Stats.Median <= 0 || r.LoadMS <= 0 || r.PeakRSSBytes <= 0 {
		t.Errorf("result = %+v", r)
	}
	if filepath.Dir(r.ProfileFile) != profiles {
		t.Errorf("profile %q not pulled into %s", r.ProfileFile, profiles)
	} else if b, err := os.ReadFile(r.ProfileFile); err != nil || !bytes.Contains(b, []byte("kernel_time")) {
		t.Errorf("pulled profile unusable: %v", err)
	}
	if results[1].ID != "broken" || !strings.Contains(results[1].Error, "Nnapi") {
		t.Errorf("broken model result = %+v", results[1])
	}

	// The device computed what this process computes for the same inputs.
	if err := ort.Init(""); err != nil {
		t.Fatal(err)
	}
	spec.Path, spec.Profile = agenttest.TinyModel(t), false
	local, err := bench.Measure(ctx, spec, "")
	if err != nil || local.Error != "" {
		t.Fatalf("local measure: %v %s", err, local.Error)
	}
	if !slices.Equal(local.Outputs[0].Values, r.Outputs[0].Values) {
		t.Errorf("device outputs %v differ from local %v", r.Outputs[0].Values, local.Outputs[0].Values)
	}

	// The work directory is gone; the cache stays.
	res, err := tg.Run(ctx, []string{"sh", "-c", `test -x "$1" && test -f "$2" && echo ok`, "sh", a.Bin, a.Lib}, devices.RunOptions{})
	if err != nil || string(res.Stdout) != "ok\n" {
		t.Errorf("cached files missing after run: %v", err)
	}
}

func TestDeployLocal(t *testing.T) {
	deployAndMeasure(t, devices.NewLocal(), agent.Options{CacheDir: t.TempDir()})
}

func TestDeploySSH(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	tg, err := devices.Open(context.Background(), sshd.URL, sshd.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	deployAndMeasure(t, tg, agent.Options{CacheDir: filepath.Join(sshd.Dir, "cache")})
}

func TestDeployADB(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	tg, err := devices.Open(context.Background(), adb.URL, adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	// The fake phone runs host binaries, so the Linux agent stands in for
	// an NDK build; the default Android cache location is used.
	needORT(t)
	lib, _ := ortlib.CachedPath(runtime.GOARCH)
	deployAndMeasure(t, tg, agent.Options{Agent: agenttest.Build(t, "linux", runtime.GOARCH), ORTLib: lib})
	matches, _ := filepath.Glob(filepath.Join(adb.Device.TmpDir(), "edgefit", "*", "edgefit-agent"))
	if len(matches) != 1 {
		t.Errorf("agent not cached under $TMPDIR/edgefit on the phone: %v", matches)
	}
}

func TestDeployRefusesWrongArch(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("needs an amd64 host")
	}
	arm := agenttest.Build(t, "linux", "arm64")
	_, err := agent.Deploy(context.Background(), devices.NewLocal(), agent.Options{Agent: arm, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "EM_AARCH64") || !strings.Contains(err.Error(), "edgefit-agent-linux-amd64") {
		t.Errorf("deploy of an arm64 agent to amd64: %v", err)
	}
}

// needAndroidLib returns the `make ort-android` library for abi, or skips.
func needAndroidLib(t *testing.T, abi string) string {
	t.Helper()
	return testfix.AndroidLibrary(t, abi, ortlib.AndroidLibraryPath)
}

// openPhone starts a fake phone reporting abi and opens it.
func openPhone(t *testing.T, abi string) (*devicetest.ADB, devices.Target) {
	t.Helper()
	adb := devicetest.StartADB(t, &adbfake.Device{ABI: abi})
	tg, err := devices.Open(context.Background(), adb.URL, adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return adb, tg
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestDeployAndroidByABI: for a phone reporting arm64-v8a, edgefit picks
// edgefit-agent-android-arm64 and the arm64-v8a library of `make
// ort-android`, and pushes both under /data/local/tmp/edgefit/<sha256>/.
// No NDK exists here, so the agent is a stand-in (see
// agenttest.AndroidStandIn) that cannot run: the deploy fails at
// `edgefit-agent info`, after the pushes this test checks. Nothing here
// runs on Android.
func TestDeployAndroidByABI(t *testing.T) {
	lib := needAndroidLib(t, "arm64-v8a")
	standIn := agenttest.AndroidStandIn(t)
	t.Setenv(agent.EnvAgentDir, standIn)
	adb, tg := openPhone(t, "arm64-v8a")
	_, err := agent.Deploy(context.Background(), tg, agent.Options{})
	if err == nil || !strings.Contains(err.Error(), "edgefit-agent info") {
		t.Fatalf("deploy of the stand-in: %v; want it pushed, then refusing to run", err)
	}
	for name, local := range map[string]string{"edgefit-agent": filepath.Join(standIn, "edgefit-agent-android-arm64"), "libonnxruntime.so": lib} {
		sum := sha256File(t, local)
		remote := filepath.Join(adb.Device.TmpDir(), "edgefit", sum[:32], name)
		if !strings.HasSuffix(filepath.Dir(filepath.Dir(remote)), "/data/local/tmp/edgefit") {
			t.Fatalf("unexpected device path %s", remote)
		}
		if _, err := os.Stat(remote); err != nil {
			t.Errorf("%s not pushed to the phone's /data/local/tmp/edgefit/%s/: %v", name, sum[:32], err)
		} else if got := sha256File(t, remote); got != sum {
			t.Errorf("%s on the phone has sha256 %s, want %s", name, got, sum)
		}
	}
	pushed, _ := filepath.Glob(filepath.Join(adb.Device.TmpDir(), "edgefit", "*", "libonnxruntime.so"))
	if len(pushed) != 1 {
		t.Fatalf("libraries pushed: %v", pushed)
	}
	if f, err := elf.Open(pushed[0]); err != nil || f.Machine != elf.EM_AARCH64 {
		t.Errorf("pushed library %s: %v, want an EM_AARCH64 file", pushed[0], err)
	} else {
		f.Close()
	}
}

// TestDeployAndroidSaysWhatIsMissing: without the agent, one line names
// the file and `make agent-android`; without the library too, the message
// names both files and both make targets. Nothing is pushed.
func TestDeployAndroidSaysWhatIsMissing(t *testing.T) {
	needAndroidLib(t, "arm64-v8a")
	t.Setenv(agent.EnvAgentDir, t.TempDir())
	adb, tg := openPhone(t, "arm64-v8a")
	_, err := agent.Deploy(context.Background(), tg, agent.Options{})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "edgefit-agent-android-arm64") ||
		!strings.Contains(err.Error(), "`make agent-android`") || !strings.Contains(err.Error(), "ABI arm64-v8a") || strings.Contains(err.Error(), "ort-android") {
		t.Errorf("missing Android agent: %v; want one line naming edgefit-agent-android-arm64 and `make agent-android`", err)
	}
	t.Logf("missing agent: %v", err)

	t.Setenv("HOME", t.TempDir()) // no `make ort-android` cache either
	_, err = agent.Deploy(context.Background(), tg, agent.Options{})
	t.Logf("missing agent and library: %v", err)
	for _, want := range []string{"edgefit-agent-android-arm64", "`make agent-android`", "android-arm64-v8a/libonnxruntime.so", "`make ort-android`"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing agent and library: %v; want %q in it", err, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(adb.Device.TmpDir(), "edgefit", "*")); len(left) != 0 {
		t.Errorf("pushed although files were missing: %v", left)
	}
}

// TestDeployAndroidRefusesWrongLibrary: a library for another ABI is
// refused before anything is pushed.
func TestDeployAndroidRefusesWrongLibrary(t *testing.T) {
	x86 := needAndroidLib(t, "x86_64")
	t.Setenv(agent.EnvAgentDir, agenttest.AndroidStandIn(t))
	adb, tg := openPhone(t, "arm64-v8a")
	_, err := agent.Deploy(context.Background(), tg, agent.Options{ORTLib: x86})
	if err == nil || !strings.Contains(err.Error(), "EM_X86_64") || !strings.Contains(err.Error(), "arm64-v8a") {
		t.Errorf("x86_64 library for an arm64 phone: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(adb.Device.TmpDir(), "edgefit", "*")); len(left) != 0 {
		t.Errorf("pushed although the library was wrong: %v", left)
	}
}

func TestDeployWithLibraryOnDevice(t *testing.T) {
	lib := needORT(t)
	a, err := agent.Deploy(context.Background(), devices.NewLocal(), agent.Options{
		Agent: agenttest.Build(t, "linux", runtime.GOARCH), DeviceORTLib: lib, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if a.Pushed != 1 || a.Lib != lib || a.Info.Library != lib {
		t.Errorf("pushed %d, lib %s, agent loaded %s; want only the agent pushed and %s used", a.Pushed, a.Lib, a.Info.Library, lib)
	}
	_, err = agent.Deploy(context.Background(), devices.NewLocal(), agent.Options{
		Agent: agenttest.Build(t, "linux", runtime.GOARCH), DeviceORTLib: "/nonexistent/libonnxruntime.so", CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libonnxruntime.so") {
		t.Errorf("missing device library: %v", err)
	}
}

func TestLocateExplains(t *testing.T) {
	t.Setenv(agent.EnvAgentDir, t.TempDir())
	_, err := agent.Locate("android", "arm64")
	if err == nil || !strings.Contains(err.Error(), "edgefit-agent-android-arm64") || !strings.Contains(err.Error(), "NDK") {
		t.Errorf("locate: %v", err)
	}
}

func TestProbeFillsRuntime(t *testing.T) {
	needORT(t)
	fp, a, err := agent.Probe(context.Background(), devices.NewLocal(), agent.Options{Agent: agenttest.Build(t, "linux", runtime.GOARCH), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if fp.Runtime == nil || fp.Runtime.ORTVersion != a.Info.ORTVersion || len(fp.Runtime.Providers) == 0 {
		t.Errorf("runtime = %+v", fp.Runtime)
	}
}
