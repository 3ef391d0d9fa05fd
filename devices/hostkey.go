package devices

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/edgefit/edgefit/internal/atomicfile"
)

// HostKeyError refuses a connection whose host key is not in known_hosts
// (Changed false) or differs from the key on record there (Changed true).
// Its Hint gives the command that trusts the key once it has been checked.
type HostKeyError struct {
	Target      string
	Addr        string   // host:port dialled
	KeyType     string   // e.g. "ssh-ed25519"
	Fingerprint string   // "SHA256:..." as printed by ssh-keygen -l
	KnownHosts  string   // the known_hosts file consulted
	Changed     bool     // another key is on record for this host
	Revoked     bool     // the key is marked @revoked
	Known       []string // "file:line" of the keys on record, when Changed
	// KnownFingerprints are the SHA256 fingerprints of those keys, in the
	// same order, so that the old key can be compared with the new one.
	KnownFingerprints []string

	knownLines []int // line numbers of Known in the KnownHosts file
}

func (e *HostKeyError) Error() string {
	switch {
	case e.Revoked:
		return fmt.Sprintf("ssh %s: host key %s %s of %s is marked @revoked in %s", e.Target, e.KeyType, e.Fingerprint, e.Addr, e.KnownHosts)
	case e.Changed:
		var onRecord []string
		for i, k := range e.Known {
			if i < len(e.KnownFingerprints) {
				k = e.KnownFingerprints[i] + " (" + k + ")"
			}
			onRecord = append(onRecord, k)
		}
		return fmt.Sprintf("ssh %s: HOST KEY CHANGED for %s: it now offers %s %s, which differs from the key on record, %s; this can be an attack, or a reinstalled device",
			e.Target, e.Addr, e.KeyType, e.Fingerprint, strings.Join(onRecord, ", "))
	default:
		return fmt.Sprintf("ssh %s: host %s is not in %s (it offers %s key %s); refusing to connect to an unknown host", e.Target, e.Addr, e.KnownHosts, e.KeyType, e.Fingerprint)
	}
}

// Hint says how to accept the key after checking its fingerprint.
func (e *HostKeyError) Hint() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	scan := "ssh-keyscan"
	if port != "22" {
		scan += " -p " + port
	}
	scan += " -t " + keyscanType(e.KeyType) + " " + host + " >> " + Quote(e.KnownHosts)
	check := "compare " + e.Fingerprint + " with `ssh-keygen -lf /etc/ssh/ssh_host_" + keyscanType(e.KeyType) + "_key.pub` run on the device"
	switch {
	case e.Revoked:
		return "the key was revoked on purpose; ask whoever manages the device"
	case e.Changed:
		return check + "; if the change is expected, remove the old key with: ssh-keygen -R " + Quote(knownhosts.Normalize(e.Addr)) + " -f " + Quote(e.KnownHosts) + ", then trust the new one: " + scan
	default:
		return check + ", then trust it with: " + scan
	}
}

// keyscanType maps an SSH key algorithm to ssh-keyscan's -t name.
func keyscanType(keyType string) string {
	switch {
	case strings.Contains(keyType, "ed25519"):
		return "ed25519"
	case strings.Contains(keyType, "ecdsa"):
		return "ecdsa"
	case strings.Contains(keyType, "rsa"):
		return "rsa"
	}
	return keyType
}

// checkHostKey is the HostKeyCallback: known_hosts is read on every
// connection, so a key trusted meanwhile (or by Trust) is picked up.
func (s *SSH) checkHostKey(hostname string, remote net.Addr, key ssh.PublicKey) error {
	herr := &HostKeyError{Target: s.name, Addr: hostname, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: s.knownHosts}
	if _, err := os.Stat(s.knownHosts); errors.Is(err, os.ErrNotExist) {
		return herr
	}
	cb, err := knownhosts.New(s.knownHosts)
	if err != nil {
		return fmt.Errorf("read known hosts file %s: %w", s.knownHosts, err)
	}
	err = cb(hostname, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		herr.Revoked = true
		return herr
	case errors.As(err, &ke):
		if len(ke.Want) > 0 {
			herr.Changed = true
			for _, k := range ke.Want {
				herr.Known = append(herr.Known, fmt.Sprintf("%s:%d", k.Filename, k.Line))
				herr.KnownFingerprints = append(herr.KnownFingerprints, ssh.FingerprintSHA256(k.Key))
				herr.knownLines = append(herr.knownLines, k.Line)
			}
		}
		return herr
	}
	return err
}

// knownHostKeyAlgorithms lists the key algorithms on record for addr so that
// the server is asked for a key we can check. Without this a host known by
// its RSA key but offering ed25519 first would look like a changed key.
func knownHostKeyAlgorithms(file, addr string) []string {
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil
	}
	probe, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	err = cb(addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, probe)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// HostKey describes a host key seen by [Trust].
type HostKey struct {
	Addr        string `json:"addr"`
	KeyType     string `json:"key_type"`
	Fingerprint string `json:"fingerprint"`
	KnownHosts  string `json:"known_hosts"`
	Added       bool   `json:"added"` // false: it was already trusted
	// Replaced lists the fingerprints of the keys [TrustReplace] removed.
	Replaced []string `json:"replaced_fingerprints,omitempty"`
}

// errKeySeen stops the handshake once Trust has the key.
var errKeySeen = errors.New("host key captured")

