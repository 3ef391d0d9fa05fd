package devices_test

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/adbfake"
	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/internal/testfix"
)

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// TestADBServerStartedIsStopped uses the real adb client on a private
// server port where no server runs: opening the target starts one, and
// closing the last target stops it. A server that was already running
// (started by the test, as a user's would be) is left running.
func TestADBServerStartedIsStopped(t *testing.T) {
	adbPath, err := exec.LookPath("adb")
	testfix.Need(t, testfix.ADB, err)
	dev := &adbfake.Device{Root: t.TempDir(), Logf: t.Logf}
	if err := dev.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	port := devicetest.FreePort(t)
	opts := devices.Options{ADBPath: adbPath, ADBServerPort: port, ADBEnv: []string{"HOME=" + t.TempDir()}}
	t.Cleanup(func() { // should there be one left
		exec.Command(adbPath, "-P", strconv.Itoa(port), "kill-server").Run()
	})
	if listening(port) {
		t.Fatalf("port %d is taken", port)
	}
	ctx := context.Background()
	url := "adb://" + dev.Addr()
	a, err := devices.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := devices.Open(ctx, url, opts) // a second target shares the server
	if err != nil {
		t.Fatal(err)
	}
	if !listening(port) {
		t.Fatal("no adb server runs after opening the target")
	}
	if res, err := a.Run(ctx, []string{"echo", "hi"}, devices.RunOptions{}); err != nil || string(res.Stdout) != "hi\n" {
		t.Fatalf("run: %q, %v", res.Stdout, err)
	}
	a.Close()
	a.Close() // twice is harmless
	if !listening(port) {
		t.Fatal("closing one of two targets stopped the server")
	}
	if _, err := b.Run(ctx, []string{"true"}, devices.RunOptions{}); err != nil {
		t.Fatalf("the other target after the first closed: %v", err)
	}
	b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for listening(port) {
		if time.Now().After(deadline) {
			t.Fatal("the adb server edgefit started still runs after the last target closed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A server found running is not edgefit's to stop.
	running := devicetest.StartADB(t, nil)
	tg, err := devices.Open(ctx, running.URL, running.Options)
	if err != nil {
		t.Fatal(err)
	}
	tg.Close()
	time.Sleep(200 * time.Millisecond)
	if !listening(running.ServerPort) {
		t.Error("closing the target stopped an adb server edgefit did not start")
	}
}
