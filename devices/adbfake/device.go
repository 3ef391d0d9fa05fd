package adbfake

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// DefaultFeatures are announced when [Device.Features] is nil.
var DefaultFeatures = []string{"shell_v2", "cmd", "fixed_push_mkdir"}

// Device is a fake Android device. Set the fields, then call [Device.Start].
type Device struct {
	// Root stands for the device's storage: shells start there, HOME
	// points at it, TMPDIR at Root/data/local/tmp (see [Device.TmpDir]),
	// and the sync service serves only files under it. It must exist.
	Root string
	// Props answers getprop and fills the CNXN banner. Missing keys get
	// defaults (ro.product.model=FakePhone, ...; see [Device.Start]).
	Props map[string]string
	// ABI is the primary ABI getprop reports (ro.product.cpu.abi, and
	// first in ro.product.cpu.abilist); "" is the host's. Commands still
	// run on the host, so with another ABI (say arm64-v8a on an x86-64
	// host) files built for the phone can be pushed and inspected, but not
	// run. Props entries take precedence.
	ABI string
	// Features announced to the host (nil = DefaultFeatures).
	Features []string
	// Logf, if set, receives protocol diagnostics (e.g. t.Logf).
	Logf func(format string, args ...any)

	ln    net.Listener
	mu    sync.Mutex
	conns map[*conn]bool
	wg    sync.WaitGroup
	bin   string // directory with the getprop script
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves until
// Close. It fills Props defaults and writes the getprop helper.
func (d *Device) Start(addr string) error {
	if d.Root == "" {
		return fmt.Errorf("adbfake: Root is empty")
	}
	root, err := filepath.Abs(d.Root)
	if err != nil {
		return err
	}
	d.Root = root
	if d.Features == nil {
		d.Features = DefaultFeatures
	}
	props := map[string]string{
		"ro.product.model":         "FakePhone",
		"ro.product.name":          "fake",
		"ro.product.device":        "fake",
		"ro.product.manufacturer":  "Edgefit",
		"ro.build.version.sdk":     "34",
		"ro.build.version.release": "14",
		"ro.soc.manufacturer":      "Edgefit",
		"ro.soc.model":             "FakeSoC",
		"ro.board.platform":        "fakeboard",
		"ro.hardware":              "fake",
	}
	if d.ABI == "" {
		d.ABI = hostABI()
	}
	props["ro.product.cpu.abi"] = d.ABI
	props["ro.product.cpu.abilist"] = abiList(d.ABI)
	for k, v := range d.Props {
		props[k] = v
	}
	d.Props = props
	for _, sub := range []string{tmpDir, "system/bin"} {
		if err := os.MkdirAll(filepath.Join(d.Root, sub), 0o755); err != nil {
			return err
		}
	}
	d.bin = filepath.Join(d.Root, "system/bin")
	if err := d.writeGetprop(); err != nil {
		return err
	}
	d.ln, err = net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	d.conns = map[*conn]bool{}
	d.wg.Add(1)
	go d.accept()
	return nil
}

// Addr is the "host:port" to give `adb connect` (and adb://).
func (d *Device) Addr() string { return d.ln.Addr().String() }

// Close stops listening and drops every connection.
func (d *Device) Close() error {
	err := d.ln.Close()
	d.DropConnections()
	d.wg.Wait()
	return err
}

// DropConnections cuts every transport connection, as pulling the cable
// (or losing Wi-Fi) would. The listener stays up, so the host can
// reconnect.
func (d *Device) DropConnections() {
	d.mu.Lock()
	cs := make([]*conn, 0, len(d.conns))
	for c := range d.conns {
		cs = append(cs, c)
	}
	d.mu.Unlock()
	for _, c := range cs {
		c.nc.Close()
	}
}

func (d *Device) accept() {
	defer d.wg.Done()
	for {
		nc, err := d.ln.Accept()
		if err != nil {
			return
		}
		c := &conn{dev: d, nc: nc, streams: map[uint32]*stream{}}
		d.mu.Lock()
		d.conns[c] = true
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			c.serve()
		}()
	}
}

