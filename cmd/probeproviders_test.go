package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
)

// TestProbeProviders deploys the real agent: the fingerprint lists the
// providers the library was built with apart from those that can run.
// CPU runs; CUDA and TensorRT cannot without their provider libraries
// beside the library, which the `make ort` build lacks; each unusable one
// says why.
func TestProbeProviders(t *testing.T) {
	ag := needAgent(t)
	out, _, err := run(t, "devices", "probe", "local", "--with-agent", "--agent", ag, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var fp devices.Fingerprint
	if err := json.Unmarshal([]byte(out), &fp); err != nil {
		t.Fatal(err)
	}
	r := fp.Runtime
	if r == nil || len(r.ProviderChecks) != len(r.Providers) {
		t.Fatalf("runtime %+v", r)
	}
	libDir := filepath.Dir(r.Library)
	checked := map[string]devices.ProviderCheck{}
	for _, c := range r.ProviderChecks {
		checked[c.Name] = c
		if !c.Usable && c.Reason == "" {
			t.Errorf("%s unusable without a reason", c.Name)
		}
	}
	if c := checked["CPUExecutionProvider"]; !c.Usable {
		t.Errorf("CPU provider: %+v", c)
	}
	for name, lib := range map[string]string{"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt"} {
		c, listed := checked[name]
		if _, err := os.Stat(filepath.Join(libDir, "libonnxruntime_providers_"+lib+".so")); !listed || err == nil {
			continue
		}
		if c.Usable || !strings.Contains(c.Reason, "libonnxruntime_providers_"+lib+".so") {
			t.Errorf("%s without its provider library: %+v", name, c)
		}
	}
	text, _, err := run(t, "devices", "probe", "local", "--with-agent", "--agent", ag)
	if err != nil || !strings.Contains(text, "providers built:") || !strings.Contains(text, "providers usable:") {
		t.Errorf("probe table: %v\n%s", err, text)
	}
	if len(r.ProviderChecks) > 1 && !strings.Contains(text, "not usable:") {
		t.Errorf("probe table lacks the unusable providers:\n%s", text)
	}
}
