package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// unwritableDir returns an existing directory in which no file can be
// created: a read-only one, or for root (who writes anywhere) /sys/kernel.
func unwritableDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		if _, err := os.Stat("/sys/kernel"); err != nil {
			t.Skip("no directory root cannot write: /sys/kernel is missing")
		}
		return "/sys/kernel"
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOutputsCheckedFirst: every command that writes a file refuses an
// output it cannot write before its work (the target below is one nobody
// listens on, the predictor does not exist: reaching either would give
// another error), as a usage error naming the real path, never a
// temporary file.
func TestOutputsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	ro := unwritableDir(t)
	w10, _ := supernet.NewSpace(1.0)
	cfg := writeConfig(t, w10.MinConfig(128))
	nowhere := []string{"--ssh-config", "none", "--known-hosts", filepath.Join(dir, "kh")}
	const target = "ssh://nobody@127.0.0.1:1"
	missing := filepath.Join(dir, "missing", "dir")
	for _, tc := range []struct {
		name string
		args []string
		path string // the path the error must name
	}{
		{"select -o missing", []string{"select", "--predictor", filepath.Join(dir, "none.pred.json"), "--max-latency", "20ms", "-o", filepath.Join(missing, "s.json")}, filepath.Join(missing, "s.json")},
		{"select -o dir", []string{"select", "--predictor", filepath.Join(dir, "none.pred.json"), "--max-latency", "20ms", "-o", dir}, dir},
		{"select --front", []string{"select", "--predictor", filepath.Join(dir, "none.pred.json"), "--max-latency", "20ms", "--front", filepath.Join(ro, "f")}, ro},
		{"export", []string{"export", "--config", cfg, "-o", filepath.Join(ro, "m.onnx")}, ro},
		{"predictor fit", []string{"predictor", "fit", filepath.Join(dir, "none.lut.json"), "-o", filepath.Join(missing, "p.json")}, missing},
		{"predictor fit-accuracy", []string{"predictor", "fit-accuracy", filepath.Join(dir, "none.csv"), "--space", "ofa-mbv3-w1.0", "-o", filepath.Join(ro, "a.json")}, ro},
		{"lut import", []string{"lut", "import", "--space", "ofa-mbv3-w1.0", filepath.Join(dir, "none"), "-o", filepath.Join(ro, "t.lut.json")}, ro},
		{"profile read-only", append([]string{"profile", target, "--space", "ofa-mbv3-w1.0", "-o", filepath.Join(ro, "t.lut.json")}, nowhere...), ro},
		{"run read-only", append([]string{"run", target, "--max-latency", "20ms", "-o", ro}, nowhere...), ro},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, tc.args...)
			if err == nil || ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.path) ||
				strings.Contains(err.Error(), ".tmp-") || strings.Contains(err.Error(), ".check-") || strings.Contains(err.Error(), "127.0.0.1") {
				t.Fatalf("error %v (exit %d), want a usage error naming %s, before any work", err, ExitCodeOf(err), tc.path)
			}
		})
	}
}
