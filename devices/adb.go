package devices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/internal/hint"
)

func init() { Register("adb", openADB) }

// ADB is an Android device driven through the standard adb client
// ("adb -s SERIAL ..."), which talks to the adb server and keeps the USB or
// TCP connection to the device.
//
// Exit status: every command line ends with a marker line carrying "$?",
// which the transport strips from stdout. The marker proves the command
// finished (a lost device leaves none), and it is the only exit status
// old devices without shell_v2 give. shell_v2, where the device has it,
// additionally keeps stderr apart from stdout and carries stdin.
type ADB struct {
	name   string
	serial string
	bin    string
	env    []string
	log    *slog.Logger

	mu        sync.Mutex
	features  map[string]bool
	info      *Info
	closed    bool
	reconnect bool   // the last call lost the device: `adb connect` before the next
	release   func() // gives the adb server back (see acquireADBServer)
}

func openADB(ctx context.Context, target, rest string, opts Options) (Target, error) {
	serial, err := url.PathUnescape(rest)
	if err != nil {
		return nil, fmt.Errorf("open target %q: %w", target, err)
	}
	a, err := newADBClient("open target "+strconv.Quote(target), opts)
	if err != nil {
		return nil, err
	}
	a.name, a.serial = target, serial
	if a.release, err = acquireADBServer(ctx, a.bin, a.env); err != nil {
		return nil, err
	}
	if a.serial == "" {
		if a.serial, err = a.onlyDevice(ctx); err != nil {
			a.release()
			return nil, err
		}
		a.name = "adb://" + a.serial
	}
	if err := a.ensureOnline(ctx, false); err != nil {
		a.release()
		return nil, err
	}
	return a, nil
}

// newADBClient finds the adb client of opts and its environment; doing
// names the operation in the error.
func newADBClient(doing string, opts Options) (*ADB, error) {
	bin := opts.ADBPath
	if bin == "" {
		bin = "adb"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return nil, &hint.Error{
			Err:    fmt.Errorf("%s: adb client %q not found: %w", doing, bin, err),
			Advice: "install Android platform-tools (Debian/Ubuntu: apt install adb; or download platform-tools from developer.android.com) or pass the adb binary with --adb PATH",
		}
	}
	a := &ADB{bin: p, log: opts.logger()}
	a.env = append(os.Environ(), opts.ADBEnv...)
	if opts.ADBServerPort != 0 {
		a.env = append(a.env, "ANDROID_ADB_SERVER_PORT="+strconv.Itoa(opts.ADBServerPort))
	}
	return a, nil
}

func (a *ADB) Name() string { return a.name }

// Serial is the device's adb serial.
func (a *ADB) Serial() string { return a.serial }

// adbDevice is one line of `adb devices -l`.
type adbDevice struct {
	serial, state, desc string
}

