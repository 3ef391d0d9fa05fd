package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/profiler/agent/agenttest"
	"github.com/edgefit/edgefit/profiler/lut"
)

// quickProfileArgs profile one small resolution briefly.
var quickProfileArgs = []string{"--res", "96", "--networks", "1", "--warmup", "1", "--min-runs", "5", "--max-runs", "8",
	"--max-time", "200ms", "--drift", "30", "--max-cooldown", "0", "--batch-models", "16"}

// needAgent builds the agent for this machine, or skips without ONNX
// Runtime or in -short mode.
func needAgent(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("profiles with the real agent; skipped in -short mode")
	}
	testfix.Need(t, testfix.ORT, ort.Init(""))
	return agenttest.Build(t, runtime.GOOS, runtime.GOARCH)
}

func TestProfileUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"profile", "local", "-o", filepath.Join(dir, "x.lut.json")}, "--space is required"},
		{[]string{"profile", "local", "--space", "ofa-mbv3-w1.0"}, "-o is required"},
		{[]string{"profile", "local", "--space", "ofa-mbv3-w1.0", "--res", "20", "-o", filepath.Join(dir, "x.lut.json")}, "--res 20"},
		{[]string{"profile", "local", "--space", "ofa-mbv3-w1.0", "-o", filepath.Join(dir, "missing", "x.lut.json")}, "does not exist"},
		{[]string{"profile", "local", "--space", "ofa-mbv3-w1.0", "--target-ci", "0", "-o", filepath.Join(dir, "x.lut.json")}, "--target-ci"},
		{[]string{"profile", "--space", "ofa-mbv3-w1.0", "-o", filepath.Join(dir, "x.lut.json")}, "takes 1 argument"},
	} {
		_, _, err := run(t, tc.args...)
		if ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v (exit %d), want usage error mentioning %q", tc.args, err, ExitCodeOf(err), tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors wrote %d files", len(entries))
	}
}

// TestProfileUnreachable: a target nobody listens on fails with a hint and
// writes nothing.
func TestProfileUnreachable(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.lut.json")
	target := fmt.Sprintf("ssh://nobody@127.0.0.1:%d", devicetest.FreePort(t))
	var errb strings.Builder
	_, stderr, err := run(t, "profile", target, "--space", "ofa-mbv3-w1.0", "--ssh-config", "none", "-o", out)
	if err == nil || ExitCodeOf(err) != ExitFailure {
		t.Fatalf("err = %v (exit %d)", err, ExitCodeOf(err))
	}
	PrintError(&errb, err)
	if !strings.Contains(errb.String(), "hint:") || !strings.Contains(errb.String(), "127.0.0.1") {
		t.Errorf("error output lacks the address or a hint:\n%s%s", errb.String(), stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("unreachable target left %d files", len(entries))
	}
}

// TestProfileAndLUTCommands profiles through the CLI, then shows, exports and
// re-imports the table.
func TestProfileAndLUTCommands(t *testing.T) {
	ag := needAgent(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "local.lut.json")
	args := append([]string{"profile", "local", "--space", "ofa-mbv3-w1.0", "--agent", ag, "-o", out, "--json"}, quickProfileArgs...)
	stdout, stderr, err := run(t, args...)
	if err != nil {
		t.Fatalf("profile: %v\n%s", err, stderr)
	}
	var sum profileSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary %q: %v", stdout, err)
	}
	if sum.Entries == 0 || sum.Networks != 1 || sum.Measured != sum.Entries+1 || sum.Output != out || sum.Runtime.Threads != 1 {
		t.Errorf("summary %+v", sum)
	}
	tbl, err := lut.Load(out)
	if err != nil {
		t.Fatal(err)
	}

	stdout, _, err = run(t, "lut", "show", out)
	if err != nil || !strings.Contains(stdout, "median CoV") || !strings.Contains(stdout, "96") {
		t.Errorf("lut show: %v\n%s", err, stdout)
	}
	stdout, _, err = run(t, "lut", "show", out, "--json")
	var show lutShow
	if err != nil || json.Unmarshal([]byte(stdout), &show) != nil || len(show.Resolutions) != 1 || show.Resolutions[0].Missing != 0 ||
		!(show.Resolutions[0].MinNetMS > 0 && show.Resolutions[0].MaxNetMS > show.Resolutions[0].MinNetMS) {
		t.Errorf("lut show --json: %v %+v", err, show)
	}

	yamlDir := filepath.Join(dir, "ofa")
	if _, _, err := run(t, "lut", "export", out, "-o", yamlDir); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "back.lut.json")
	if _, _, err := run(t, "lut", "import", "--space", "ofa-mbv3-w1.0", yamlDir, "-o", back); err != nil {
		t.Fatal(err)
	}
	imp, err := lut.Load(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Entries) != len(tbl.Entries) {
		t.Errorf("round trip through OFA YAML: %d entries, want %d", len(imp.Entries), len(tbl.Entries))
	}
	e, _ := imp.Lookup(96, tbl.Entries[0].Key)
	if e == nil || imp.Latency(e) != tbl.Latency(&tbl.Entries[0]) {
		t.Errorf("round trip changed %s", tbl.Entries[0].Key)
	}

	// Rerunning the finished command measures nothing.
	stdout, _, err = run(t, args...)
	if err != nil || json.Unmarshal([]byte(stdout), &sum) != nil || sum.Measured != 0 || sum.Resumed != sum.Entries+1 {
		t.Errorf("rerun: %v %+v", err, sum)
	}
	// Another setting is refused with a hint to use --restart.
	var eb strings.Builder
	_, _, err = run(t, append(args, "--threads", "2")...)
	PrintError(&eb, err)
	if err == nil || !strings.Contains(eb.String(), "threads was 1, now 2") || !strings.Contains(eb.String(), "--restart") {
		t.Errorf("changed threads:\n%s", eb.String())
	}
}

