package cmd

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
)

func TestDevicesProbeLocal(t *testing.T) {
	out, _, err := run(t, "devices", "probe", "local", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var fp devices.Fingerprint
	if err := json.Unmarshal([]byte(out), &fp); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if fp.Arch != runtime.GOARCH || fp.Cores < 1 || fp.OS != "linux" {
		t.Fatalf("fingerprint %+v does not describe this machine", fp)
	}
	table, _, err := run(t, "devices", "probe", "local")
	if err != nil || !strings.Contains(table, "cores:") {
		t.Fatalf("table output %q, %v", table, err)
	}
}

func TestDevicesProbeUnreachable(t *testing.T) {
	_, _, err := run(t, "devices", "probe", "ssh://nobody@127.0.0.1:1", "--known-hosts", t.TempDir()+"/kh", "--ssh-config", "none")
	if err == nil || ExitCodeOf(err) != ExitFailure {
		t.Fatalf("unreachable target: %v", err)
	}
	_, _, err = run(t, "devices", "probe", "ftp://x")
	if err == nil || !strings.Contains(err.Error(), "ftp") {
		t.Fatalf("unknown scheme: %v", err)
	}
}
