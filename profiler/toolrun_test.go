package profiler

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
)

// TestSplitToolOutput cuts a batch's combined output, made of real reports
// of trtexec and onnxruntime_perf_test (package runners' test data), back
// into per-model reports that parse like the originals.
func TestSplitToolOutput(t *testing.T) {
	dir := filepath.Join("runners", "testdata")
	files := []struct {
		name string
		tool *tool
	}{{"trtexec-8.6.txt", trtexecTool}, {"perf_test-1.17.txt", perfTestTool}, {"trtexec-7.1.txt", trtexecTool}}
	var out strings.Builder
	var want []string
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(b))
		out.WriteString("noise before the marker\n")
		out.WriteString(toolMarker + itoa(i) + "\n")
		out.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			out.WriteString("\n")
		}
		out.WriteString(toolExit + "0\n")
	}
	reps, err := splitToolOutput(out.String(), len(files))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		if strings.TrimRight(reps[i].out, "\n") != strings.TrimRight(want[i], "\n") || reps[i].exit != 0 {
			t.Errorf("%s: report differs from the tool's output", f.name)
		}
		got, err := f.tool.parse(reps[i].out)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		orig, _ := f.tool.parse(want[i])
		if got.Stats != orig.Stats || !(got.Stats.Median > 0 || got.Stats.Mean > 0) {
			t.Errorf("%s: stats %+v, want %+v", f.name, got.Stats, orig.Stats)
		}
	}
	// A batch cut short names the model that never reported.
	cut := out.String()[:strings.LastIndex(out.String(), toolExit)]
	if _, err := splitToolOutput(cut, len(files)); err == nil || !strings.Contains(err.Error(), "model 2") {
		t.Errorf("cut batch: err = %v", err)
	}
	if _, err := splitToolOutput(toolMarker+"7\n", 2); err == nil {
		t.Error("marker of a model not in the batch accepted")
	}
}

// TestToolRunnerMissing: asking for a tool the device lacks fails before
// anything is written, saying what to install.
func TestToolRunnerMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("probes the local machine")
	}
	dir := t.TempDir()
	o := DefaultOptions("ofa-mbv3-w1.0")
	o.Resolutions, o.Networks = []int{96}, 0
	o.Runner = RunnerPerfTest
	o.Journal = filepath.Join(dir, "x.lut.json.journal")
	if _, err := exec.LookPath("onnxruntime_perf_test"); err == nil {
		t.Skip("onnxruntime_perf_test is installed here")
	}
	_, err := Run(context.Background(), devices.NewLocal(), o)
	var re *RuntimeError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "onnxruntime_perf_test not found") || !strings.Contains(re.Hint(), "--runner agent") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(o.Journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal written: %v", err)
	}
}

func TestDFAvailable(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want int64
		ok   bool
	}{
		{"Filesystem     1K-blocks  Used Available Use% Mounted on\ntmpfs               1024  1024         0 100% /mnt\n", 0, true},
		{"Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/mapper/very-long-volume-name\n  252G 14G 78000 15% /\n", 78000 * 1024, true},
		{"Filesystem            Size  Used Avail Use% Mounted on\n/dev/block/dm-5  1.2G 1.1G 100M 95% /data\n", 0, false},
		{"df: /x: No such file or directory\n", 0, false},
	} {
		got, ok := dfAvailable(tc.out)
		if got != tc.want || ok != tc.ok {
			t.Errorf("dfAvailable(%q) = %d, %v; want %d, %v", tc.out, got, ok, tc.want, tc.ok)
		}
	}
}