func TestLUTImportNote10(t *testing.T) {
	note10 := filepath.Join(sharedDir(t), "ofa-upstream", "note10")
	out := filepath.Join(t.TempDir(), "note10.lut.json")
	files, _ := filepath.Glob(filepath.Join(note10, "*_lookup_table.yaml"))
	if len(files) != 5 {
		t.Fatalf("found %d note10 tables", len(files))
	}
	args := append([]string{"lut", "import", "--space", "ofa-mbv3-w1.2", "--target", "note10", "-o", out}, files...)
	if _, _, err := run(t, args...); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, "lut", "show", out, "--json")
	var show lutShow
	if err != nil || json.Unmarshal([]byte(stdout), &show) != nil {
		t.Fatalf("show: %v", err)
	}
	if show.Entries != 5*96 || show.Target != "note10" || len(show.Resolutions) != 5 {
		t.Fatalf("show %+v", show)
	}
	// OFA's own anchors for Note10 (ofa-mbv3.md §5): max subnet 47.77 ms at
	// 160 and 92.40 ms at 224, min subnet 9.89 and 17.77 ms.
	r160, r224 := show.Resolutions[0], show.Resolutions[4]
	for _, c := range []struct{ got, want float64 }{{r160.MaxNetMS, 47.77}, {r224.MaxNetMS, 92.40}, {r160.MinNetMS, 9.89}, {r224.MinNetMS, 17.77}} {
		if d := c.got - c.want; d > 0.01 || d < -0.01 {
			t.Errorf("subnet sum %.3f ms, OFA says %.2f", c.got, c.want)
		}
	}
	// Files not named {r}_lookup_table.yaml are refused: their resolution
	// would be a guess.
	bad := filepath.Join(t.TempDir(), "table.yaml")
	os.WriteFile(bad, []byte("{}"), 0o644)
	if _, _, err := run(t, "lut", "import", "--space", "ofa-mbv3-w1.2", bad, "-o", out); ExitCodeOf(err) != ExitUsage {
		t.Errorf("badly named file: %v", err)
	}
}

