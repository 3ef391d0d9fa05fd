package ort

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/testfix"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// TestXNNPACKSettings pins the settings ONNX Runtime's XNNPACK page
// recommends (onnxruntime.ai/docs/execution-providers/Xnnpack-ExecutionProvider.html,
// "Recommended configuration"): XNNPACK's own pool sized by the provider
// option intra_op_num_threads, the session's intra-op pool at 1 thread,
// and intra-op spinning off.
func TestXNNPACKSettings(t *testing.T) {
	got := settingsFor("xnnpack", Options{IntraOpThreads: 4})
	if got.intraOpThreads != 1 || !maps.Equal(got.providerOptions, map[string]string{"intra_op_num_threads": "4"}) ||
		!maps.Equal(got.config, map[string]string{"session.intra_op.allow_spinning": "0", "session.record_ep_graph_assignment_info": "1"}) {
		t.Errorf("xnnpack settings = %+v", got)
	}
	for _, key := range []string{"cpu", "nnapi", "cuda"} {
		got := settingsFor(key, Options{IntraOpThreads: 3})
		if got.intraOpThreads != 3 || got.providerOptions != nil || !maps.Equal(got.config, map[string]string{"session.record_ep_graph_assignment_info": "1"}) {
			t.Errorf("%s settings = %+v", key, got)
		}
	}
}

// TestSettingsReachONNXRuntime applies the XNNPACK settings to real
// session options and reads them back from ONNX Runtime.
func TestSettingsReachONNXRuntime(t *testing.T) {
	initForTest(t)
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	if err := settingsFor("xnnpack", Options{IntraOpThreads: 4}).apply(so); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"session.intra_op.allow_spinning": "0", "session.record_ep_graph_assignment_info": "1"} {
		if v, err := so.GetSessionConfigEntry(k); err != nil || v != want {
			t.Errorf("%s = %q (%v), want %q", k, v, err, want)
		}
	}
}

// TestMobileProvidersSayWhichLibrary: the Linux library of `make ort` has
// neither XNNPACK nor NNAPI (ONNX Runtime's list says so); the error names
// the library that has them.
func TestMobileProvidersSayWhichLibrary(t *testing.T) {
	initForTest(t)
	have, err := AvailableProviders()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"xnnpack", "nnapi"} {
		if contains(have, ortlib.Providers[key]) {
			t.Logf("this library has %s (%v)", key, have)
			continue
		}
		_, err := Open(tinyModel(), Options{ExecutionProvider: key, IntraOpThreads: 4})
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.Err != nil {
			t.Fatalf("%s: %v, want a *ProviderError for a missing provider", key, err)
		}
		for _, want := range []string{ortlib.Providers[key], "make ort-android", "Android", LibraryPath()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q should say %q", key, err, want)
			}
		}
	}
}

// TestNodesByProvider: tinyModel has two nodes (Relu, Mul), which the CPU
// provider runs; the session says so.
func TestNodesByProvider(t *testing.T) {
	initForTest(t)
	s, err := Open(tinyModel(), Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.NodesByProvider(); !maps.Equal(got, map[string]int{"CPUExecutionProvider": 2}) {
		t.Errorf("nodes by provider = %v, want 2 on CPUExecutionProvider", got)
	}
	if s.Provider() != "CPUExecutionProvider" {
		t.Errorf("provider = %s", s.Provider())
	}
	// A requested provider that took no node is not the one used.
	s.requested = "XnnpackExecutionProvider"
	if s.Provider() != "CPUExecutionProvider" {
		t.Errorf("provider with every node on the CPU = %s", s.Provider())
	}
}

// TestCAPISlots compiles offsetof(OrtApi, ...) against the bindings' copy
// of onnxruntime_c_api.h and compares with the slots capi.go uses.
func TestCAPISlots(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		testfix.Skip(t, "gcc not installed")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		testfix.Skip(t, "locate the onnxruntime_go module: %v", err)
	}
	src, err := os.ReadFile("capi.go")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"GetErrorMessage": "GetErrorMessage", "ReleaseStatus": "ReleaseStatus",
		"GetAvailableProviders": "GetAvailableProviders", "ReleaseAvailableProviders": "ReleaseAvailableProviders",
		"SessionGetEpGraphAssignmentInfo": "Session_GetEpGraphAssignmentInfo",
		"EpAssignedSubgraphGetEpName":     "EpAssignedSubgraph_GetEpName", "EpAssignedSubgraphGetNodes": "EpAssignedSubgraph_GetNodes"}
	prog := "#include <stddef.h>\n#include <stdio.h>\n#include \"onnxruntime_c_api.h\"\nint main(void) {\n"
	want := ""
	for slot, field := range fields {
		m := regexp.MustCompile(`slot` + slot + ` = ([0-9]+),`).FindSubmatch(src)
		if m == nil {
			t.Fatalf("capi.go has no slot%s", slot)
		}
		prog += `printf("` + slot + ` %zu\n", offsetof(OrtApi, ` + field + `) / sizeof(void *));` + "\n"
		want += slot + " " + string(m[1]) + "\n"
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slots.c"), []byte(prog+"return 0;\n}\n"), 0o644)
	build := exec.Command(gcc, "-I", strings.TrimSpace(string(out)), "-o", filepath.Join(dir, "slots"), filepath.Join(dir, "slots.c"))
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("compile: %v\n%s", err, b)
	}
	got, err := exec.Command(filepath.Join(dir, "slots")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("OrtApi slots from the header:\n%s\ncapi.go uses:\n%s", got, want)
	}
}
