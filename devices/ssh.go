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
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/edgefit/edgefit/internal/atomicfile"
)

func init() { Register("ssh", openSSH) }

// handshakeTimeout bounds connecting and authenticating when the caller's
// context has no earlier deadline.
const handshakeTimeout = 30 * time.Second

// SSH is a Linux machine reached over SSH. Commands run through the login
// shell, which must be POSIX (sh, bash, dash, ash, zsh); files move over SFTP,
// or through `cat` when the server has no SFTP subsystem.
type SSH struct {
	name       string
	alias      string // host as written in the target (may be a config alias)
	host, port string // resolved HostName and Port
	user       string
	knownHosts string
	signers    []ssh.Signer
	skipped    []string // keys that could not be used, for the auth-failure hint
	noAgent    bool
	log        *slog.Logger

	mu     sync.Mutex
	client *ssh.Client
	sftp   *sftp.Client
	noSFTP bool
	closed bool
	info   *Info
}

func (s *SSH) Name() string { return s.name }

// addr is the host:port dialled and checked against known_hosts.
func (s *SSH) addr() string { return net.JoinHostPort(s.host, s.port) }

// openSSH parses "[user@]host[:port]", applies ~/.ssh/config and dials once
// so that bad addresses, keys and host keys fail at Open.
func openSSH(ctx context.Context, target, rest string, opts Options) (Target, error) {
	s, err := newSSH(target, rest, opts)
	if err != nil {
		return nil, err
	}
	if _, err := s.conn(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func newSSH(target, rest string, opts Options) (*SSH, error) {
	u, err := url.Parse("ssh://" + rest)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, badTarget(target, "want ssh://[user@]host[:port]")
	}
	s := &SSH{name: target, alias: u.Hostname(), port: u.Port(), log: opts.logger(), noAgent: opts.NoAgent}
	if u.User != nil {
		s.user = u.User.Username()
		if _, has := u.User.Password(); has {
			return nil, badTarget(target, "passwords in the target are not supported; use a key (--identity) or ssh-agent")
		}
	}

	cfg := loadSSHConfig(opts.SSHConfig, s.log)
	s.host = s.alias
	if v := cfg.get(s.alias, "HostName"); v != "" {
		s.host = strings.ReplaceAll(v, "%h", s.alias)
	}
	if s.port == "" {
		s.port = cfg.get(s.alias, "Port")
	}
	if s.port == "" {
		s.port = "22"
	}
	if n, err := strconv.Atoi(s.port); err != nil || n <= 0 || n > 65535 {
		return nil, badTarget(target, "port %q is not a number in 1..65535", s.port)
	}
	if s.user == "" {
		s.user = cfg.get(s.alias, "User")
	}
	if s.user == "" {
		if cu, err := user.Current(); err == nil {
			s.user = cu.Username
		}
	}

	s.knownHosts = opts.KnownHosts
	if s.knownHosts == "" {
		s.knownHosts = expandHome("~/.ssh/known_hosts")
	}

	// Keys: explicit identity (must work), config IdentityFile, defaults.
	if opts.Identity != "" {
		signer, err := loadKey(expandHome(opts.Identity))
		if err != nil {
			return nil, &IdentityError{Target: target, Path: opts.Identity, Err: err}
		}
		s.signers = append(s.signers, signer)
	}
	var files []string
	files = append(files, cfg.getAll(s.alias, "IdentityFile")...)
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		files = append(files, "~/.ssh/"+n)
	}
	for _, f := range files {
		p := expandHome(f)
		signer, err := loadKey(p)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				s.log.Debug("ssh: skipping key", "file", p, "err", err)
				s.skipped = append(s.skipped, fmt.Sprintf("%s (%v)", p, err))
			}
			continue
		}
		s.signers = append(s.signers, signer)
	}
	return s, nil
}

// loadKey reads an unencrypted private key. Passphrase-protected keys are
// refused with a hint: edgefit never prompts, ssh-agent holds them instead.
func loadKey(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		return nil, fmt.Errorf("key is protected by a passphrase; add it to ssh-agent (ssh-add %s) and retry", path)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return signer, nil
}

