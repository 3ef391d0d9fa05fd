package devices_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/devicetest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestSSHTrustReplace reinstalls the real sshd's host key: the connection
// is refused with both fingerprints, Trust still refuses, TrustReplace
// swaps the key on record (keeping other hosts' lines, and the other names
// of a line that lists several), and the connection then works.
func TestSSHTrustReplace(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	ctx := context.Background()
	opts := sshd.Options
	old := sshd.HostKey
	other := knownhosts.Line([]string{"otherhost"}, devicetest.NewKey(t))
	shared := knownhosts.Line([]string{knownhosts.Normalize(sshd.Addr), "alias.example"}, old)
	if err := os.WriteFile(opts.KnownHosts, []byte(other+"\n"+shared+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tg, err := devices.Open(ctx, sshd.URL, opts); err != nil {
		t.Fatalf("open with the key on record: %v", err)
	} else {
		tg.Close()
	}

	newKey := sshd.RegenerateHostKey(t)
	_, err := devices.Open(ctx, sshd.URL, opts)
	var hk *devices.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("open after the key changed: %v", err)
	}
	oldFP, newFP := ssh.FingerprintSHA256(old), ssh.FingerprintSHA256(newKey)
	if !strings.Contains(err.Error(), oldFP) || !strings.Contains(err.Error(), newFP) || !slices.Equal(hk.KnownFingerprints, []string{oldFP}) {
		t.Errorf("a changed key should show both fingerprints (old %s, new %s): %v", oldFP, newFP, err)
	}
	if _, err := devices.Trust(ctx, sshd.URL, opts); !errors.As(err, &hk) || !hk.Changed {
		t.Errorf("Trust over a changed key: %v, want refusal", err)
	}
	rep, err := devices.TrustReplace(ctx, sshd.URL, opts)
	if err != nil {
		t.Fatalf("TrustReplace: %v", err)
	}
	if !rep.Added || rep.Fingerprint != newFP || !slices.Equal(rep.Replaced, []string{oldFP}) {
		t.Errorf("TrustReplace = %+v", rep)
	}
	data, _ := os.ReadFile(opts.KnownHosts)
	want := other + "\n" + knownhosts.Line([]string{"alias.example"}, old) + "\n" + knownhosts.Line([]string{knownhosts.Normalize(sshd.Addr)}, newKey) + "\n"
	if string(data) != want {
		t.Errorf("known_hosts after the replace:\n%s\nwant:\n%s", data, want)
	}
	if st, _ := os.Stat(opts.KnownHosts); st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", st.Mode().Perm())
	}
	tg, err := devices.Open(ctx, sshd.URL, opts)
	if err != nil {
		t.Fatalf("open after the replace: %v", err)
	}
	tg.Close()
	// Once the key is on record, a replace has nothing to do.
	if rep, err := devices.TrustReplace(ctx, sshd.URL, opts); err != nil || rep.Added || rep.Replaced != nil {
		t.Errorf("second TrustReplace = %+v, %v", rep, err)
	}
}

// TestTargetSyntax: strings that are no target are refused before any
// connection, with the target meant.
func TestTargetSyntax(t *testing.T) {
	for target, suggestion := range map[string]string{
		"pi@raspberrypi.local":   "ssh://pi@raspberrypi.local",
		"pi@10.0.0.5:2222":       "ssh://pi@10.0.0.5:2222",
		"jetson":                 "ssh://jetson",
		"ssh:pi@host":            "ssh://pi@host",
		"adb:R58M12ABC":          "adb://R58M12ABC",
		"local:":                 "",
		"local://x":              "local",
		"ssh://host/path":        "",
		"ftp://host":             "",
		"ssh://user:secret@host": "",
		"two words":              "",
		"pi@host; rm -rf /":      "",
	} {
		_, err := devices.Open(context.Background(), target, devices.Options{SSHConfig: "none"})
		var se *devices.TargetSyntaxError
		if !errors.As(err, &se) || se.Suggestion != suggestion {
			t.Errorf("Open(%q): %v (%#v), want a syntax error suggesting %q", target, err, se, suggestion)
			continue
		}
		if suggestion != "" && !strings.Contains(err.Error(), "did you mean "+suggestion+"?") {
			t.Errorf("Open(%q): %q should ask whether %s was meant", target, err, suggestion)
		}
	}
}

// TestMissingIdentity names the missing key file, without dialling.
func TestMissingIdentity(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "id_missing")
	_, err := devices.Open(context.Background(), "ssh://pi@127.0.0.1:1", devices.Options{Identity: missing, SSHConfig: "none"})
	var ie *devices.IdentityError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "identity file "+missing+" does not exist") || strings.Contains(err.Error(), "refused") {
		t.Fatalf("missing identity: %v", err)
	}
	if !strings.Contains(ie.Hint(), "--identity") {
		t.Errorf("hint %q", ie.Hint())
	}
}