func (a *ADB) devices(ctx context.Context) ([]adbDevice, error) {
	var out, errb bytes.Buffer
	if _, err := a.exec(ctx, false, nil, &out, &errb, "devices", "-l"); err != nil {
		return nil, fmt.Errorf("list adb devices: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return parseADBDevices(out.String()), nil
}

func parseADBDevices(out string) []adbDevice {
	var ds []adbDevice
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(line, "List of devices") || strings.HasPrefix(line, "*") {
			continue
		}
		ds = append(ds, adbDevice{serial: f[0], state: f[1], desc: strings.Join(f[2:], " ")})
	}
	return ds
}

// onlyDevice resolves "adb://" to the single attached device.
func (a *ADB) onlyDevice(ctx context.Context) (string, error) {
	ds, err := a.devices(ctx)
	if err != nil {
		return "", err
	}
	var ready []string
	for _, d := range ds {
		if d.state == "device" {
			ready = append(ready, d.serial)
		}
	}
	if len(ready) == 1 {
		return ready[0], nil
	}
	list := describeDevices(ds)
	if len(ready) == 0 {
		return "", &hint.Error{
			Err:    fmt.Errorf("open target \"adb://\": no Android device is ready%s", list),
			Advice: "plug the phone in and accept the USB debugging prompt, or connect over Wi-Fi with `adb connect HOST:PORT`; `adb devices -l` shows what adb sees",
		}
	}
	return "", &hint.Error{
		Err:    fmt.Errorf("open target \"adb://\": %d devices are attached, say which one%s", len(ready), list),
		Advice: "name the device: adb://SERIAL, with SERIAL from the list above",
	}
}

func describeDevices(ds []adbDevice) string {
	if len(ds) == 0 {
		return " (adb lists none)"
	}
	var b strings.Builder
	b.WriteString(":")
	for _, d := range ds {
		fmt.Fprintf(&b, "\n  %s\t%s\t%s", d.serial, d.state, d.desc)
	}
	return b.String()
}

// isTCPSerial reports whether a serial names a network device that
// `adb connect` can (re)attach.
func isTCPSerial(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	_, err = strconv.Atoi(port)
	return err == nil
}

// onlineWait bounds how long a device may take to come back (reconnect,
// re-enumeration after a USB glitch) before a call gives up.
const onlineWait = 15 * time.Second

// ensureOnline waits until the device is attached and ready. Network
// devices (serial HOST:PORT) are (re)attached with `adb connect` when adb
// does not list them as ready; redial also drops a stale offline entry first.
func (a *ADB) ensureOnline(ctx context.Context, redial bool) error {
	tcp := isTCPSerial(a.serial)
	deadline := time.Now().Add(onlineWait)
	dialled := false
	for {
		ds, err := a.devices(ctx)
		if err != nil {
			return err
		}
		state := ""
		for _, d := range ds {
			if d.serial == a.serial {
				state = d.state
			}
		}
		switch state {
		case "device":
			return nil
		case "unauthorized":
			return &hint.Error{Err: fmt.Errorf("open %s: the device has not authorised this computer", a.name),
				Advice: "unlock the phone and accept the \"Allow USB debugging?\" prompt, then retry"}
		}
		if tcp && !dialled && (redial || state == "") {
			dialled = true
			if err := a.connect(ctx, state != ""); err != nil {
				return err
			}
			continue
		}
		if state == "" && !tcp {
			return &hint.Error{Err: fmt.Errorf("open %s: adb does not list device %q%s", a.name, a.serial, describeDevices(ds)),
				Advice: "use a serial from `adb devices -l`, or adb:// when exactly one device is attached"}
		}
		if time.Now().After(deadline) {
			return &hint.Error{Err: fmt.Errorf("open %s: the device is %s", a.name, orMissing(state)),
				Advice: "reconnect the cable or run `adb reconnect`; `adb devices -l` shows the state"}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func orMissing(state string) string {
	if state == "" {
		return "not listed by adb"
	}
	return state
}

// connect runs `adb connect SERIAL`, after `adb disconnect SERIAL` when a
// stale entry is listed.
func (a *ADB) connect(ctx context.Context, stale bool) error {
	var out, errb bytes.Buffer
	if stale {
		a.exec(ctx, false, nil, &out, &errb, "disconnect", a.serial)
		out.Reset()
		errb.Reset()
	}
	if _, err := a.exec(ctx, false, nil, &out, &errb, "connect", a.serial); err != nil {
		return fmt.Errorf("adb connect %s: %w: %s", a.serial, err, strings.TrimSpace(out.String()+errb.String()))
	}
	if s := out.String(); strings.Contains(s, "failed") || strings.Contains(s, "cannot") || strings.Contains(s, "unable") {
		return &hint.Error{Err: fmt.Errorf("adb connect %s: %s", a.serial, strings.TrimSpace(s)),
			Advice: "check that the device listens for adb over TCP (run `adb tcpip 5555` while it is on USB) and is reachable"}
	}
	return nil
}

// exec runs the adb client. withSerial prefixes "-s SERIAL". It returns
// adb's exit status; err is set only when adb could not be run or ctx ended.
func (a *ADB) exec(ctx context.Context, withSerial bool, stdin io.Reader, stdout, stderr io.Writer, args ...string) (int, error) {
	if withSerial {
		args = append([]string{"-s", a.serial}, args...)
	}
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = a.env
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	a.log.Debug("adb", "args", args)
	err := cmd.Run()
	if err == nil {
		return 0, nil
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return -1, err
}

// prepare runs before every device call: it refuses a closed target and
// re-attaches a network device lost by the previous call.
func (a *ADB) prepare(ctx context.Context) error {
	a.mu.Lock()
	closed, reconnect := a.closed, a.reconnect
	a.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if !reconnect {
		return nil
	}
	if err := a.ensureOnline(ctx, true); err != nil {
		return err
	}
	a.mu.Lock()
	a.reconnect = false
	a.features = nil // a reflashed device may have changed
	a.mu.Unlock()
	return nil
}

func (a *ADB) lost() {
	a.mu.Lock()
	a.reconnect = true
	a.mu.Unlock()
}

// Features returns the device's adb feature list (shell_v2, cmd, ...).
func (a *ADB) Features(ctx context.Context) (map[string]bool, error) {
	a.mu.Lock()
	f := a.features
	a.mu.Unlock()
	if f != nil {
		return f, nil
	}
	var out, errb bytes.Buffer
	code, err := a.exec(ctx, true, nil, &out, &errb, "features")
	if err != nil || code != 0 {
		return nil, fmt.Errorf("%s: read adb features: %v %s", a.name, err, strings.TrimSpace(errb.String()))
	}
	f = map[string]bool{}
	for _, s := range strings.FieldsFunc(out.String(), func(r rune) bool { return r == '\n' || r == ',' || r == ' ' || r == '\r' }) {
		f[s] = true
	}
	a.mu.Lock()
	a.features = f
	a.mu.Unlock()
	return f, nil
}

// rcMarker ends every command's stdout; see [ADB].
const rcMarker = "__EDGEFIT_RC="

var rcMarkerRE = regexp.MustCompile(`\r?\n` + rcMarker + `(-?[0-9]+)\r?\n?$`)

func (a *ADB) Run(ctx context.Context, argv []string, opts RunOptions) (Result, error) {
	if err := validateRun(argv, opts); err != nil {
		return Result{}, err
	}
	if err := a.prepare(ctx); err != nil {
		return Result{}, err
	}
	feats, err := a.Features(ctx)
	if err != nil {
		a.lost()
		return Result{}, err
	}
	v2 := feats["shell_v2"]
	if opts.Stdin != nil && !v2 {
		return Result{}, fmt.Errorf("%s: run %s: this device's adb lacks shell_v2, so a command cannot be given standard input", a.name, shortArgv(argv))
	}
	line := shellLine(argv, opts) + `; printf '\n` + rcMarker + `%d\n' "$?"`
	args := []string{"shell"}
	if v2 {
		args = append(args, "-T") // no pty: raw bytes, separate stderr
		if opts.Stdin == nil {
			args = append(args, "-n")
		}
	}
	args = append(args, line)

	var stdout, stderr bytes.Buffer
	filt := &markerFilter{w: opts.Stdout}
	var outW io.Writer = &stdout
	if opts.Stdout != nil {
		outW = io.MultiWriter(&stdout, filt)
	}
	code, err := a.exec(ctx, true, opts.Stdin, outW, teeTo(&stderr, opts.Stderr), args...)
	res := Result{Stderr: stderr.Bytes()}
	m := rcMarkerRE.FindSubmatchIndex(stdout.Bytes())
	if m == nil {
		res.Stdout = stdout.Bytes()
		filt.flush()
		a.lost()
		if err != nil {
			return res, fmt.Errorf("%s: run %s: %w", a.name, shortArgv(argv), err)
		}
		return res, fmt.Errorf("%s: connection lost while running %s: no exit status came back (adb exited %d: %s)",
			a.name, shortArgv(argv), code, strings.TrimSpace(lastLine(stderr.String())))
	}
	res.Stdout = stdout.Bytes()[:m[0]]
	res.ExitCode, _ = strconv.Atoi(string(stdout.Bytes()[m[2]:m[3]]))
	filt.finish()
	return res, commandError(a.name, argv, res, nil)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// markerFilter forwards streamed stdout while holding back whatever may be
// the exit marker line (always the last line, preceded by a newline);
// finish drops the marker and flushes the rest.
type markerFilter struct {
	w       io.Writer
	pending []byte
}

func (f *markerFilter) Write(p []byte) (int, error) {
	f.pending = append(f.pending, p...)
	hold := len(f.pending) // flush everything unless a marker may start below
	last := bytes.LastIndexByte(f.pending, '\n')
	if last >= 0 {
		if prev := bytes.LastIndexByte(f.pending[:last], '\n'); prev >= 0 && isMarkerPrefix(f.pending[prev+1:]) {
			hold = prev
		} else if isMarkerPrefix(f.pending[last+1:]) {
			hold = last
		}
		if hold > 0 && hold < len(f.pending) && f.pending[hold-1] == '\r' {
			hold--
		}
	}
	if hold > 0 {
		if _, err := f.w.Write(f.pending[:hold]); err != nil {
			return 0, err
		}
		f.pending = append(f.pending[:0], f.pending[hold:]...)
	}
	return len(p), nil
}

// isMarkerPrefix reports whether s could be the marker line, complete or
// still arriving: a prefix of "__EDGEFIT_RC=", or that followed by digits
// and an optional line end.
func isMarkerPrefix(s []byte) bool {
	if len(s) <= len(rcMarker) {
		return bytes.HasPrefix([]byte(rcMarker), s)
	}
	if !bytes.HasPrefix(s, []byte(rcMarker)) {
		return false
	}
	s = bytes.TrimPrefix(s[len(rcMarker):], []byte("-"))
	s = bytes.TrimLeft(s, "0123456789")
	s = bytes.TrimPrefix(s, []byte("\r"))
	s = bytes.TrimPrefix(s, []byte("\n"))
	return len(s) == 0
}

func (f *markerFilter) finish() {
	if f.w == nil {
		return
	}
	if m := rcMarkerRE.FindIndex(f.pending); m != nil {
		f.pending = f.pending[:m[0]]
	}
	f.flush()
}

func (f *markerFilter) flush() {
	if f.w != nil && len(f.pending) > 0 {
		f.w.Write(f.pending)
		f.pending = nil
	}
}

func (a *ADB) Push(ctx context.Context, local, remote string) error {
	if err := a.push(ctx, local, remote); err != nil {
		return fmt.Errorf("%s: push %s to %s: %w", a.name, local, remote, err)
	}
	return nil
}

func (a *ADB) push(ctx context.Context, local, remote string) error {
	if !path.IsAbs(remote) {
		return errors.New("remote path must be absolute on adb targets")
	}
	if err := a.prepare(ctx); err != nil {
		return err
	}
	st, err := os.Stat(local)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", local)
	}
	// The sync protocol carries the path as data; no shell sees it. Land
	// under a temporary name and rename, so an interrupted push never
	// leaves a truncated file under the final name.
	tmp := path.Join(path.Dir(remote), "."+path.Base(remote)+".edgefit-tmp")
	if err := a.transfer(ctx, "push", local, tmp); err != nil {
		return err
	}
	if _, err := a.Run(ctx, []string{"mv", "-f", tmp, remote}, RunOptions{}); err != nil {
		return err
	}
	return nil
}

func (a *ADB) Pull(ctx context.Context, remote, local string) error {
	if err := a.pull(ctx, remote, local); err != nil {
		return fmt.Errorf("%s: pull %s to %s: %w", a.name, remote, local, err)
	}
	return nil
}

func (a *ADB) pull(ctx context.Context, remote, local string) error {
	if !path.IsAbs(remote) {
		return errors.New("remote path must be absolute on adb targets")
	}
	if err := a.prepare(ctx); err != nil {
		return err
	}
	// adb writes the file itself: give it a temporary name next to the
	// destination, placed once it is complete.
	return atomicfile.Fill(local, func(tmp string) error { return a.transfer(ctx, "pull", remote, tmp) })
}

// transfer runs `adb push|pull src dst`; a failure quotes adb.
func (a *ADB) transfer(ctx context.Context, verb, src, dst string) error {
	var out, errb bytes.Buffer
	code, err := a.exec(ctx, true, nil, &out, &errb, verb, src, dst)
	if err != nil {
		return err
	}
	if code != 0 {
		a.checkLost(errb.String())
		return fmt.Errorf("adb %s exited %d: %s", verb, code, strings.TrimSpace(errb.String()+" "+lastLine(out.String())))
	}
	return nil
}

// checkLost marks the device for re-attachment when adb's message says
// the connection, not the file, was the problem.
func (a *ADB) checkLost(stderr string) {
	for _, s := range []string{"device offline", "not found", "no devices", "closed", "protocol fault", "connection reset"} {
		if strings.Contains(stderr, s) && !strings.Contains(stderr, "No such file") {
			a.lost()
			return
		}
	}
}

func (a *ADB) WorkDir(ctx context.Context) (string, func(context.Context) error, error) {
	return remoteWorkDir(ctx, a)
}

func (a *ADB) Info(ctx context.Context) (Info, error) {
	return cachedRemoteInfo(ctx, a, &a.mu, &a.info)
}

// Close gives the adb server back: one that edgefit started is stopped
// once no open target uses it.
func (a *ADB) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	if a.release != nil {
		a.release() // gives back once however often it is called
	}
	return nil
}
