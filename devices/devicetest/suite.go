package devicetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
)

// Caps lists what a transport legitimately cannot do, so that the shared
// suite expects it instead of failing.
type Caps struct {
	// MergedStderr: stderr arrives mixed into stdout (adb without shell_v2).
	MergedStderr bool
	// NoStdin: Run refuses RunOptions.Stdin (adb without shell_v2).
	NoStdin bool
}

// Hostile holds arguments and file names that a shell would act on if they
// were not quoted. Each tries to create a file named PWNED.
var Hostile = []string{
	"plain",
	"with space",
	"it's",
	`"double" quotes`,
	"$(touch PWNED)",
	"`touch PWNED`",
	"; touch PWNED",
	"a && touch PWNED || b",
	"'; touch PWNED; '",
	`\'; touch PWNED; #`,
	"$HOME ${PATH} $1",
	"*",
	"~",
	"-n",
	"line\nbreak",
	"tab\there",
	"ünïcødé 🙂",
	"> PWNED",
	"| touch PWNED",
}

// Suite runs the conformance tests every transport must pass. open returns
// a connected target; the suite closes it.
func Suite(t *testing.T, caps Caps, open func(t *testing.T) devices.Target) {
	ctx := context.Background()
	withTarget := func(name string, f func(t *testing.T, tg devices.Target)) {
		t.Run(name, func(t *testing.T) {
			tg := open(t)
			defer tg.Close()
			f(t, tg)
		})
	}

	withTarget("RunOutput", func(t *testing.T, tg devices.Target) {
		res, err := tg.Run(ctx, []string{"echo", "hello", "world"}, devices.RunOptions{})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if got := string(res.Stdout); got != "hello world\n" {
			t.Errorf("stdout = %q, want %q", got, "hello world\n")
		}
		if res.ExitCode != 0 {
			t.Errorf("exit code = %d", res.ExitCode)
		}
	})

	withTarget("ExitCodeAndStderr", func(t *testing.T, tg devices.Target) {
		res, err := tg.Run(ctx, []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, devices.RunOptions{})
		var ce *devices.CommandError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v (%T), want *CommandError", err, err)
		}
		if ce.ExitCode != 7 || res.ExitCode != 7 {
			t.Errorf("exit code = %d / %d, want 7", ce.ExitCode, res.ExitCode)
		}
		if caps.MergedStderr {
			if got := string(res.Stdout); got != "out\nerr\n" {
				t.Errorf("stdout = %q, want out and err mixed", got)
			}
		} else {
			if got := string(res.Stdout); got != "out\n" {
				t.Errorf("stdout = %q, want %q", got, "out\n")
			}
			if got := string(res.Stderr); got != "err\n" {
				t.Errorf("stderr = %q, want %q", got, "err\n")
			}
			if !strings.Contains(ce.Error(), "err") || !strings.Contains(ce.Error(), "7") {
				t.Errorf("error text %q lacks stderr or status", ce.Error())
			}
		}
	})

	withTarget("CommandNotFound", func(t *testing.T, tg devices.Target) {
		_, err := tg.Run(ctx, []string{"edgefit-no-such-command-xyz"}, devices.RunOptions{})
		var ce *devices.CommandError
		if !errors.As(err, &ce) || ce.ExitCode != 127 {
			t.Fatalf("err = %v, want *CommandError with status 127", err)
		}
	})

	withTarget("QuotingRun", func(t *testing.T, tg devices.Target) {
		dir, cleanup := workDir(t, tg)
		defer cleanup()
		for _, arg := range Hostile {
			res, err := tg.Run(ctx, []string{"printf", "%s", arg}, devices.RunOptions{Dir: dir})
			if err != nil {
				t.Errorf("printf %q: %v", arg, err)
				continue
			}
			if got := string(res.Stdout); got != arg {
				t.Errorf("printf %%s %q printed %q", arg, got)
			}
		}
		// The same strings as environment values and as the directory.
		env := make([]string, 0, len(Hostile))
		for i, v := range Hostile {
			env = append(env, "EDGEFIT_V"+string(rune('A'+i))+"="+v)
		}
		res, err := tg.Run(ctx, []string{"sh", "-c", `for v in "$@"; do eval "printf '%s\n' \"\${$v}\""; done`, "sh", "EDGEFIT_VA", "EDGEFIT_VE", "EDGEFIT_VF"}, devices.RunOptions{Dir: dir, Env: env})
		if err != nil {
			t.Fatalf("env: %v", err)
		}
		if want := Hostile[0] + "\n" + Hostile[4] + "\n" + Hostile[5] + "\n"; string(res.Stdout) != want {
			t.Errorf("env values came back as %q, want %q", res.Stdout, want)
		}
		weirdDir := path.Join(dir, "$(touch PWNED) it's ; `x`")
		if _, err := tg.Run(ctx, []string{"mkdir", weirdDir}, devices.RunOptions{}); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
		res, err = tg.Run(ctx, []string{"pwd"}, devices.RunOptions{Dir: weirdDir})
		if err != nil {
			t.Fatalf("pwd in %q: %v", weirdDir, err)
		}
		if got := strings.TrimSuffix(string(res.Stdout), "\n"); got != weirdDir {
			t.Errorf("pwd = %q, want %q", got, weirdDir)
		}
		assertNoPwned(t, tg, dir)
	})

	withTarget("Stdin", func(t *testing.T, tg devices.Target) {
		res, err := tg.Run(ctx, []string{"cat"}, devices.RunOptions{Stdin: strings.NewReader("from stdin\n")})
		if caps.NoStdin {
			if err == nil {
				t.Fatalf("run with stdin succeeded on a transport declared without stdin")
			}
			return
		}
		if err != nil {
			t.Fatalf("cat: %v", err)
		}
		if string(res.Stdout) != "from stdin\n" {
			t.Errorf("stdout = %q", res.Stdout)
		}
	})

	withTarget("StreamAndLargeOutput", func(t *testing.T, tg devices.Target) {
		var streamed bytes.Buffer
		res, err := tg.Run(ctx, []string{"sh", "-c", "head -c 700000 /dev/zero | tr '\\0' x; echo; echo done"}, devices.RunOptions{Stdout: &streamed})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		want := strings.Repeat("x", 700000) + "\ndone\n"
		if string(res.Stdout) != want {
			t.Errorf("stdout: %d bytes, want %d", len(res.Stdout), len(want))
		}
		if streamed.String() != want {
			t.Errorf("streamed: %d bytes (tail %q), want %d", streamed.Len(), tail(streamed.String()), len(want))
		}
	})

	withTarget("PushPull", func(t *testing.T, tg devices.Target) {
		dir, cleanup := workDir(t, tg)
		defer cleanup()
		local := t.TempDir()
		data := make([]byte, 300*1024+7) // several protocol chunks
		rand.Read(data)
		src := filepath.Join(local, "src")
		if err := os.WriteFile(src, data, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, name := range Hostile {
			if strings.ContainsAny(name, "/\n") || name == "~" || name == "-n" {
				continue // not a portable file name (or one adb's argv parser would take as a flag)
			}
			remote := path.Join(dir, name)
			if err := tg.Push(ctx, src, remote); err != nil {
				t.Errorf("push to %q: %v", remote, err)
				continue
			}
			res, err := tg.Run(ctx, []string{"wc", "-c", remote}, devices.RunOptions{})
			if err != nil {
				t.Errorf("wc %q: %v", remote, err)
				continue
			}
			if f := strings.Fields(string(res.Stdout)); len(f) == 0 || f[0] != strconv.Itoa(len(data)) {
				t.Errorf("remote %q holds %q bytes, want %d", remote, res.Stdout, len(data))
			}
			if i == 0 {
				res, err := tg.Run(ctx, []string{"sh", "-c", `ls -l "$1" | cut -c1-10`, "sh", remote}, devices.RunOptions{})
				if err != nil || !strings.HasPrefix(string(res.Stdout), "-rwxr-xr-x") {
					t.Errorf("pushed mode = %q (%v), want -rwxr-xr-x", res.Stdout, err)
				}
			}
			back := filepath.Join(local, "back-"+strconv.Itoa(i))
			if err := tg.Pull(ctx, remote, back); err != nil {
				t.Errorf("pull %q: %v", remote, err)
				continue
			}
			got, err := os.ReadFile(back)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("pulled %q: %d bytes (err %v), differs from pushed", remote, len(got), err)
			}
		}
		// Overwrite keeps the new content.
		small := filepath.Join(local, "small")
		os.WriteFile(small, []byte("second"), 0o644)
		remote := path.Join(dir, "with space")
		if err := tg.Push(ctx, small, remote); err != nil {
			t.Fatalf("push over: %v", err)
		}
		res, err := tg.Run(ctx, []string{"cat", remote}, devices.RunOptions{})
		if err != nil || string(res.Stdout) != "second" {
			t.Errorf("after overwrite cat = %q, %v", res.Stdout, err)
		}
		// Nothing but the pushed files: no temporaries left behind.
		res, err = tg.Run(ctx, []string{"sh", "-c", `ls -A "$1" | grep -c edgefit-tmp || true`, "sh", dir}, devices.RunOptions{})
		if err != nil || strings.TrimSpace(string(res.Stdout)) != "0" {
			t.Errorf("temporary files left in %s: %q %v", dir, res.Stdout, err)
		}
		assertNoPwned(t, tg, dir)
	})

	withTarget("PullMissing", func(t *testing.T, tg devices.Target) {
		dir, cleanup := workDir(t, tg)
		defer cleanup()
		local := filepath.Join(t.TempDir(), "x")
		err := tg.Pull(ctx, path.Join(dir, "no such file"), local)
		if err == nil {
			t.Fatal("pull of a missing file succeeded")
		}
		if !strings.Contains(err.Error(), "no such file") {
			t.Errorf("error %q does not name the file", err)
		}
		if _, serr := os.Stat(local); serr == nil {
			t.Errorf("failed pull left %s behind", local)
		}
	})

	withTarget("PushMissingLocal", func(t *testing.T, tg devices.Target) {
		dir, cleanup := workDir(t, tg)
		defer cleanup()
		err := tg.Push(ctx, filepath.Join(t.TempDir(), "absent"), path.Join(dir, "x"))
		if err == nil {
			t.Fatal("push of a missing local file succeeded")
		}
	})

	withTarget("WorkDir", func(t *testing.T, tg devices.Target) {
		dir, cleanup, err := tg.WorkDir(ctx)
		if err != nil {
			t.Fatalf("workdir: %v", err)
		}
		if !path.IsAbs(dir) {
			t.Errorf("workdir %q is not absolute", dir)
		}
		if _, err := tg.Run(ctx, []string{"sh", "-c", `touch "$1/f" && test -d "$1"`, "sh", dir}, devices.RunOptions{}); err != nil {
			t.Fatalf("use workdir: %v", err)
		}
		dir2, cleanup2, err := tg.WorkDir(ctx)
		if err != nil {
			t.Fatalf("second workdir: %v", err)
		}
		if dir2 == dir {
			t.Errorf("two work directories share %q", dir)
		}
		cleanup2(ctx)
		if err := cleanup(ctx); err != nil {
			t.Fatalf("cleanup: %v", err)
		}
		_, err = tg.Run(ctx, []string{"test", "-e", dir}, devices.RunOptions{})
		var ce *devices.CommandError
		if !errors.As(err, &ce) || ce.ExitCode != 1 {
			t.Errorf("after cleanup, test -e %s: %v; want status 1", dir, err)
		}
	})

	withTarget("Info", func(t *testing.T, tg devices.Target) {
		info, err := tg.Info(ctx)
		if err != nil {
			t.Fatalf("info: %v", err)
		}
		if info.OS == "" || info.Arch == "" || info.Machine == "" {
			t.Errorf("info = %+v, want all fields", info)
		}
		want := devices.GoArch(info.Machine)
		if info.ABI != "" {
			want = devices.ABIGoArch(info.ABI)
		}
		if want != info.Arch {
			t.Errorf("arch %q does not match machine %q / ABI %q (%q)", info.Arch, info.Machine, info.ABI, want)
		}
	})

	withTarget("Timeout", func(t *testing.T, tg devices.Target) {
		tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := tg.Run(tctx, []string{"sleep", "10"}, devices.RunOptions{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("cancelled run returned after %v", d)
		}
		// The target stays usable.
		if _, err := tg.Run(ctx, []string{"true"}, devices.RunOptions{}); err != nil {
			t.Errorf("run after timeout: %v", err)
		}
	})

	withTarget("BadArguments", func(t *testing.T, tg devices.Target) {
		if _, err := tg.Run(ctx, nil, devices.RunOptions{}); err == nil {
			t.Error("empty argv accepted")
		}
		if _, err := tg.Run(ctx, []string{"echo", "a\x00b"}, devices.RunOptions{}); err == nil {
			t.Error("NUL byte accepted")
		}
		if _, err := tg.Run(ctx, []string{"true"}, devices.RunOptions{Env: []string{"BAD NAME=x"}}); err == nil {
			t.Error("bad environment name accepted")
		}
		if _, err := tg.Run(ctx, []string{"true"}, devices.RunOptions{Env: []string{"$(touch PWNED)=x"}}); err == nil {
			t.Error("hostile environment name accepted")
		}
	})

	withTarget("Closed", func(t *testing.T, tg devices.Target) {
		tg.Close()
		if _, err := tg.Run(ctx, []string{"true"}, devices.RunOptions{}); !errors.Is(err, devices.ErrClosed) {
			t.Errorf("run after close: %v, want ErrClosed", err)
		}
	})
}

func workDir(t *testing.T, tg devices.Target) (string, func()) {
	t.Helper()
	dir, cleanup, err := tg.WorkDir(context.Background())
	if err != nil {
		t.Fatalf("workdir: %v", err)
	}
	return dir, func() {
		if err := cleanup(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// assertNoPwned fails if any hostile string got executed: it would have
// created PWNED in dir (the commands' directory) or in the default one.
func assertNoPwned(t *testing.T, tg devices.Target, dir string) {
	t.Helper()
	res, err := tg.Run(context.Background(), []string{"sh", "-c", `find "$1" . -maxdepth 2 -name PWNED 2>/dev/null; true`, "sh", dir}, devices.RunOptions{})
	if err != nil {
		t.Fatalf("look for PWNED: %v", err)
	}
	if s := strings.TrimSpace(string(res.Stdout)); s != "" {
		t.Errorf("a hostile string was executed: %s", s)
	}
}

func tail(s string) string {
	if len(s) > 40 {
		return s[len(s)-40:]
	}
	return s
}
