package devices

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// A TargetSyntaxError is a target string that names no target: no known
// scheme, or an address the scheme cannot take. Nothing was contacted.
type TargetSyntaxError struct {
	Target string
	Reason string
	// Suggestion is the target the user most likely meant, such as
	// "ssh://pi@raspberrypi.local" for "pi@raspberrypi.local"; "" when
	// there is no good guess.
	Suggestion string
}

func (e *TargetSyntaxError) Error() string {
	msg := fmt.Sprintf("open target %q: %s", e.Target, e.Reason)
	if e.Suggestion != "" {
		msg += "; did you mean " + e.Suggestion + "?"
	}
	return msg
}

// Hint lists the forms a target takes.
func (e *TargetSyntaxError) Hint() string {
	return "targets are local, ssh://[user@]host[:port] (host may be a ~/.ssh/config alias) or adb://SERIAL (adb:// for the only phone attached)"
}

func badTarget(target, format string, args ...any) error {
	return &TargetSyntaxError{Target: target, Reason: fmt.Sprintf(format, args...)}
}

// hostLike matches what an SSH destination written without its scheme
// looks like: [user@]host[:port].
var hostLike = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?[A-Za-z0-9._-]+(:[0-9]+)?$`)

// guessTarget returns the target a string without a known scheme most
// likely meant, or "".
func guessTarget(target string) string {
	rest := target
	for _, s := range []string{"ssh:", "adb:"} {
		if r, ok := strings.CutPrefix(target, s); ok && !strings.HasPrefix(r, "//") {
			return s + "//" + strings.TrimLeft(r, "/")
		}
	}
	if strings.Contains(rest, "://") || !hostLike.MatchString(rest) {
		return ""
	}
	return "ssh://" + rest
}

// An IdentityError is a key file given with Options.Identity (--identity)
// that cannot be used: missing, unreadable, protected by a passphrase, or
// not a private key. The device was not contacted.
type IdentityError struct {
	Target string
	Path   string
	Err    error
}

func (e *IdentityError) Error() string {
	if errors.Is(e.Err, os.ErrNotExist) {
		return fmt.Sprintf("open target %q: the identity file %s does not exist", e.Target, e.Path)
	}
	return fmt.Sprintf("open target %q: identity file %s: %v", e.Target, e.Path, e.Err)
}

func (e *IdentityError) Unwrap() error { return e.Err }

// Hint says what --identity takes.
func (e *IdentityError) Hint() string {
	if errors.Is(e.Err, os.ErrNotExist) {
		return "pass the path of an existing private key (such as ~/.ssh/id_ed25519, not its .pub) with --identity, or leave --identity out to use ~/.ssh/config, ~/.ssh/id_* and ssh-agent"
	}
	return "pass an unencrypted private key in OpenSSH or PEM format with --identity, or load the key into ssh-agent (ssh-add) and leave --identity out"
}
