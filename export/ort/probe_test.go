package ort

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCheckProviders tries each provider the library lists. The CPU
// provider runs anywhere; CUDA and TensorRT cannot without their provider
// libraries next to the library (the `make ort` build has none), and
// WebGPU cannot without a GPU device node: those are listed as built but
// unusable, with ONNX Runtime's reason.
func TestCheckProviders(t *testing.T) {
	initForTest(t)
	checks, err := CheckProviders()
	if err != nil {
		t.Fatal(err)
	}
	have, _ := AvailableProviders()
	if len(checks) != len(have) {
		t.Fatalf("%d checks for %d providers", len(checks), len(have))
	}
	libDir := filepath.Dir(LibraryPath())
	gpuNodes, _ := filepath.Glob("/dev/dri/*")
	nv, _ := filepath.Glob("/dev/nvidia*")
	gpuNodes = append(gpuNodes, nv...)
	for _, c := range checks {
		t.Logf("%s: usable %v %s", c.Name, c.Usable, c.Reason)
		var mustFail bool
		switch c.Name {
		case "CPUExecutionProvider":
			if !c.Usable || c.Reason != "" {
				t.Errorf("CPU provider: %+v", c)
			}
		case "CUDAExecutionProvider":
			_, err := os.Stat(filepath.Join(libDir, "libonnxruntime_providers_cuda.so"))
			mustFail = err != nil
		case "TensorrtExecutionProvider":
			_, err := os.Stat(filepath.Join(libDir, "libonnxruntime_providers_tensorrt.so"))
			mustFail = err != nil
		case "WebGpuExecutionProvider":
			mustFail = len(gpuNodes) == 0
		}
		if mustFail && (c.Usable || c.Reason == "") {
			t.Errorf("%s cannot run here, but the check says %+v", c.Name, c)
		}
		if !c.Usable && c.Reason == "" {
			t.Errorf("%s unusable without a reason", c.Name)
		}
	}
}
