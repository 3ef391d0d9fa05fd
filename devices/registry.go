package devices

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// Options configures how [Open] reaches a target. The zero value uses the
// same defaults as the ssh and adb command-line tools.
type Options struct {
	// SSH

	// Identity is a private key file tried before ~/.ssh/config's
	// IdentityFile and the default ~/.ssh/id_* keys.
	Identity string
	// KnownHosts is the known_hosts file used to check host keys
	// ("" = ~/.ssh/known_hosts). A missing file counts as empty.
	KnownHosts string
	// SSHConfig is the ssh client configuration file consulted for host
	// aliases ("" = ~/.ssh/config then /etc/ssh/ssh_config; "none" = none).
	SSHConfig string
	// NoAgent disables ssh-agent even when SSH_AUTH_SOCK is set.
	NoAgent bool

	// ADB

	// ADBPath is the adb binary ("" = "adb" found on PATH).
	ADBPath string
	// ADBServerPort is the port of the adb server (0 = ANDROID_ADB_SERVER_PORT
	// from the environment, else adb's default 5037).
	ADBServerPort int
	// ADBEnv adds "NAME=value" entries to the environment of every adb
	// invocation (for example HOME, which holds adb's keys).
	ADBEnv []string

	// Logger receives debug logs of commands and connections (nil = slog.Default()).
	Logger *slog.Logger
}

func (o *Options) logger() *slog.Logger {
	if o == nil || o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// Opener opens a target whose string starts with a registered scheme. rest
// is what follows "scheme://" (empty for "local").
type Opener func(ctx context.Context, target, rest string, opts Options) (Target, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a transport available to [Open] under scheme (e.g. "ssh"
// for "ssh://..."). Registering a scheme twice panics: it is a programming
// error, found at init time.
func Register(scheme string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("devices: Register called twice for scheme " + scheme)
	}
	registry[scheme] = open
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s := make([]string, 0, len(registry))
	for k := range registry {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Open connects to a target:
//
//	local                          this machine
//	ssh://[user@]host[:port]       a Linux machine over SSH (host may be a ~/.ssh/config alias)
//	adb://SERIAL                   an Android device as listed by `adb devices`
//	adb://                         the only attached Android device
//
// Open checks that the target is reachable (it dials SSH, asks adb for the
// device) so that a wrong address fails here rather than mid-profile. A
// string that is no target at all (no scheme, a malformed address) is a
// [*TargetSyntaxError], which suggests the likely target.
func Open(ctx context.Context, target string, opts Options) (Target, error) {
	scheme, rest := target, ""
	if i := strings.Index(target, "://"); i >= 0 {
		scheme, rest = target[:i], target[i+3:]
	}
	registryMu.RLock()
	open, ok := registry[scheme]
	registryMu.RUnlock()
	if !ok {
		if !strings.Contains(target, "://") {
			return nil, &TargetSyntaxError{Target: target, Reason: "not a target: it has no scheme", Suggestion: guessTarget(target)}
		}
		return nil, badTarget(target, "unknown kind %q; use local, ssh://user@host[:port] or adb://SERIAL", scheme)
	}
	return open(ctx, target, rest, opts)
}
