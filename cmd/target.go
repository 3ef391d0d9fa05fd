package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/agent"
)

// targetOptions are the flags of every command that reaches a device.
type targetOptions struct {
	Identity     string
	KnownHosts   string
	SSHConfig    string
	ADB          string
	Agent        string
	ORTLib       string
	DeviceORTLib string
}

func (o *targetOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Identity, "identity", "", "ssh private key for ssh:// targets (default: ~/.ssh/config, ~/.ssh/id_*, ssh-agent)")
	f.StringVar(&o.KnownHosts, "known-hosts", "", "known_hosts file checked for ssh:// targets (default ~/.ssh/known_hosts)")
	f.StringVar(&o.SSHConfig, "ssh-config", "", `ssh client config for host aliases (default ~/.ssh/config; "none" for none)`)
	f.StringVar(&o.ADB, "adb", "", "adb binary for adb:// targets (default: adb on PATH)")
	f.StringVar(&o.Agent, "agent", "", "edgefit-agent binary for the device (default: built by 'make agents' or, for Android, 'make agent-android', found beside edgefit or in ./bin)")
	f.StringVar(&o.ORTLib, "ort-lib", "", "ONNX Runtime library to push to the device (default: the 'make ort' cache for linux amd64/arm64, the 'make ort-android' cache by the phone's ABI)")
	f.StringVar(&o.DeviceORTLib, "device-ort-lib", "", "ONNX Runtime library already installed on the device (GPU builds with CUDA/TensorRT)")
}

func (o *targetOptions) deviceOptions(log *slog.Logger) devices.Options {
	return devices.Options{Identity: o.Identity, KnownHosts: o.KnownHosts, SSHConfig: o.SSHConfig, ADBPath: o.ADB, Logger: log}
}

func (o *targetOptions) agentOptions(log *slog.Logger) agent.Options {
	return agent.Options{Agent: o.Agent, ORTLib: o.ORTLib, DeviceORTLib: o.DeviceORTLib, Logger: log}
}

// open connects to target and turns transport errors into hints.
func (o *targetOptions) open(ctx context.Context, g *globalOptions, target string) (devices.Target, error) {
	t, err := devices.Open(ctx, target, o.deviceOptions(g.logger()))
	if err != nil {
		return nil, o.targetHint(target, err)
	}
	return t, nil
}

// targetHint adds what to do to errors of reaching a device. Errors that
// carry their own advice (a Hint method) get no generic one.
func (o *targetOptions) targetHint(target string, err error) error {
	var (
		hk *devices.HostKeyError
		ae *devices.AuthError
		se *devices.TargetSyntaxError
		ie *devices.IdentityError
		h  interface{ Hint() string }
	)
	switch {
	case errors.As(err, &se), errors.As(err, &ie):
		return withCode(err, ExitUsage)
	case errors.As(err, &hk) && hk.Revoked:
		return err
	case errors.As(err, &hk) && hk.Changed:
		return withHint(err, fmt.Sprintf("if the device was reinstalled and %s is the fingerprint it shows now, replace the old key with: %s",
			hk.Fingerprint, o.trustCommand(target, true)))
	case errors.As(err, &hk):
		return withHint(err, "if the fingerprint is the device's, trust it with: "+o.trustCommand(target, false))
	case errors.As(err, &ae):
		return withHint(err, "pass --identity KEY, add the key to ssh-agent, or set IdentityFile in ~/.ssh/config")
	case errors.As(err, &h) && h.Hint() != "":
		return err
	}
	return withHint(err, "targets are local, ssh://user@host[:port] or adb://SERIAL; check the device is on and reachable")
}

// trustCommand is the 'edgefit devices trust' command line for target with
// the flags of o that say where the key goes and how the host is found.
func (o *targetOptions) trustCommand(target string, replace bool) string {
	argv := []string{"edgefit", "devices", "trust"}
	if replace {
		argv = append(argv, "--replace")
	}
	argv = append(argv, target)
	if o.KnownHosts != "" {
		argv = append(argv, "--known-hosts", o.KnownHosts)
	}
	if o.SSHConfig != "" {
		argv = append(argv, "--ssh-config", o.SSHConfig)
	}
	return devices.QuoteArgs(argv)
}
