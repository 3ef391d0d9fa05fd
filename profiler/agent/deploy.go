package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

// EnvAgentDir names a directory holding edgefit-agent-OS-ARCH binaries.
const EnvAgentDir = "EDGEFIT_AGENT_DIR"

// Options say which files to deploy and where.
type Options struct {
	// Agent is the edgefit-agent binary for the device ("" = [Locate]).
	Agent string
	// ORTLib is the ONNX Runtime shared library for the device ("" = the
	// `make ort` cache for linux/amd64 and linux/arm64; other platforms
	// must name one).
	ORTLib string
	// DeviceORTLib is an ONNX Runtime library already installed on the
	// device, used instead of pushing one: GPU builds (CUDA, TensorRT) need
	// their provider libraries (libonnxruntime_providers_*.so) in the same
	// directory, which only an installation on the device has.
	DeviceORTLib string
	// CacheDir is the cache directory on the device ("" = see the package
	// documentation).
	CacheDir string
	Logger   *slog.Logger
}

// Agent is edgefit-agent installed on a device.
type Agent struct {
	Target devices.Target
	Bin    string    // agent path on the device
	Lib    string    // ONNX Runtime library path on the device
	Info   wire.Info // what the agent reported after loading the library
	Pushed int       // files copied by Deploy (0: all were cached)
	log    *slog.Logger
}

// Argv is the command prefix that runs the agent with its library.
func (a *Agent) Argv() []string { return []string{a.Bin, "--ort-lib", a.Lib} }

// Deploy installs (or finds cached) the agent and library on t for its
// platform, then runs `edgefit-agent info` to check that they load.
func Deploy(ctx context.Context, t devices.Target, opts Options) (*Agent, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	info, err := t.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("deploy agent to %s: %w", t.Name(), err)
	}
	bin, lib, err := hostFiles(info, opts, log)
	if err != nil {
		return nil, fmt.Errorf("deploy agent to %s (%s): %w", t.Name(), platform(info), err)
	}
	base, err := cacheBase(ctx, t, opts, &info)
	if err != nil {
		return nil, err
	}
	a := &Agent{Target: t, log: log}
	if a.Bin, err = a.ensure(ctx, bin, base, "edgefit-agent"); err != nil {
		return nil, err
	}
	if opts.DeviceORTLib != "" {
		a.Lib = opts.DeviceORTLib
	} else if a.Lib, err = a.ensure(ctx, lib, base, "libonnxruntime.so"); err != nil {
		return nil, err
	}
	if a.Info, err = a.info(ctx); err != nil {
		return nil, err
	}
	log.Debug("agent ready", "target", t.Name(), "bin", a.Bin, "ort", a.Info.ORTVersion, "pushed", a.Pushed)
	return a, nil
}

// hostFiles picks and checks the agent and the ONNX Runtime library to
// push for the device's platform (on Android, its ABI). When both are
// missing, the error names both and the make targets that build them.
func hostFiles(info devices.Info, opts Options, log *slog.Logger) (bin, lib string, err error) {
	bin, lib = opts.Agent, opts.ORTLib
	var binErr, libErr error
	if bin == "" {
		bin, binErr = Locate(info.OS, info.Arch)
	}
	if binErr == nil {
		binErr = checkBinary(bin, info, opts.Agent != "", log)
	}
	if lib == "" && opts.DeviceORTLib == "" {
		lib, libErr = locateLib(info)
	}
	if libErr == nil && lib != "" && info.OS == "android" && info.ABI != "" {
		_, libErr = ortlib.CheckAndroidLibrary(lib, info.ABI)
		if errors.Is(libErr, ortlib.ErrNotAndroid) && opts.ORTLib != "" {
			log.Warn(libErr.Error() + "; deploying it anyway because it was given explicitly")
			libErr = nil
		}
	}
	if binErr != nil && libErr != nil {
		return "", "", fmt.Errorf("two files are missing or unusable:\n  agent: %w\n  library: %w", binErr, libErr)
	}
	return bin, lib, errors.Join(binErr, libErr)
}

// platform describes a device's platform for messages: "linux/arm64", or
// "android/arm64, ABI arm64-v8a".
func platform(info devices.Info) string {
	s := info.OS + "/" + info.Arch
	if info.ABI != "" {
		s += ", ABI " + info.ABI
	}
	return s
}

