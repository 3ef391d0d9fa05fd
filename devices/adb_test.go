package devices_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/adbfake"
	"github.com/edgefit/edgefit/devices/devicetest"
)

type hinter interface{ Hint() string }

func TestADBOnlyDevice(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	ctx := context.Background()
	tg, err := devices.Open(ctx, "adb://", adb.Options)
	if err != nil {
		t.Fatalf("open adb://: %v", err)
	}
	if tg.Name() != adb.URL {
		t.Errorf("adb:// resolved to %q, want %q", tg.Name(), adb.URL)
	}
	tg.Close()

	// A second device makes adb:// ambiguous; the error lists both.
	second := &adbfake.Device{Root: t.TempDir(), Logf: t.Logf, Props: map[string]string{"ro.product.model": "OtherPhone"}}
	if err := second.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if out, err := adb.Adb(t, "connect", second.Addr()); err != nil || !strings.Contains(out, "connected") {
		t.Fatalf("adb connect: %v %s", err, out)
	}
	waitFor(t, func() bool { out, _ := adb.Adb(t, "devices"); return strings.Count(out, "\tdevice") == 2 })
	_, err = devices.Open(ctx, "adb://", adb.Options)
	if err == nil || !strings.Contains(err.Error(), adb.Serial) || !strings.Contains(err.Error(), second.Addr()) {
		t.Fatalf("adb:// with two devices: %v; want an error listing both", err)
	}
	var h hinter
	if !errors.As(err, &h) || !strings.Contains(h.Hint(), "adb://SERIAL") {
		t.Errorf("missing hint naming adb://SERIAL: %v", err)
	}
	// Naming one works.
	tg, err = devices.Open(ctx, "adb://"+second.Addr(), adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res, err := tg.Run(ctx, []string{"getprop", "ro.product.model"}, devices.RunOptions{})
	if err != nil || string(res.Stdout) != "OtherPhone\n" {
		t.Errorf("getprop on the second device = %q, %v", res.Stdout, err)
	}
}

func TestADBNoDevice(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	if out, err := adb.Adb(t, "disconnect", adb.Serial); err != nil {
		t.Fatalf("adb disconnect: %v %s", err, out)
	}
	_, err := devices.Open(context.Background(), "adb://", adb.Options)
	var h hinter
	if err == nil || !strings.Contains(err.Error(), "no Android device") || !errors.As(err, &h) {
		t.Fatalf("adb:// without devices: %v", err)
	}
}

func TestADBMissingClient(t *testing.T) {
	_, err := devices.Open(context.Background(), "adb://x", devices.Options{ADBPath: filepath.Join(t.TempDir(), "adb")})
	var h hinter
	if !errors.As(err, &h) || !strings.Contains(h.Hint(), "apt install adb") || !strings.Contains(h.Hint(), "--adb") {
		t.Fatalf("missing adb: %v, want a hint to install platform-tools or pass --adb", err)
	}
}

func TestADBReconnectAfterDrop(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	ctx := context.Background()
	tg, err := devices.Open(ctx, adb.URL, adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	started := filepath.Join(adb.Device.Root, "started")
	errc := make(chan error, 1)
	go func() {
		_, err := tg.Run(ctx, []string{"sh", "-c", `touch "$1"; sleep 30`, "sh", started}, devices.RunOptions{})
		errc <- err
	}()
	waitFor(t, func() bool { _, err := os.Stat(started); return err == nil })
	adb.Device.DropConnections()
	select {
	case err := <-errc:
		var ce *devices.CommandError
		if err == nil || errors.As(err, &ce) {
			t.Fatalf("run across a dropped connection: %v, want a connection error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not notice the dropped connection within 20s")
	}
	res, err := tg.Run(ctx, []string{"echo", "back"}, devices.RunOptions{})
	if err != nil || string(res.Stdout) != "back\n" {
		t.Fatalf("run after drop: %q, %v", res.Stdout, err)
	}
}

func TestADBRelativeRemotePathRefused(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	tg, err := devices.Open(context.Background(), adb.URL, adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("x"), 0o644)
	if err := tg.Push(context.Background(), src, "relative/f"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("push to a relative path: %v", err)
	}
}

// A fake phone reporting arm64-v8a on any host: the platform Info (what
// binaries to deploy) follows the ABI, uname stays the host's.
func TestADBReportsABI(t *testing.T) {
	adb := devicetest.StartADB(t, &adbfake.Device{ABI: "arm64-v8a"})
	ctx := context.Background()
	tg, err := devices.Open(ctx, adb.URL, adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	info, err := tg.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	uname, err := tg.Run(ctx, []string{"uname", "-m"}, devices.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.OS != "android" || info.ABI != "arm64-v8a" || info.Arch != "arm64" || info.Machine != strings.TrimSpace(string(uname.Stdout)) {
		t.Errorf("info = %+v (uname -m %q)", info, uname.Stdout)
	}
	res, err := tg.Run(ctx, []string{"getprop", "ro.product.cpu.abilist"}, devices.RunOptions{})
	if err != nil || string(res.Stdout) != "arm64-v8a,armeabi-v7a,armeabi\n" {
		t.Errorf("abilist = %q, %v", res.Stdout, err)
	}
	fp, err := devices.Probe(ctx, tg)
	if err != nil || fp.Android == nil || fp.Android.ABI != "arm64-v8a" {
		t.Errorf("fingerprint android = %+v, %v", fp.Android, err)
	}
	res, err = tg.Run(ctx, []string{"sh", "-c", `printf %s "$TMPDIR"`}, devices.RunOptions{})
	if err != nil || string(res.Stdout) != adb.Device.TmpDir() || !strings.HasSuffix(adb.Device.TmpDir(), "/data/local/tmp") {
		t.Errorf("TMPDIR = %q, %v; want %s", res.Stdout, err, adb.Device.TmpDir())
	}
}
