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
