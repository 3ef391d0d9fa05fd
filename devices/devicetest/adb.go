package devicetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/adbfake"
	"github.com/edgefit/edgefit/internal/testfix"
)

// ADB is a fake Android device attached to a private adb server.
type ADB struct {
	URL        string          // adb://127.0.0.1:PORT
	Serial     string          // 127.0.0.1:PORT
	Options    devices.Options // points devices.Open at the private server
	Device     *adbfake.Device // the fake; its Root is the device storage
	ServerPort int             // the private adb server's port
	ADBPath    string
	env        []string
	outDir     string
}

// StartADB starts dev (a zero Device gets a temporary Root and the default
// features) on a loopback port, starts the real adb server on a free port
// with HOME in a temporary directory, and runs `adb connect` to the fake.
// Both stop when the test ends (`adb kill-server`). The test is skipped
// when adb is missing, or fails under EDGEFIT_TEST_STRICT=1.
func StartADB(t testing.TB, dev *adbfake.Device) *ADB {
	t.Helper()
	adbPath, err := exec.LookPath("adb")
	testfix.Need(t, testfix.ADB, err)
	if dev == nil {
		dev = &adbfake.Device{}
	}
	if dev.Root == "" {
		dev.Root = t.TempDir()
	}
	if dev.Logf == nil {
		dev.Logf = t.Logf
	}
	if err := dev.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start fake adb device: %v", err)
	}
	t.Cleanup(func() { dev.Close() })

	a := &ADB{Device: dev, Serial: dev.Addr(), ADBPath: adbPath, outDir: t.TempDir()}
	a.URL = "adb://" + a.Serial
	home := t.TempDir()
	a.ServerPort = FreePort(t)
	a.env = []string{"HOME=" + home, "ANDROID_ADB_SERVER_PORT=" + strconv.Itoa(a.ServerPort), "TMPDIR=" + home}
	a.Options = devices.Options{ADBPath: adbPath, ADBServerPort: a.ServerPort, ADBEnv: []string{"HOME=" + home}}

	if out, err := a.Adb(t, "start-server"); err != nil {
		t.Fatalf("adb start-server: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := a.Adb(t, "kill-server"); err != nil {
			t.Logf("adb kill-server: %v: %s", err, out)
		}
	})
	if out, err := a.Adb(t, "connect", a.Serial); err != nil || !strings.Contains(out, "connected") {
		t.Fatalf("adb connect %s: %v: %s", a.Serial, err, out)
	}
	a.WaitOnline(t)
	return a
}

// WaitOnline waits until the adb server lists the fake as "device".
func (a *ADB) WaitOnline(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		out, _ = a.Adb(t, "devices")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == a.Serial && f[1] == "device" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fake device %s not online after 15s; adb devices:\n%s", a.Serial, out)
}

// Adb runs the real adb client against the private server and returns its
// combined output.
func (a *ADB) Adb(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The server that start-server forks inherits our stdio; a file (not a
	// pipe) keeps Wait from hanging on it.
	f, err := os.CreateTemp(a.outDir, "adb-out-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, a.ADBPath, args...)
	cmd.Env = append(os.Environ(), a.env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Dir = filepath.Dir(f.Name())
	err = cmd.Run()
	b, _ := os.ReadFile(f.Name())
	return string(b), err
}
