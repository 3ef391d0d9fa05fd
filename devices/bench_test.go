package devices_test

import (
	"context"
	"testing"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/devicetest"
)

// BenchmarkSSHRun measures one command round trip over an open SSH
// connection to a loopback sshd (a new session per Run).
func BenchmarkSSHRun(b *testing.B) {
	sshd := devicetest.StartSSHD(b)
	tg, err := devices.Open(context.Background(), sshd.URL, sshd.Options)
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	for b.Loop() {
		if _, err := tg.Run(context.Background(), []string{"true"}, devices.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalRun is the same round trip through os/exec.
func BenchmarkLocalRun(b *testing.B) {
	tg := devices.NewLocal()
	for b.Loop() {
		if _, err := tg.Run(context.Background(), []string{"true"}, devices.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkADBRun measures one command round trip through the real adb
// client and server to the fake device (an adb process per call).
func BenchmarkADBRun(b *testing.B) {
	adb := devicetest.StartADB(b, nil)
	tg, err := devices.Open(context.Background(), adb.URL, adb.Options)
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	for b.Loop() {
		if _, err := tg.Run(context.Background(), []string{"true"}, devices.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbeLocal measures a full fingerprint of this machine.
func BenchmarkProbeLocal(b *testing.B) {
	tg := devices.NewLocal()
	for b.Loop() {
		if _, err := devices.Probe(context.Background(), tg); err != nil {
			b.Fatal(err)
		}
	}
}