// TestProfileKilled runs the real edgefit binary, SIGKILLs it (with its
// agent) once the journal holds two batches, and reruns the same command:
// the rerun removes the temporary directories the killed run left,
// completes the table, and the journal shows every model measured exactly
// once. A third run of the finished profile leaves the table untouched.
func TestProfileKilled(t *testing.T) {
	ag := needAgent(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "edgefit")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/edgefit/edgefit/cmd/edgefit").CombinedOutput(); err != nil {
		t.Fatalf("build edgefit: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "k.lut.json")
	journal := profiler.JournalPath(out)
	args := append([]string{"profile", "local", "--space", "ofa-mbv3-w1.0", "--agent", ag, "-o", out}, quickProfileArgs...)
	args = append(args, "--networks", "2") // the last flag wins

	tmp := t.TempDir() // the runs' TMPDIR, to see what they leave there
	env := append(os.Environ(), "TMPDIR="+tmp)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so the agent dies with it
	var logb strings.Builder
	cmd.Stderr = &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if n := journalMeasurements(journal); n >= 20 {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			killed = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("the journal never reached two batches; log:\n%s", logb.String())
	}
	before := journalMeasurements(journal)
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a killed run wrote the table")
	}
	leftovers := func() []string {
		var dirs []string
		for _, pat := range []string{"edgefit-[0-9]*", "edgefit-profile-[0-9]*", "edgefit-push-[0-9]*"} {
			m, _ := filepath.Glob(filepath.Join(tmp, pat))
			for _, d := range m {
				if fi, err := os.Stat(d); err == nil && fi.IsDir() {
					dirs = append(dirs, d)
				}
			}
		}
		return dirs
	}
	if len(leftovers()) == 0 {
		t.Fatalf("the killed run left no temporary directory in %s to clean", tmp)
	}

	rerun := exec.Command(bin, append(args, "--json")...)
	rerun.Env = env
	res, err := rerun.Output()
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if l := leftovers(); len(l) != 0 {
		t.Errorf("the rerun left the killed run's temporary directories: %v", l)
	}
	var sum profileSummary
	if err := json.Unmarshal(res, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Resumed != before || sum.Measured+sum.Resumed != sum.Entries+sum.Networks {
		t.Errorf("rerun resumed %d (journal had %d), measured %d, table %d+%d", sum.Resumed, before, sum.Measured, sum.Entries, sum.Networks)
	}
	j, err := profiler.LoadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	e, n := j.Measured()
	if j.Duplicates != 0 || e != sum.Entries || n != 2 {
		t.Errorf("journal: %d duplicates, %d entries, %d networks", j.Duplicates, e, n)
	}
	t.Logf("killed after %d of %d measurements", before, sum.Entries+sum.Networks)

	// A finished profile run again measures nothing and leaves the table
	// as it is: the same bytes, not rewritten (not even atomically).
	table, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	st0, _ := os.Stat(out)
	again := exec.Command(bin, append(args, "--json")...)
	again.Env = env
	var stderr strings.Builder
	again.Stderr = &stderr
	res, err = again.Output()
	if err != nil {
		t.Fatalf("run of the finished profile: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(res, &sum); err != nil || sum.Measured != 0 || sum.Resumed != sum.Entries+sum.Networks {
		t.Errorf("run of the finished profile: %+v (%v)", sum, err)
	}
	if !strings.Contains(stderr.String(), "left as it is") {
		t.Errorf("the finished profile's run should say the table is kept:\n%s", stderr.String())
	}
	after, _ := os.ReadFile(out)
	st1, _ := os.Stat(out)
	if !bytes.Equal(after, table) || !os.SameFile(st0, st1) || !st1.ModTime().Equal(st0.ModTime()) {
		t.Errorf("the finished table was rewritten (same bytes: %v, same file: %v)", bytes.Equal(after, table), os.SameFile(st0, st1))
	}
}

// journalMeasurements counts entry and network lines in a journal being
// written (0 if it does not exist yet).
func journalMeasurements(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, `{"kind":"entry"`) || strings.HasPrefix(l, `{"kind":"network"`) {
			n++
		}
	}
	return n
}
