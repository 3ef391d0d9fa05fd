package devices_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/devicetest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// runHint runs the shell command that follows marker in a hint, proving
// the advice is a command that works.
func runHint(t *testing.T, hint, marker string) {
	t.Helper()
	i := strings.Index(hint, marker)
	if i < 0 {
		t.Fatalf("hint %q lacks %q", hint, marker)
	}
	cmdline := hint[i+len(marker):]
	if j := strings.Index(cmdline, ", then"); j >= 0 {
		cmdline = cmdline[:j]
	}
	out, err := exec.Command("/bin/sh", "-c", cmdline).CombinedOutput()
	if err != nil {
		t.Fatalf("hint command %q: %v: %s", cmdline, err, out)
	}
}

func TestSSHUnknownHostKeyRefused(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	ctx := context.Background()
	opts := sshd.Options
	opts.KnownHosts = filepath.Join(t.TempDir(), "known_hosts") // missing file: nothing is known

	_, err := devices.Open(ctx, sshd.URL, opts)
	var hk *devices.HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("open with empty known_hosts: %v, want *HostKeyError", err)
	}
	if hk.Changed || hk.Fingerprint != ssh.FingerprintSHA256(sshd.HostKey) {
		t.Errorf("HostKeyError = %+v, want unknown key %s", hk, ssh.FingerprintSHA256(sshd.HostKey))
	}
	if !strings.Contains(err.Error(), hk.Fingerprint) {
		t.Errorf("error %q does not show the fingerprint", err)
	}
	want := fmt.Sprintf("ssh-keyscan -p %d -t ed25519 127.0.0.1 >> %s", sshd.Port, opts.KnownHosts)
	if !strings.Contains(hk.Hint(), want) {
		t.Errorf("hint %q lacks %q", hk.Hint(), want)
	}
	// The advice works: after running it, the same Open succeeds.
	runHint(t, hk.Hint(), "trust it with: ")
	tg, err := devices.Open(ctx, sshd.URL, opts)
	if err != nil {
		t.Fatalf("open after ssh-keyscan: %v", err)
	}
	tg.Close()
}

func TestSSHChangedHostKeyRefused(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	ctx := context.Background()
	opts := sshd.Options
	opts.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	other := devicetest.NewKey(t)
	line := knownhosts.Line([]string{knownhosts.Normalize(sshd.Addr)}, other) + "\n"
	if err := os.WriteFile(opts.KnownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := devices.Open(ctx, sshd.URL, opts)
	var hk *devices.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("open with another key on record: %v, want changed-key *HostKeyError", err)
	}
	if len(hk.Known) != 1 || !strings.HasSuffix(hk.Known[0], "known_hosts:1") {
		t.Errorf("Known = %v, want the known_hosts line", hk.Known)
	}
	if !strings.Contains(err.Error(), "CHANGED") || !strings.Contains(err.Error(), ssh.FingerprintSHA256(sshd.HostKey)) {
		t.Errorf("error %q should shout CHANGED and show the new fingerprint", err)
	}
	// Trust refuses to paper over a changed key.
	if _, err := devices.Trust(ctx, sshd.URL, opts); !errors.As(err, &hk) {
		t.Errorf("Trust over a changed key: %v, want refusal", err)
	}
	// The documented way out: remove the old line, trust the new key.
	runHint(t, hk.Hint(), "remove the old key with: ")
	runHint(t, hk.Hint(), "trust the new one: ")
	tg, err := devices.Open(ctx, sshd.URL, opts)
	if err != nil {
		t.Fatalf("open after following the hint: %v", err)
	}
	tg.Close()
}

func TestSSHTrust(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	ctx := context.Background()
	opts := sshd.Options
	opts.KnownHosts = filepath.Join(t.TempDir(), "sub", "known_hosts")

	hk, err := devices.Trust(ctx, sshd.URL, opts)
	if err != nil {
		t.Fatalf("trust: %v", err)
	}
	if !hk.Added || hk.Fingerprint != ssh.FingerprintSHA256(sshd.HostKey) {
		t.Errorf("trust = %+v", hk)
	}
	st, err := os.Stat(opts.KnownHosts)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts %v mode %v, want 0600", err, st.Mode())
	}
	tg, err := devices.Open(ctx, sshd.URL, opts)
	if err != nil {
		t.Fatalf("open after trust: %v", err)
	}
	tg.Close()
	hk, err = devices.Trust(ctx, sshd.URL, opts)
	if err != nil || hk.Added {
		t.Errorf("second trust = %+v, %v; want already trusted", hk, err)
	}
}

