package profiler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

// deployedAgent is an edgefit-agent installed on a device.
type deployedAgent struct {
	Argv    []string // the agent and its --ort-lib flag, as run on the device
	Info    wire.Info
	Cleanup func(context.Context) error
}

// EnvAgent names an edgefit-agent binary for the device's architecture.
const EnvAgent = "EDGEFIT_AGENT"

// deployAgent installs the agent on t. It is a variable so that the
// deployment of package devices' helper can take over.
var deployAgent = pushAgent

// pushAgent copies an agent binary (EDGEFIT_AGENT, else edgefit-agent next
// to this executable) and the ONNX Runtime library for the device's
// architecture into a work directory on t and asks the agent what it
// loaded.
func pushAgent(ctx context.Context, t devices.Target, log *slog.Logger) (*deployedAgent, error) {
	if log == nil {
		log = slog.Default()
	}
	info, err := t.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("ask %s for its platform: %w", t.Name(), err)
	}
	bin := os.Getenv(EnvAgent)
	if bin == "" {
		if exe, err := os.Executable(); err == nil {
			bin = filepath.Join(filepath.Dir(exe), "edgefit-agent")
		}
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: fmt.Errorf("no edgefit-agent for %s/%s: set %s to one built with `make agents`", info.OS, info.Arch, EnvAgent)}
	}
	lib := ""
	if info.Arch == runtime.GOARCH {
		lib, err = ort.DefaultLibraryPath()
	} else {
		lib, err = ort.CachedLibraryPath(info.Arch)
	}
	if err != nil {
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: err}
	}
	if _, err := os.Stat(lib); err != nil {
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: fmt.Errorf("ONNX Runtime library for %s: %w", info.Arch, err)}
	}
	dir, clean, err := t.WorkDir(ctx)
	if err != nil {
		return nil, fmt.Errorf("create agent directory on %s: %w", t.Name(), err)
	}
	ok := false
	defer func() {
		if !ok {
			clean(context.WithoutCancel(ctx))
		}
	}()
	ragent, rlib := path.Join(dir, "edgefit-agent"), path.Join(dir, "libonnxruntime.so")
	if err := t.Push(ctx, bin, ragent); err != nil {
		return nil, fmt.Errorf("push agent to %s: %w", t.Name(), err)
	}
	if err := t.Push(ctx, lib, rlib); err != nil {
		return nil, fmt.Errorf("push ONNX Runtime to %s: %w", t.Name(), err)
	}
	argv := []string{ragent, "--ort-lib", rlib}
	res, err := t.Run(ctx, append(append([]string(nil), argv...), "info"), devices.RunOptions{})
	if err != nil {
		var ce *devices.CommandError
		if errors.As(err, &ce) {
			err = fmt.Errorf("%s", tail(ce.Stderr, 800))
		}
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: err}
	}
	var wi wire.Info
	if err := json.Unmarshal(res.Stdout, &wi); err != nil {
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: fmt.Errorf("agent info: %w (output %s)", err, tail(res.Stdout, 200))}
	}
	if wi.Format != wire.FormatVersion {
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: fmt.Errorf("agent speaks format %d, edgefit %d: rebuild the agent", wi.Format, wire.FormatVersion)}
	}
	log.Debug("agent deployed", "target", t.Name(), "ort", wi.ORTVersion, "providers", wi.Providers)
	ok = true
	return &deployedAgent{Argv: argv, Info: wi, Cleanup: clean}, nil
}
