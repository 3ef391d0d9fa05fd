package main_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler/agent/agenttest"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	agenttest.Cleanup()
	os.Exit(code)
}

// runAgent runs the agent binary (through prefix, e.g. qemu) on a manifest
// measuring tinynet and returns its result.
func runAgent(t *testing.T, prefix []string, bin, lib, dir string) wire.Result {
	t.Helper()
	m := wire.Manifest{Format: wire.FormatVersion, Models: []wire.ModelSpec{
		{ID: "tiny", Path: agenttest.TinyModel(t), Runs: 3, Threads: 1, Outputs: -1, Seed: 7, Batch: 2},
	}}
	b, _ := json.Marshal(m)
	manifest := filepath.Join(dir, "manifest.json")
	os.WriteFile(manifest, b, 0o644)
	argv := append(append([]string(nil), prefix...), bin, "--ort-lib", lib, "run", manifest)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, stderr.String())
	}
	var res []wire.Result
	wire.ReadResults(&stdout, func(r wire.Result) error { res = append(res, r); return nil })
	if len(res) != 1 || res[0].Error != "" {
		t.Fatalf("results %+v\nstderr: %s", res, stderr.String())
	}
	return res[0]
}

// TestArm64AgentMatchesAmd64 cross-compiles the agent for linux/arm64, runs
// it under qemu with the arm64 ONNX Runtime library, and checks it computes
// what the native agent computes for the same inputs. ARM and x86 kernels
// round differently, so values are compared to 1e-4 of the output's scale.
func TestArm64AgentMatchesAmd64(t *testing.T) {
	if testing.Short() {
		t.Skip("cross build and emulation take a minute")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("compares an emulated arm64 agent with a native amd64 one")
	}
	qemu, err := exec.LookPath("qemu-aarch64-static")
	testfix.Need(t, testfix.QEMU, err)
	_, err = os.Stat("/usr/aarch64-linux-gnu/lib")
	testfix.Need(t, testfix.ARM64CC, err)
	libX64, _ := ortlib.CachedPath("amd64")
	libArm, _ := ortlib.CachedPath("arm64")
	for _, l := range []string{libX64, libArm} {
		_, err := os.Stat(l)
		testfix.Need(t, testfix.ORT, err)
	}
	amd := agenttest.Build(t, "linux", "amd64")
	arm := agenttest.Build(t, "linux", "arm64")
	dir := t.TempDir()

	native := runAgent(t, nil, amd, libX64, dir)
	emulated := runAgent(t, []string{qemu, "-L", "/usr/aarch64-linux-gnu"}, arm, libArm, dir)

	var info bytes.Buffer
	cmd := exec.Command(qemu, "-L", "/usr/aarch64-linux-gnu", arm, "--ort-lib", libArm, "info")
	cmd.Stdout = &info
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var wi wire.Info
	if err := json.Unmarshal(info.Bytes(), &wi); err != nil || wi.GOARCH != "arm64" || wi.ORTVersion != "1.24.1" {
		t.Fatalf("arm64 agent info %q: %v", info.String(), err)
	}

	a, b := native.Outputs[0], emulated.Outputs[0]
	if len(a.Values) != 20 || len(b.Values) != 20 {
		t.Fatalf("outputs: %d and %d values, want 2x10", len(a.Values), len(b.Values))
	}
	scale := a.AbsSum / float64(len(a.Values))
	worst := 0.0
	for i := range a.Values {
		worst = math.Max(worst, math.Abs(float64(a.Values[i]-b.Values[i])))
	}
	t.Logf("largest difference amd64 vs arm64: %.3g (mean |output| %.3g)", worst, scale)
	if worst > 1e-4*math.Max(scale, 1e-3) {
		t.Errorf("arm64 outputs differ from amd64 by %.3g:\n%v\n%v", worst, a.Values, b.Values)
	}
	if emulated.Stats.N != 3 || emulated.Provider != "CPUExecutionProvider" {
		t.Errorf("emulated result %+v", emulated)
	}
}
