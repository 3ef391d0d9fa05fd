package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/supernet"
)

func writeConfig(t *testing.T, c supernet.Config) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "subnet.json")
	if err := os.WriteFile(p, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExportCheckpointVerify(t *testing.T) {
	shared := sharedDir(t)
	s, _ := supernet.NewSpace(1.0)
	cfg := s.MinConfig(160)
	out := filepath.Join(t.TempDir(), "m.onnx")
	stdout, _, err := run(t, "export", "--checkpoint", filepath.Join(shared, "fixtures/ofa-mbv3-w1.0/supernet.pth"),
		"--config", writeConfig(t, cfg), "-o", out, "--verify", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res edgefit.ExportResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if !res.Verified || res.MaxAbsDiff == nil || *res.MaxAbsDiff > 1e-4 || *res.MaxAbsDiff > *res.VerifyLimit || res.Untrained || res.Config != cfg {
		t.Fatalf("unexpected result %+v", res)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := export.ReadMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if meta[export.KeySpace] != "ofa-mbv3-w1.0" || !strings.Contains(meta[export.KeyConfig], `"r":160`) {
		t.Fatalf("metadata %v", meta)
	}
}

func TestExportUntrainedSaysSo(t *testing.T) {
	s, _ := supernet.NewSpace(1.2)
	out := filepath.Join(t.TempDir(), "m.onnx")
	stdout, _, err := run(t, "export", "--space", "ofa-mbv3-w1.2", "--config", writeConfig(t, s.MinConfig(128)), "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "UNTRAINED") {
		t.Fatalf("output does not say the weights are untrained:\n%s", stdout)
	}
}

func TestExportBadInput(t *testing.T) {
	shared := sharedDir(t)
	ckpt := filepath.Join(shared, "fixtures/ofa-mbv3-w1.0/supernet.pth")
	s, _ := supernet.NewSpace(1.0)
	good := writeConfig(t, s.MaxConfig(224))
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"ks":[9,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7],"e":[6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6],"d":[4,4,4,4,4],"r":224}`), 0o644)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
		code int
	}{
		{"unknown config", []string{"--config", bad, "-o", filepath.Join(dir, "a.onnx")}, "ks[0] = 9", ExitFailure},
		{"other width", []string{"--checkpoint", ckpt, "--space", "ofa-mbv3-w1.2", "--config", good, "-o", filepath.Join(dir, "b.onnx")}, "disagrees", ExitUsage},
		{"missing dir", []string{"--config", good, "-o", filepath.Join(dir, "no/such/dir/c.onnx")}, "no/such/dir", ExitUsage}, // checked before the export
		{"no output", []string{"--config", good}, "-o is required", ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, append([]string{"export"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || ExitCodeOf(err) != tc.code {
				t.Fatalf("error %v (code %d), want %q (code %d)", err, ExitCodeOf(err), tc.want, tc.code)
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed exports left files behind: %v", ents)
	}
}