func (d *Device) removeConn(c *conn) {
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
}

func (d *Device) logf(format string, args ...any) {
	if d.Logf != nil {
		d.Logf("adbfake: "+format, args...)
	} else {
		slog.Debug(fmt.Sprintf("adbfake: "+format, args...))
	}
}

// banner is the CNXN payload: "device::" then properties and features.
func (d *Device) banner() string {
	return fmt.Sprintf("device::ro.product.name=%s;ro.product.model=%s;ro.product.device=%s;features=%s",
		d.Props["ro.product.name"], d.Props["ro.product.model"], d.Props["ro.product.device"], strings.Join(d.Features, ","))
}

func (d *Device) has(feature string) bool {
	for _, f := range d.Features {
		if f == feature {
			return true
		}
	}
	return false
}

// service returns the handler for an OPEN request, or nil to refuse it.
func (d *Device) service(name string) func(*stream) {
	switch {
	case name == "sync:":
		return d.serveSync
	case strings.HasPrefix(name, "shell"):
		opts, cmd, ok := strings.Cut(name, ":")
		if !ok {
			return nil
		}
		args := strings.Split(opts, ",")[1:]
		v2 := false
		for _, a := range args {
			if a == "v2" {
				v2 = true
			}
		}
		if v2 && !d.has("shell_v2") {
			return nil // a real old device would not know the option either
		}
		if strings.TrimSpace(cmd) == "" {
			d.logf("refusing interactive shell")
			return nil
		}
		return func(s *stream) { d.serveShell(s, cmd, v2) }
	}
	return nil
}

// tmpDir is TMPDIR below Root, where a phone's adb shell has it.
const tmpDir = "data/local/tmp"

// TmpDir returns the device's TMPDIR: Root/data/local/tmp, standing for a
// phone's /data/local/tmp.
func (d *Device) TmpDir() string { return filepath.Join(d.Root, tmpDir) }

// shellEnv is the environment of device commands.
func (d *Device) shellEnv() []string {
	env := []string{
		"PATH=" + d.bin + ":" + os.Getenv("PATH"),
		"HOME=" + d.Root,
		"TMPDIR=" + filepath.Join(d.Root, tmpDir),
		"ANDROID_DATA=" + d.Root,
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "LANG" || k == "LC_ALL" {
			env = append(env, kv)
		}
	}
	return env
}

// writeGetprop writes a getprop that answers from Props.
func (d *Device) writeGetprop() error {
	keys := make([]string, 0, len(d.Props))
	for k := range d.Props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var props strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&props, "%s=%s\n", k, d.Props[k])
	}
	propFile := filepath.Join(d.bin, "props.txt")
	if err := os.WriteFile(propFile, []byte(props.String()), 0o644); err != nil {
		return err
	}
	script := "#!/bin/sh\n" +
		"f='" + strings.ReplaceAll(propFile, "'", `'\''`) + "'\n" +
		`if [ $# -eq 0 ]; then awk -F= '{k=$1; sub(/^[^=]*=/, ""); printf "[%s]: [%s]\n", k, $0}' "$f"; exit 0; fi` + "\n" +
		`awk -F= -v k="$1" '$1==k {sub(/^[^=]*=/, ""); print; found=1; exit} END {if (!found) print ""}' "$f"` + "\n"
	return os.WriteFile(filepath.Join(d.bin, "getprop"), []byte(script), 0o755)
}

// hostABI is the Android ABI matching the machine the fake runs on, since
// its commands run there.
func hostABI() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64-v8a"
	case "386":
		return "x86"
	case "arm":
		return "armeabi-v7a"
	}
	return runtime.GOARCH
}

// abiList is ro.product.cpu.abilist for a primary ABI: 64-bit ABIs also
// run their 32-bit companions, as on real devices.
func abiList(abi string) string {
	switch abi {
	case "arm64-v8a":
		return "arm64-v8a,armeabi-v7a,armeabi"
	case "x86_64":
		return "x86_64,x86"
	}
	return abi
}
