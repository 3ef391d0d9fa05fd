package devices

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/edgefit/edgefit/internal/atomicfile"
)

// Shell snippets shared by the remote transports. Each runs as `sh -c
// SCRIPT sh ARGS...`, so paths arrive as positional parameters and are
// never spliced into the script text.

// infoScript prints the kernel name, the machine and, on Android, the SDK
// level and the primary ABI (empty elsewhere).
const infoScript = `uname -s; uname -m; for p in ro.build.version.sdk ro.product.cpu.abi; do (getprop "$p") 2>/dev/null || echo; done`

// workDirScript creates a private directory in the first writable of
// $TMPDIR, /data/local/tmp (Android's shell-writable place) and /tmp.
const workDirScript = `for d in "$TMPDIR" /data/local/tmp /tmp; do
  if [ -n "$d" ] && [ -d "$d" ] && [ -w "$d" ]; then
    if command -v mktemp >/dev/null 2>&1; then exec mktemp -d "$d/edgefit.XXXXXXXX"; fi
    p="$d/edgefit.$$.$(date +%s)"; mkdir -m 700 "$p" && echo "$p"; exit
  fi
done
echo 'no writable temporary directory: tried $TMPDIR, /data/local/tmp and /tmp' >&2; exit 1`

func remoteInfo(ctx context.Context, t Target) (Info, error) {
	res, err := t.Run(ctx, []string{"sh", "-c", infoScript}, RunOptions{})
	if err != nil {
		return Info{}, fmt.Errorf("%s: read platform: %w", t.Name(), err)
	}
	return parseInfo(string(res.Stdout))
}

func parseInfo(out string) (Info, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return Info{}, fmt.Errorf("read platform: unexpected `uname` output %q", out)
	}
	info := Info{OS: strings.ToLower(strings.TrimSpace(lines[0])), Machine: strings.TrimSpace(lines[1])}
	info.Arch = GoArch(info.Machine)
	if len(lines) > 2 {
		if _, err := strconv.Atoi(strings.TrimSpace(lines[2])); err == nil {
			info.OS = "android"
		}
	}
	if info.OS == "android" && len(lines) > 3 {
		if info.ABI = strings.TrimSpace(lines[3]); info.ABI != "" {
			info.Arch = ABIGoArch(info.ABI)
		}
	}
	return info, nil
}

func remoteWorkDir(ctx context.Context, t Target) (string, func(context.Context) error, error) {
	res, err := t.Run(ctx, []string{"sh", "-c", workDirScript}, RunOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("%s: create work directory: %w", t.Name(), err)
	}
	dir := strings.TrimSpace(string(res.Stdout))
	if !strings.HasPrefix(dir, "/") || strings.Contains(dir, "\n") {
		return "", nil, fmt.Errorf("%s: create work directory: unexpected answer %q", t.Name(), dir)
	}
	cleanup := func(ctx context.Context) error {
		if _, err := t.Run(ctx, []string{"rm", "-rf", "--", dir}, RunOptions{}); err != nil {
			return fmt.Errorf("%s: remove work directory %s: %w", t.Name(), dir, err)
		}
		return nil
	}
	return dir, cleanup, nil
}

// shellPush copies through `cat` when no file-transfer protocol is
// available: the remote name is a positional parameter, and the file lands
// under a temporary name first.
func shellPush(ctx context.Context, t Target, in io.Reader, perm os.FileMode, remote string) error {
	script := `tmp="$1.edgefit-tmp"; cat > "$tmp" && chmod "$2" "$tmp" && mv -f "$tmp" "$1" || { rm -f "$tmp"; exit 1; }`
	_, err := t.Run(ctx, []string{"sh", "-c", script, "sh", remote, fmt.Sprintf("%o", perm)}, RunOptions{Stdin: in})
	return err
}

// shellPull copies through `cat`, streaming into a temporary local file.
func shellPull(ctx context.Context, t Target, remote, local string) error {
	var mode []byte
	res, err := t.Run(ctx, []string{"sh", "-c", `[ -f "$1" ] || { echo "$1: not a regular file" >&2; exit 1; }; stat -c %a "$1" 2>/dev/null || echo 644`, "sh", remote}, RunOptions{})
	if err != nil {
		return err
	}
	mode = bytes.TrimSpace(res.Stdout)
	perm, err := strconv.ParseUint(string(mode), 8, 32)
	if err != nil {
		perm = 0o644
	}
	return atomicfile.WriteMode(local, os.FileMode(perm), func(w io.Writer) error {
		_, err := t.Run(ctx, []string{"cat", "--", remote}, RunOptions{Stdout: w})
		return err
	})
}

// cachedRemoteInfo returns *slot, filling it with remoteInfo on first use;
// mu guards slot. A device's OS and architecture do not change while it is
// open, so one round trip is enough.
func cachedRemoteInfo(ctx context.Context, t Target, mu *sync.Mutex, slot **Info) (Info, error) {
	mu.Lock()
	if *slot != nil {
		defer mu.Unlock()
		return **slot, nil
	}
	mu.Unlock()
	info, err := remoteInfo(ctx, t)
	if err != nil {
		return Info{}, err
	}
	mu.Lock()
	*slot = &info
	mu.Unlock()
	return info, nil
}
