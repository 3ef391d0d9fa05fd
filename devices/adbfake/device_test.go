package adbfake_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices/devicetest"
)

// The real adb client drives the fake directly: banner properties, getprop,
// exit status through shell_v2, and the sync service's confinement to Root.
func TestWithRealADB(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	out, err := adb.Adb(t, "devices", "-l")
	if err != nil || !strings.Contains(out, "model:FakePhone") || !strings.Contains(out, "product:fake") {
		t.Fatalf("adb devices -l: %v\n%s", err, out)
	}
	out, err = adb.Adb(t, "-s", adb.Serial, "shell", "getprop ro.soc.model; exit 5")
	if err == nil || strings.TrimSpace(out) != "FakeSoC" {
		t.Errorf("shell: %q, err %v (want FakeSoC and exit status 5)", out, err)
	}
	if _, err := adb.Adb(t, "-s", adb.Serial, "shell", "getprop"); err != nil {
		t.Errorf("getprop without arguments: %v", err)
	}
	local := filepath.Join(t.TempDir(), "f")
	os.WriteFile(local, []byte("data"), 0o600)
	remote := filepath.Join(adb.Device.Root, "sub", "f")
	if out, err := adb.Adb(t, "-s", adb.Serial, "push", local, remote); err != nil {
		t.Fatalf("push: %v %s", err, out)
	}
	if b, err := os.ReadFile(remote); err != nil || string(b) != "data" {
		t.Errorf("pushed file: %q %v", b, err)
	}
	// Outside Root the fake serves nothing: STAT answers "no such file"
	// and a SEND fails.
	h := filepath.Join(t.TempDir(), "h")
	out, err = adb.Adb(t, "-s", adb.Serial, "pull", "/etc/hostname", h)
	if _, serr := os.Stat(h); err == nil || serr == nil || !strings.Contains(out, "does not exist") {
		t.Errorf("pull outside the device root: %v %s", err, out)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	out, err = adb.Adb(t, "-s", adb.Serial, "push", local, outside)
	if _, serr := os.Stat(outside); err == nil || serr == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("push outside the device root: %v %s", err, out)
	}
}
