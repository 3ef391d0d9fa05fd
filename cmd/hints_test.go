package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices/devicetest"
	"golang.org/x/crypto/ssh"
)

// printed is what the user sees of err: the error line and its hints.
func printed(err error) string {
	var b bytes.Buffer
	PrintError(&b, err)
	return b.String()
}

// TestTrustHints runs the hints against the real sshd: an unknown host's
// hint is the trust command with the --known-hosts given, and running it
// works; after the host key is regenerated, both fingerprints are shown
// and the hint's 'devices trust --replace' command works.
func TestTrustHints(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	kh := filepath.Join(t.TempDir(), "my known_hosts")
	conn := []string{"--identity", sshd.Options.Identity, "--known-hosts", kh, "--ssh-config", "none"}
	probe := append([]string{"devices", "probe", sshd.URL}, conn...)

	_, _, err := run(t, probe...)
	msg := printed(err)
	want := "trust it with: edgefit devices trust " + sshd.URL + " --known-hosts '" + kh + "' --ssh-config none\n"
	if !strings.Contains(msg, want) {
		t.Fatalf("unknown host: the hint should be the trust command with --known-hosts:\n%s\nwant %s", msg, want)
	}
	trust := []string{"devices", "trust", sshd.URL, "--known-hosts", kh, "--ssh-config", "none"}
	if _, _, err := run(t, trust...); err != nil {
		t.Fatalf("the hint's trust command: %v", err)
	}
	if _, _, err := run(t, probe...); err != nil {
		t.Fatalf("probe after trusting: %v", err)
	}

	old := sshd.HostKey
	newKey := sshd.RegenerateHostKey(t)
	_, _, err = run(t, probe...)
	msg = printed(err)
	for _, w := range []string{"HOST KEY CHANGED", ssh.FingerprintSHA256(old), ssh.FingerprintSHA256(newKey), "edgefit devices trust --replace " + sshd.URL} {
		if !strings.Contains(msg, w) {
			t.Errorf("changed key: output lacks %q:\n%s", w, msg)
		}
	}
	if _, _, err := run(t, trust...); err == nil {
		t.Error("trust without --replace accepted a changed key")
	}
	out, _, err := run(t, append(trust, "--replace")...)
	if err != nil || !strings.Contains(out, "replaced:") || !strings.Contains(out, ssh.FingerprintSHA256(old)) {
		t.Fatalf("trust --replace: %v\n%s", err, out)
	}
	if _, _, err := run(t, probe...); err != nil {
		t.Fatalf("probe after trust --replace: %v", err)
	}
}

// TestTargetHints: a missing --identity file is named as missing; a target
// without its scheme is a usage error that says which target was meant.
func TestTargetHints(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "id_nope")
	_, _, err := run(t, "devices", "probe", "ssh://pi@127.0.0.1:1", "--identity", missing, "--ssh-config", "none")
	msg := printed(err)
	if ExitCodeOf(err) != ExitUsage || !strings.Contains(msg, "identity file "+missing+" does not exist") || strings.Contains(msg, "reachable") {
		t.Errorf("missing --identity: exit %d\n%s", ExitCodeOf(err), msg)
	}
	for _, cmdline := range [][]string{
		{"devices", "probe", "pi@raspberrypi.local"},
		{"devices", "trust", "pi@raspberrypi.local"},
		{"profile", "pi@raspberrypi.local", "--space", "ofa-mbv3-w1.0", "-o", filepath.Join(t.TempDir(), "x.lut.json")},
	} {
		_, _, err := run(t, cmdline...)
		msg := printed(err)
		if ExitCodeOf(err) != ExitUsage || !strings.Contains(msg, "did you mean ssh://pi@raspberrypi.local?") {
			t.Errorf("%v: exit %d\n%s", cmdline, ExitCodeOf(err), msg)
		}
	}
}

// TestAccuracySpaceHint: an accuracy predictor of the other space is
// refused naming the flag that exists (--acc) and the file once.
func TestAccuracySpaceHint(t *testing.T) {
	shared := sharedDir(t)
	lutPath, _ := note10Table(t)
	pred := filepath.Join(t.TempDir(), "w10.pred.json")
	if _, _, err := run(t, "predictor", "fit", lutPath, "--space", "ofa-mbv3-w1.0", "-o", pred); err != nil {
		t.Fatal(err)
	}
	acc := filepath.Join(shared, "ofa-upstream/acc_predictor.pth")
	_, _, err := run(t, "select", "--predictor", pred, "--acc", acc, "--max-latency", "20ms")
	msg := printed(err)
	if err == nil || strings.Contains(msg, "--accuracy-csv") || !strings.Contains(msg, "--acc samples.csv") || strings.Count(msg, acc) != 1 {
		t.Errorf("a w1.2 accuracy predictor on a w1.0 search:\n%s", msg)
	}
	if _, err := os.Stat(acc); err != nil {
		t.Fatal(err)
	}
}