// Locate finds edgefit-agent-GOOS-GOARCH in $EDGEFIT_AGENT_DIR, next to
// the running executable, or in ./bin (where `make agents` writes).
func Locate(goos, goarch string) (string, error) {
	name := "edgefit-agent-" + goos + "-" + goarch
	var dirs []string
	if d := os.Getenv(EnvAgentDir); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	dirs = append(dirs, "bin")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	how := "run `make agents`"
	switch {
	case goos == "android" && goarch == "arm64":
		how = "build it with `make agent-android` (needs the Android NDK r26 or newer in $ANDROID_NDK_HOME; docs/devices.md)"
	case goos == "android":
		how = "build it with the Android NDK's clang as docs/devices.md shows (`make agent-android` builds android/arm64 only)"
	}
	return "", fmt.Errorf("no %s found in %s: %s, or pass the binary with --agent", name, strings.Join(dirs, ", "), how)
}

func locateLib(info devices.Info) (string, error) {
	if info.OS == "android" {
		if info.ABI == "" {
			return "", errors.New("the device reports no ABI (getprop ro.product.cpu.abi), so no ONNX Runtime library can be picked for it: pass one with --ort-lib")
		}
		p, err := ortlib.AndroidLibraryPath(info.ABI)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ONNX Runtime's Android library for %s is not at %s (run `make ort-android`, or pass one with --ort-lib): %w", info.ABI, p, err)
		}
		return p, nil
	}
	if info.OS != "linux" {
		return "", fmt.Errorf("no ONNX Runtime library known for %s/%s: pass one built for it with --ort-lib", info.OS, info.Arch)
	}
	p, err := ortlib.CachedPath(info.Arch)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("ONNX Runtime library for linux/%s: %w (run `make ort`)", info.Arch, err)
	}
	return p, nil
}

// elfMachines maps GOARCH to the ELF machine its binaries carry.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM, "386": elf.EM_386, "riscv64": elf.EM_RISCV,
}

// checkBinary refuses an agent built for another architecture, which would
// otherwise fail on the device with a bare "exec format error".
func checkBinary(bin string, info devices.Info, explicit bool, log *slog.Logger) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("agent binary %s: %w", bin, err)
	}
	defer f.Close()
	if want, ok := elfMachines[info.Arch]; ok && f.Machine != want {
		return fmt.Errorf("agent binary %s is built for %s, but %s is %s (%s): use edgefit-agent-%s-%s", bin, f.Machine, info.OS, info.Arch, info.Machine, info.OS, info.Arch)
	}
	interp := ""
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, _ := io.ReadAll(p.Open())
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	androidBin := strings.HasPrefix(interp, "/system/bin/linker")
	if interp != "" && androidBin != (info.OS == "android") {
		msg := fmt.Sprintf("agent binary %s uses the dynamic linker %s, which %s lacks", bin, interp, info.OS)
		if !explicit {
			return errors.New(msg + ": build the agent for this OS (docs/devices.md)")
		}
		log.Warn(msg + "; deploying it anyway because it was given explicitly")
	}
	return nil
}

// cacheBase is the directory of the agent's cache on t: opts.CacheDir,
// else the one the device names (cacheDir). info is t's, or nil to ask t
// for it only when it is needed.
func cacheBase(ctx context.Context, t devices.Target, opts Options, info *devices.Info) (string, error) {
	if opts.CacheDir != "" {
		return opts.CacheDir, nil
	}
	if info == nil {
		i, err := t.Info(ctx)
		if err != nil {
			return "", fmt.Errorf("agent cache on %s: %w", t.Name(), err)
		}
		info = &i
	}
	return cacheDir(ctx, t, *info)
}

// cacheDir asks the device for its cache location.
func cacheDir(ctx context.Context, t devices.Target, info devices.Info) (string, error) {
	script := `printf '%s' "${XDG_CACHE_HOME:-$HOME/.cache}/edgefit"`
	if info.OS == "android" {
		script = `printf '%s' "${TMPDIR:-/data/local/tmp}/edgefit"`
	}
	res, err := t.Run(ctx, []string{"sh", "-c", script}, devices.RunOptions{})
	if err != nil {
		return "", fmt.Errorf("find the cache directory on %s: %w", t.Name(), err)
	}
	dir := string(res.Stdout)
	if !path.IsAbs(dir) || strings.ContainsAny(dir, "\n") {
		return "", fmt.Errorf("find the cache directory on %s: unusable answer %q (set HOME on the device, or pass a cache directory)", t.Name(), dir)
	}
	return dir, nil
}