func TestSSHReconnectAfterDrop(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	ctx := context.Background()
	tg, err := devices.Open(ctx, sshd.URL, sshd.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()

	// Kill the connection while a command runs: the call fails, promptly,
	// with a transport error rather than an exit status.
	started := filepath.Join(t.TempDir(), "started") // sshd runs on this machine
	errc := make(chan error, 1)
	go func() {
		_, err := tg.Run(ctx, []string{"sh", "-c", `touch "$1"; sleep 30`, "sh", started}, devices.RunOptions{})
		errc <- err
	}()
	waitFor(t, func() bool { _, err := os.Stat(started); return err == nil })
	if n := sshd.DropConnections(t); n == 0 {
		t.Fatal("no sshd connection process to kill")
	}
	select {
	case err := <-errc:
		var ce *devices.CommandError
		if err == nil || errors.As(err, &ce) {
			t.Fatalf("run across a dropped connection: %v, want a connection error", err)
		}
		if !strings.Contains(err.Error(), "connection lost") {
			t.Errorf("error %q should say the connection was lost", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not notice the dropped connection within 20s")
	}
	// The next call dials again.
	res, err := tg.Run(ctx, []string{"echo", "back"}, devices.RunOptions{})
	if err != nil || string(res.Stdout) != "back\n" {
		t.Fatalf("run after drop: %q, %v", res.Stdout, err)
	}

	// A connection dropped while idle is replaced transparently, for
	// commands and for file copies.
	sshd.DropConnections(t)
	time.Sleep(100 * time.Millisecond)
	if _, err := tg.Run(ctx, []string{"true"}, devices.RunOptions{}); err != nil {
		t.Fatalf("run after idle drop: %v", err)
	}
	sshd.DropConnections(t)
	time.Sleep(100 * time.Millisecond)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("x"), 0o644)
	if err := tg.Push(ctx, src, filepath.Join(t.TempDir(), "g")); err != nil {
		t.Fatalf("push after idle drop: %v", err)
	}
}

func TestSSHConfigAlias(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	cfg := filepath.Join(t.TempDir(), "config")
	body := fmt.Sprintf("Host other\n  HostName 10.255.255.1\n\nHost mybench\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n", sshd.Port, sshd.User, sshd.Options.Identity)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := devices.Options{SSHConfig: cfg, KnownHosts: sshd.Options.KnownHosts, NoAgent: true}
	tg, err := devices.Open(context.Background(), "ssh://mybench", opts)
	if err != nil {
		t.Fatalf("open alias: %v", err)
	}
	defer tg.Close()
	res, err := tg.Run(context.Background(), []string{"id", "-un"}, devices.RunOptions{})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != sshd.User {
		t.Errorf("id -un = %q, %v; want %s", res.Stdout, err, sshd.User)
	}
}

func TestSSHAuthFailure(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	stranger := filepath.Join(t.TempDir(), "id_stranger")
	devicetest.WriteKey(t, stranger)
	opts := sshd.Options
	opts.Identity = stranger
	_, err := devices.Open(context.Background(), sshd.URL, opts)
	var ae *devices.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("open with an unknown key: %v, want *AuthError", err)
	}
	if !strings.Contains(ae.Hint(), "ssh-copy-id") || !strings.Contains(ae.Hint(), "--identity") {
		t.Errorf("hint %q", ae.Hint())
	}
}

func TestSSHWithoutSFTP(t *testing.T) {
	sshd := devicetest.StartSSHD(t, devicetest.SSHDOptions{NoSFTP: true})
	ctx := context.Background()
	tg, err := devices.Open(ctx, sshd.URL, sshd.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	dir, cleanup, err := tg.WorkDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup(ctx)
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("payload\x00\xff\n"), 0o750)
	remote := dir + "/it's $(touch PWNED) `x`; y"
	if err := tg.Push(ctx, src, remote); err != nil {
		t.Fatalf("push through the shell: %v", err)
	}
	back := filepath.Join(t.TempDir(), "back")
	if err := tg.Pull(ctx, remote, back); err != nil {
		t.Fatalf("pull through the shell: %v", err)
	}
	got, _ := os.ReadFile(back)
	st, _ := os.Stat(back)
	if string(got) != "payload\x00\xff\n" || st.Mode().Perm() != 0o750 {
		t.Errorf("pulled %q mode %v", got, st.Mode().Perm())
	}
	res, _ := tg.Run(ctx, []string{"sh", "-c", `find "$1" ~ -maxdepth 1 -name PWNED`, "sh", dir}, devices.RunOptions{})
	if len(res.Stdout) != 0 {
		t.Errorf("hostile name executed: %s", res.Stdout)
	}
}

func TestOpenBadTargets(t *testing.T) {
	ctx := context.Background()
	for _, target := range []string{
		"", "ftp://host", "ssh://", "ssh://host:0", "ssh://host:99999", "ssh://host:port",
		"ssh://user:secret@host", "ssh://host/path", "local://x",
	} {
		tg, err := devices.Open(ctx, target, devices.Options{SSHConfig: "none"})
		if err == nil {
			tg.Close()
			t.Errorf("Open(%q) succeeded", target)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", target)) {
			t.Errorf("Open(%q) error %q does not quote the target", target, err)
		}
	}
}

func TestSSHConnectRefused(t *testing.T) {
	port := devicetest.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := devices.Open(ctx, fmt.Sprintf("ssh://u@127.0.0.1:%d", port), devices.Options{SSHConfig: "none", NoAgent: true})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("open closed port: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
