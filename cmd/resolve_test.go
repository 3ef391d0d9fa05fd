package cmd

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/zoo"
)

// TestCatalogueNamesResolve: the README's names (catalogue items and OFA's
// file names) work wherever a file is taken once 'edgefit fetch' has them;
// before, the error says what to fetch. The cache is filled with 'fetch
// --from' from ../shared, with no network (the base URL leads nowhere).
func TestCatalogueNamesResolve(t *testing.T) {
	shared := sharedDir(t)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv(zoo.BaseURLEnv, "http://127.0.0.1:1/")
	w10, _ := supernet.NewSpace(1.0)
	cfg := writeConfig(t, w10.MinConfig(160))
	_, pred := note10Predictor(t)
	t.Chdir(t.TempDir()) // no file of those names here
	onnx := filepath.Join(t.TempDir(), "m.onnx")
	lutOut := filepath.Join(t.TempDir(), "n10.lut.json")
	uses := []struct {
		item string
		args []string
	}{
		{"ofa-mbv3-w1.0", []string{"export", "--checkpoint", "ofa_mbv3_d234_e346_k357_w1.0", "--config", cfg, "-o", onnx, "--json"}},
		{"ofa-mbv3-w1.0", []string{"export", "--checkpoint", "ofa-mbv3-w1.0", "--config", cfg, "-o", onnx, "--json"}},
		{"acc-predictor", []string{"select", "--predictor", pred, "--acc", "acc-predictor", "--max-latency", "20ms", "--json", "--generations", "5"}},
		{"acc-predictor", []string{"select", "--predictor", pred, "--acc", "acc_predictor.pth", "--max-latency", "20ms", "--json", "--generations", "5"}},
		{"lut-note10", []string{"lut", "import", "--space", "ofa-mbv3-w1.2", "lut-note10", "-o", lutOut, "--json"}},
	}
	for _, u := range uses {
		_, _, err := run(t, u.args...)
		var msg bytes.Buffer
		PrintError(&msg, err)
		if err == nil || !strings.Contains(msg.String(), "run 'edgefit fetch "+u.item+"'") || strings.Contains(msg.String(), "no such file") {
			t.Errorf("%v before fetching: %v\n%s", u.args, err, msg.String())
		}
	}
	for item, from := range map[string]string{
		"ofa-mbv3-w1.0": "fixtures/ofa-mbv3-w1.0/supernet.pth",
		"acc-predictor": "ofa-upstream/acc_predictor.pth",
		"lut-note10":    "ofa-upstream/note10",
	} {
		if _, _, err := run(t, "fetch", "--from", filepath.Join(shared, from), item); err != nil {
			t.Fatal(err)
		}
	}
	ofa := filepath.Join(cache, "edgefit", "ofa")
	for _, u := range uses {
		out, _, err := run(t, u.args...)
		if err != nil {
			t.Errorf("%v after fetching: %v", u.args, err)
			continue
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %v\n%.300s", u.args, err, out)
		}
		switch u.args[0] {
		case "export":
			if res["checkpoint"] != filepath.Join(ofa, "ofa_mbv3_d234_e346_k357_w1.0.pth") {
				t.Errorf("export used checkpoint %v", res["checkpoint"])
			}
		case "select":
			if src, _ := res["accuracy_source"].(string); !strings.Contains(src, filepath.Join(ofa, "acc_predictor.pth")) {
				t.Errorf("select used accuracy source %q", src)
			}
		case "lut":
			if res["entries"] != float64(480) {
				t.Errorf("lut import of the cached Note10 tables: %v", res)
			}
		}
	}
}