// conn returns the live client, dialling when there is none (first use, or
// after the connection dropped).
func (s *SSH) conn(ctx context.Context) (*ssh.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.client != nil {
		return s.client, nil
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.client = c
	go func() {
		// Wait returns when the connection ends for any reason; forget the
		// client so that the next call dials again.
		err := c.Wait()
		s.log.Debug("ssh: connection ended", "target", s.name, "err", err)
		s.drop(c)
	}()
	return c, nil
}

// drop forgets c (if it is still the current client) and closes it.
func (s *SSH) drop(c *ssh.Client) {
	s.mu.Lock()
	if s.client == c {
		s.client = nil
		if s.sftp != nil {
			s.sftp.Close()
			s.sftp = nil
		}
	}
	s.mu.Unlock()
	c.Close()
}

func (s *SSH) dial(ctx context.Context) (*ssh.Client, error) {
	addr := s.addr()
	auth := []ssh.AuthMethod{}
	signers := append([]ssh.Signer(nil), s.signers...)
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" && !s.noAgent {
		if ac, err := net.Dial("unix", sock); err == nil {
			defer ac.Close() // signing happens during the handshake only
			if as, err := agent.NewClient(ac).Signers(); err == nil {
				signers = append(signers, as...)
			} else {
				s.log.Debug("ssh: agent", "err", err)
			}
		} else {
			s.log.Debug("ssh: cannot reach ssh-agent", "sock", sock, "err", err)
		}
	}
	if len(signers) > 0 {
		auth = append(auth, ssh.PublicKeys(signers...))
	}
	cfg := &ssh.ClientConfig{
		User:              s.user,
		Auth:              auth,
		HostKeyCallback:   s.checkHostKey,
		HostKeyAlgorithms: knownHostKeyAlgorithms(s.knownHosts, addr),
		Timeout:           handshakeTimeout,
	}

	d := net.Dialer{Timeout: handshakeTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: connect to %s: %w", s.name, addr, err)
	}
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	c, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	stop()
	if err != nil {
		raw.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh %s: handshake: %w", s.name, ctx.Err())
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, &AuthError{Target: s.name, User: s.user, Host: s.host, Port: s.port, Tried: len(signers), Skipped: s.skipped, Err: err}
		}
		return nil, fmt.Errorf("ssh %s: handshake with %s: %w", s.name, addr, err)
	}
	raw.SetDeadline(time.Time{})
	s.log.Debug("ssh: connected", "target", s.name, "addr", addr, "user", s.user)
	return ssh.NewClient(c, chans, reqs), nil
}

// AuthError reports that the server accepted none of our keys.
type AuthError struct {
	Target, User, Host, Port string
	Tried                    int      // keys offered
	Skipped                  []string // keys found but unusable, with why
	Err                      error
}

func (e *AuthError) Error() string {
	msg := fmt.Sprintf("ssh %s: %s@%s refused all %d key(s) offered", e.Target, e.User, e.Host, e.Tried)
	if len(e.Skipped) > 0 {
		msg += "; unusable keys: " + strings.Join(e.Skipped, ", ")
	}
	return msg
}

func (e *AuthError) Unwrap() error { return e.Err }

// Hint says how to get a key accepted.
func (e *AuthError) Hint() string {
	return fmt.Sprintf("pass a key with --identity FILE, load one into ssh-agent (ssh-add), or install yours on the device: ssh-copy-id -p %s %s@%s", e.Port, e.User, e.Host)
}

func (s *SSH) Run(ctx context.Context, argv []string, opts RunOptions) (Result, error) {
	if err := validateRun(argv, opts); err != nil {
		return Result{}, err
	}
	line := shellLine(argv, opts)
	sess, client, err := s.session(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("run %s: %w", shortArgv(argv), err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout = teeTo(&stdout, opts.Stdout)
	sess.Stderr = teeTo(&stderr, opts.Stderr)
	sess.Stdin = opts.Stdin
	s.log.Debug("ssh: run", "target", s.name, "cmd", line)

	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Ask the server to kill the command (OpenSSH ≥ 7.9 honours it),
		// then close our end; do not wait long for a wedged connection.
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, fmt.Errorf("ssh %s: run %s: %w", s.name, shortArgv(argv), ctx.Err())
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err == nil {
		return res, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitStatus()
		return res, commandError(s.name, argv, res, err)
	}
	// No exit status: the connection went away under the command. Forget
	// it so that the next call dials again.
	s.drop(client)
	return res, fmt.Errorf("ssh %s: connection lost while running %s (the next call reconnects): %w", s.name, shortArgv(argv), err)
}

// session opens a session, redialling once if the cached connection turns
// out to be dead (nothing has run yet, so the retry is safe).
func (s *SSH) session(ctx context.Context) (*ssh.Session, *ssh.Client, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		sess, err := c.NewSession()
		if err == nil {
			return sess, c, nil
		}
		s.drop(c)
		if attempt == 1 || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("ssh %s: open session: %w", s.name, err)
		}
		s.log.Debug("ssh: session failed on cached connection, redialling", "err", err)
	}
}

