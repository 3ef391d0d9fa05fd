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
		return nil, targetHint(target, err)
	}
	return t, nil
}

// targetHint adds what to do to errors of reaching a device.
func targetHint(target string, err error) error {
	var hk *devices.HostKeyError
	if errors.As(err, &hk) {
		return withHint(err, fmt.Sprintf("if the fingerprint is the device's, run 'edgefit devices trust %s'", target))
	}
	var ae *devices.AuthError
	if errors.As(err, &ae) {
		return withHint(err, "pass --identity KEY, add the key to ssh-agent, or set IdentityFile in ~/.ssh/config")
	}
	return withHint(err, "targets are local, ssh://user@host[:port] or adb://SERIAL; check the device is on and reachable")
}