// Trust fetches the host key of an ssh:// target and appends it to the
// known_hosts file of opts (like ssh-keyscan >> known_hosts). Call it only
// after comparing the fingerprint with the device's own (the CLI should
// print it and ask). A key that differs from one on record is refused
// with the [*HostKeyError] that shows both fingerprints; [TrustReplace]
// replaces it.
func Trust(ctx context.Context, target string, opts Options) (*HostKey, error) {
	return trust(ctx, target, opts, false)
}

// TrustReplace is [Trust] for a device whose host key changed on purpose
// (reinstalled, new SD card): the known_hosts lines that hold another key
// for the host are removed (for a line that lists several hosts, only this
// host's name) and the new key is appended, atomically. A revoked key is
// still refused. Call it only after comparing the new fingerprint with the
// device's own.
func TrustReplace(ctx context.Context, target string, opts Options) (*HostKey, error) {
	return trust(ctx, target, opts, true)
}

func trust(ctx context.Context, target string, opts Options, replace bool) (*HostKey, error) {
	rest, ok := strings.CutPrefix(target, "ssh://")
	if !ok {
		return nil, &TargetSyntaxError{Target: target, Reason: "only ssh:// targets have host keys", Suggestion: guessTarget(target)}
	}
	s, err := newSSH(target, rest, opts)
	if err != nil {
		return nil, err
	}
	addr := s.addr()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:    s.user,
		Timeout: handshakeTimeout,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errKeySeen
		},
	}
	d := net.Dialer{Timeout: handshakeTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("trust %s: connect to %s: %w", target, addr, err)
	}
	defer raw.Close()
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	_, _, _, err = ssh.NewClientConn(raw, addr, cfg)
	stop()
	if key == nil {
		return nil, fmt.Errorf("trust %s: no host key received from %s: %w", target, addr, err)
	}
	hk := &HostKey{Addr: addr, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: s.knownHosts}
	err = s.checkHostKey(addr, raw.RemoteAddr(), key)
	var herr *HostKeyError
	switch {
	case err == nil:
		return hk, nil
	case replace && errors.As(err, &herr) && herr.Changed && !herr.Revoked:
		if err := replaceKnownHost(s.knownHosts, addr, herr.knownLines, key); err != nil {
			return nil, fmt.Errorf("trust %s: replace the old key: %w", target, err)
		}
		hk.Replaced = herr.KnownFingerprints
		hk.Added = true
		return hk, nil
	case !isUnknownHost(err):
		return nil, err
	}
	if err := appendKnownHost(s.knownHosts, addr, key); err != nil {
		return nil, fmt.Errorf("trust %s: %w", target, err)
	}
	hk.Added = true
	return hk, nil
}

func isUnknownHost(err error) bool {
	var hk *HostKeyError
	return errors.As(err, &hk) && !hk.Changed && !hk.Revoked
}

// appendKnownHost adds one known_hosts line, creating the file (0600) and
// its directory (0700) as ssh would.
func appendKnownHost(file, addr string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	line := knownHostLine(addr, key)
	// Keep lines separate even if the file lacks a final newline.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil || err == io.EOF {
			if last[0] != '\n' {
				line = "\n" + line
			}
		}
	}
	if _, err := f.WriteString(line); err != nil {
		return err
	}
	return f.Sync()
}

// knownHostLine is addr's known_hosts line for key, newline included.
func knownHostLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
}

// replaceKnownHost takes addr off the known_hosts lines numbered lines (see
// removeKnownHost) and appends key's line (as appendKnownHost does), in
// one atomic rewrite of the file with its mode: a crash leaves the old
// key or the new one, never neither.
func replaceKnownHost(file, addr string, lines []int, key ssh.PublicKey) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	text, err := removeKnownHost(file, string(data), addr, lines)
	if err != nil {
		return err
	}
	// Keep lines separate even if what is left lacks a final newline.
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += knownHostLine(addr, key)
	return atomicfile.WriteMode(file, st.Mode().Perm(), func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
}

// removeKnownHost returns data, the contents of the known_hosts file file,
// with addr taken off the lines numbered lines (1-based): a line naming
// only addr goes, a line naming other hosts too keeps them. A line that
// matched through a wildcard or negated pattern is left to the user, since
// editing it would change other hosts' trust.
func removeKnownHost(file, data, addr string, lines []int) (string, error) {
	drop := map[int]bool{}
	for _, n := range lines {
		drop[n] = true
	}
	host := knownhosts.Normalize(addr)
	text := strings.SplitAfter(data, "\n")
	var out strings.Builder
	for i, line := range text {
		if !drop[i+1] {
			out.WriteString(line)
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || strings.HasPrefix(fields[0], "@") {
			return "", fmt.Errorf("%s:%d is not a plain host key line; edit it by hand", file, i+1)
		}
		if strings.HasPrefix(fields[0], "|1|") { // hashed: one host per line
			continue
		}
		var keep []string
		found := false
		for _, p := range strings.Split(fields[0], ",") {
			if p == host {
				found = true
			} else {
				keep = append(keep, p)
			}
		}
		if !found {
			return "", fmt.Errorf("%s:%d names %s through the pattern %q, which covers other hosts too; edit it by hand", file, i+1, host, fields[0])
		}
		if len(keep) > 0 {
			out.WriteString(strings.Replace(line, fields[0], strings.Join(keep, ","), 1))
		}
	}
	return out.String(), nil
}
