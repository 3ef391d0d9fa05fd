package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// relabel rewrites the space a JSON file names: "space" at the top of a
// table, or "space" and "lut_space" under "predictor" in a predictor, as
// a table imported under the wrong --space (or a predictor fitted on one)
// reads.
func relabel(t *testing.T, path, space string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if meta, ok := doc["predictor"].(map[string]any); ok {
		meta["space"], meta["lut_space"] = space, space
	} else {
		doc["space"] = space
	}
	out, _ := json.Marshal(doc)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOtherSpaceRefused: OFA's Note10 tables are for ofa-mbv3-w1.2.
// Imported under ofa-mbv3-w1.0 they are refused (exit 2) with the space
// their keys fit; a table or predictor that names w1.0 over w1.2 keys (as
// earlier versions wrote) is refused by 'predictor fit' and 'select'.
func TestOtherSpaceRefused(t *testing.T) {
	note10 := filepath.Join(sharedDir(t), "ofa-upstream", "note10")
	files, _ := filepath.Glob(filepath.Join(note10, "*_lookup_table.yaml"))
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.lut.json")
	_, _, err := run(t, append([]string{"lut", "import", "--space", "ofa-mbv3-w1.0", "-o", wrong}, files...)...)
	var msg bytes.Buffer
	PrintError(&msg, err)
	if ExitCodeOf(err) != ExitUsage || !strings.Contains(msg.String(), "layers of ofa-mbv3-w1.2") || !strings.Contains(msg.String(), "--space ofa-mbv3-w1.2") {
		t.Fatalf("import of w1.2 tables as w1.0: exit %d\n%s", ExitCodeOf(err), msg.String())
	}
	if _, err := os.Stat(wrong); !os.IsNotExist(err) {
		t.Errorf("a refused import left %s (%v)", wrong, err)
	}

	good := filepath.Join(dir, "note10.lut.json")
	if _, _, err := run(t, "lut", "import", "--space", "ofa-mbv3-w1.2", note10, "-o", good); err != nil {
		t.Fatal(err)
	}
	pred := filepath.Join(dir, "note10.pred.json")
	if _, _, err := run(t, "predictor", "fit", good, "-o", pred); err != nil {
		t.Fatal(err)
	}
	relabel(t, good, "ofa-mbv3-w1.0")
	_, _, err = run(t, "predictor", "fit", good, "-o", filepath.Join(dir, "x.pred.json"))
	if err == nil || !strings.Contains(err.Error(), "layers of ofa-mbv3-w1.2") {
		t.Errorf("predictor fit of a w1.2 table labelled w1.0: %v", err)
	}
	relabel(t, pred, "ofa-mbv3-w1.0")
	_, _, err = run(t, "select", "--predictor", pred, "--max-latency", "20ms")
	if err == nil || !strings.Contains(err.Error(), "layers of ofa-mbv3-w1.2") {
		t.Errorf("select with a predictor fitted on w1.2 keys labelled w1.0: %v", err)
	}
}