// sftpClient returns the SFTP client over the live connection, or nil when
// the server has no SFTP subsystem (callers then fall back to the shell).
func (s *SSH) sftpClient(ctx context.Context) (*sftp.Client, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.conn(ctx)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.noSFTP {
			s.mu.Unlock()
			return nil, nil
		}
		if s.sftp != nil && s.client == c {
			sc := s.sftp
			s.mu.Unlock()
			return sc, nil
		}
		s.mu.Unlock()
		sc, err := sftp.NewClient(c)
		if err != nil {
			if strings.Contains(err.Error(), "subsystem request failed") {
				s.log.Debug("ssh: no sftp subsystem, copying through the shell", "target", s.name)
				s.mu.Lock()
				s.noSFTP = true
				s.mu.Unlock()
				return nil, nil
			}
			s.drop(c)
			if attempt == 1 || ctx.Err() != nil {
				return nil, fmt.Errorf("ssh %s: start sftp: %w", s.name, err)
			}
			continue
		}
		s.mu.Lock()
		if s.client == c {
			s.sftp = sc
		}
		s.mu.Unlock()
		return sc, nil
	}
}

func (s *SSH) Push(ctx context.Context, local, remote string) error {
	if err := s.push(ctx, local, remote); err != nil {
		return fmt.Errorf("ssh %s: push %s to %s: %w", s.name, local, remote, err)
	}
	return nil
}

func (s *SSH) push(ctx context.Context, local, remote string) error {
	in, st, err := openRegular(local)
	if err != nil {
		return err
	}
	defer in.Close()
	sc, err := s.sftpClient(ctx)
	if err != nil {
		return err
	}
	if sc == nil {
		return shellPush(ctx, s, in, st.Mode().Perm(), remote)
	}
	// Write a temporary name, then rename: an interrupted push never leaves
	// a truncated file under the final name (deploy caches rely on it).
	tmp := path.Join(path.Dir(remote), "."+path.Base(remote)+".edgefit-tmp")
	f, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	_, err = f.ReadFrom(ctxReader{ctx, in})
	stop()
	if err == nil {
		err = f.Chmod(st.Mode().Perm())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = sc.PosixRename(tmp, remote)
		if err != nil {
			// Servers without posix-rename@openssh.com: plain rename fails
			// when the target exists, so remove it first.
			sc.Remove(remote)
			err = sc.Rename(tmp, remote)
		}
	}
	if err != nil {
		sc.Remove(tmp)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

func (s *SSH) Pull(ctx context.Context, remote, local string) error {
	if err := s.pull(ctx, remote, local); err != nil {
		return fmt.Errorf("ssh %s: pull %s to %s: %w", s.name, remote, local, err)
	}
	return nil
}

func (s *SSH) pull(ctx context.Context, remote, local string) error {
	sc, err := s.sftpClient(ctx)
	if err != nil {
		return err
	}
	if sc == nil {
		return shellPull(ctx, s, remote, local)
	}
	f, err := sc.Open(remote)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", remote)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	err = atomicfile.WriteMode(local, st.Mode().Perm(), func(w io.Writer) error {
		_, err := f.WriteTo(w)
		return err
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (s *SSH) WorkDir(ctx context.Context) (string, func(context.Context) error, error) {
	return remoteWorkDir(ctx, s)
}

func (s *SSH) Info(ctx context.Context) (Info, error) {
	return cachedRemoteInfo(ctx, s, &s.mu, &s.info)
}

func (s *SSH) Close() error {
	s.mu.Lock()
	c := s.client
	s.closed = true
	s.mu.Unlock()
	if c != nil {
		s.drop(c)
	}
	return nil
}

// expandHome replaces a leading "~/" with the home directory.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}