// ensure makes base/<sha256>/name a copy of local on the device, pushing
// only when it is missing or its size differs.
func (a *Agent) ensure(ctx context.Context, local, base, name string) (string, error) {
	sum, size, err := hashFile(local)
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", local, err)
	}
	dir := path.Join(base, sum[:32])
	remote := path.Join(dir, name)
	res, err := a.Target.Run(ctx, []string{"sh", "-c", `if [ -f "$1" ]; then wc -c < "$1"; fi`, "sh", remote}, devices.RunOptions{})
	if err != nil {
		return "", fmt.Errorf("check %s on %s: %w", remote, a.Target.Name(), err)
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(res.Stdout)), 10, 64); err == nil && n == size {
		a.log.Debug("cached on device", "file", remote)
		return remote, nil
	}
	if _, err := a.Target.Run(ctx, []string{"mkdir", "-p", dir}, devices.RunOptions{}); err != nil {
		return "", fmt.Errorf("create %s on %s: %w", dir, a.Target.Name(), err)
	}
	a.log.Info("pushing to device", "file", filepath.Base(local), "bytes", size, "to", remote)
	if err := a.Target.Push(ctx, local, remote); err != nil {
		return "", fmt.Errorf("push %s: %w", local, err)
	}
	if _, err := a.Target.Run(ctx, []string{"chmod", "755", remote}, devices.RunOptions{}); err != nil {
		return "", fmt.Errorf("make %s executable: %w", remote, err)
	}
	a.Pushed++
	return remote, nil
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// CheckProviders asks the agent which of the execution providers its
// library was built with can run on the device: it creates a session with
// each on a one-node model (`edgefit-agent info --check-providers`).
func (a *Agent) CheckProviders(ctx context.Context) ([]wire.ProviderCheck, error) {
	info, err := a.info(ctx, "--check-providers")
	if err != nil {
		return nil, err
	}
	return info.ProviderChecks, nil
}

// info runs `edgefit-agent info` and checks the protocol version.
func (a *Agent) info(ctx context.Context, flags ...string) (wire.Info, error) {
	res, err := a.Target.Run(ctx, append(append(a.Argv(), "info"), flags...), devices.RunOptions{})
	if err != nil {
		return wire.Info{}, fmt.Errorf("run edgefit-agent info on %s: %w", a.Target.Name(), err)
	}
	var info wire.Info
	for _, line := range bytes.Split(res.Stdout, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 && line[0] == '{' {
			if err := json.Unmarshal(line, &info); err != nil {
				return wire.Info{}, fmt.Errorf("edgefit-agent info on %s: %w", a.Target.Name(), err)
			}
			break
		}
	}
	if info.ORTVersion == "" {
		return wire.Info{}, fmt.Errorf("edgefit-agent info on %s printed no description: %q", a.Target.Name(), res.Stdout)
	}
	if info.Format != wire.FormatVersion {
		return wire.Info{}, fmt.Errorf("the agent on %s speaks format %d, this edgefit %d: deploy the agent built with this edgefit (`make agents`)", a.Target.Name(), info.Format, wire.FormatVersion)
	}
	return info, nil
}

// RuntimeInfo converts the agent's self-description for a device
// fingerprint.
func RuntimeInfo(info wire.Info) *devices.RuntimeInfo {
	ri := &devices.RuntimeInfo{ORTVersion: info.ORTVersion, Library: info.Library, Providers: info.Providers, Agent: info.Agent}
	for _, c := range info.ProviderChecks {
		ri.ProviderChecks = append(ri.ProviderChecks, devices.ProviderCheck(c))
	}
	return ri
}

// Probe fingerprints t and, by deploying the agent, adds which ONNX
// Runtime it finds there, the execution providers its library was built
// with, and which of them can run there ([Agent.CheckProviders]). A deploy
// failure is returned with the fingerprint still filled, so a caller can
// show what it has.
func Probe(ctx context.Context, t devices.Target, opts Options) (*devices.Fingerprint, *Agent, error) {
	fp, err := devices.Probe(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	a, err := Deploy(ctx, t, opts)
	if err != nil {
		return fp, nil, err
	}
	info := a.Info
	if checks, err := a.CheckProviders(ctx); err != nil {
		a.log.Warn("the agent could not say which execution providers can run; listing those its library was built with", "err", err)
	} else {
		info.ProviderChecks = checks
	}
	fp.Runtime = RuntimeInfo(info)
	return fp, a, nil
}
