package devices_test

import (
	"context"
	"testing"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/adbfake"
	"github.com/edgefit/edgefit/devices/devicetest"
)

func TestLocalSuite(t *testing.T) {
	devicetest.Suite(t, devicetest.Caps{}, func(t *testing.T) devices.Target {
		tg, err := devices.Open(context.Background(), "local", devices.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	})
}

func TestSSHSuite(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	devicetest.Suite(t, devicetest.Caps{}, func(t *testing.T) devices.Target {
		tg, err := devices.Open(context.Background(), sshd.URL, sshd.Options)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	})
}

func TestADBSuite(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	devicetest.Suite(t, devicetest.Caps{}, func(t *testing.T) devices.Target {
		tg, err := devices.Open(context.Background(), adb.URL, adb.Options)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	})
}

func TestADBLegacySuite(t *testing.T) {
	// An old device: no shell_v2, so no exit status from adb itself, stderr
	// mixed into stdout and no stdin.
	adb := devicetest.StartADB(t, &adbfake.Device{Features: []string{"cmd", "fixed_push_mkdir"}})
	devicetest.Suite(t, devicetest.Caps{MergedStderr: true, NoStdin: true}, func(t *testing.T) devices.Target {
		tg, err := devices.Open(context.Background(), adb.URL, adb.Options)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	})
}
