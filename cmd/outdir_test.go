package cmd

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRunRefusalCreatesNothing: a run refused for its flags or its target
// leaves no output directory behind.
func TestRunRefusalCreatesNothing(t *testing.T) {
	for _, args := range [][]string{
		{"pi@raspberrypi.local", "--max-latency", "10ms"},
		{"local", "--max-latency", "10ms", "--affinity", "zz"},
		{"local", "--max-latency", "10ms", "--checkpoint", filepath.Join(t.TempDir(), "missing.pth")},
		{"ssh://nobody@127.0.0.1:1", "--max-latency", "10ms", "--ssh-config", "none", "--known-hosts", filepath.Join(t.TempDir(), "kh")},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, _, err := run(t, append([]string{"run", "-o", out}, args...)...)
		if err == nil {
			t.Errorf("%v: accepted", args)
		}
		if _, serr := os.Stat(out); !os.IsNotExist(serr) {
			t.Errorf("%v (refused: %v): created %s", args, err, out)
		}
	}
}
