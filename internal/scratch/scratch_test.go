package scratch

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for an edgefit that is killed:
// with SCRATCH_HOLD set it creates a directory, prints it and waits.
func TestMain(m *testing.M) {
	if prefix := os.Getenv("SCRATCH_HOLD"); prefix != "" {
		dir, _, err := Dir(prefix)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(dir)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holder starts a process that holds a directory of prefix in tmp and
// returns it with the directory.
func holder(t *testing.T, tmp, prefix string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SCRATCH_HOLD="+prefix, "TMPDIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(strings.TrimSpace(line), tmp) {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd, strings.TrimSpace(line)
}

// TestCleanAfterSIGKILL: a process SIGKILLed while holding its directory
// leaves it behind; the next Clean removes it, and leaves alone the
// directory of a process still running, fresh directories without a lock,
// and names that are not edgefit's.
func TestCleanAfterSIGKILL(t *testing.T) {
	tmp := t.TempDir()
	killed, dead := holder(t, tmp, "edgefit-")
	_, alive := holder(t, tmp, "edgefit-")
	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	if _, err := os.Stat(dead + LockSuffix); err != nil {
		t.Fatalf("the killed process's directory should still be there: %v", err)
	}
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(tmp, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		os.Chtimes(p, old, old)
		return p
	}
	oldUnlocked := mk("edgefit-111", 48*time.Hour)
	freshUnlocked := mk("edgefit-222", time.Minute)
	otherPrefix := mk("edgefit-profile-333", 48*time.Hour)
	notDigits := mk("edgefit-cache", 48*time.Hour)
	os.WriteFile(filepath.Join(tmp, "edgefit-444"), nil, 0o644) // a file, not a directory
	orphan := filepath.Join(tmp, "edgefit-555"+LockSuffix)      // a lock without its directory
	os.WriteFile(orphan, nil, 0o600)

	removed, err := Clean(tmp, "edgefit-", MaxUnlockedAge)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := []string{oldUnlocked, dead}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, p := range []string{alive, freshUnlocked, otherPrefix, notDigits, filepath.Join(tmp, "edgefit-444")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	for _, p := range append(want, dead+LockSuffix, orphan) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
}

// TestDirCleansFirst: the first Dir of a prefix sweeps stale directories
// of that prefix; release removes the directory.
func TestDirCleansFirst(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	killed, dead := holder(t, tmp, "edgefit-profile-")
	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	dir, release, err := Dir("edgefit-profile-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("Dir left the stale %s (%v)", dead, err)
	}
	if !strings.HasPrefix(filepath.Base(dir), "edgefit-profile-") || filepath.Dir(dir) != tmp {
		t.Errorf("Dir = %s", dir)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("a new directory should be empty: %v, %v", ents, err)
	}
	// Another cleaner does not take a held directory.
	if removed, _ := Clean(tmp, "edgefit-profile-", 0); len(removed) != 0 {
		t.Errorf("Clean removed a held directory: %v", removed)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, dir + LockSuffix} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("release left %s", p)
		}
	}
}
