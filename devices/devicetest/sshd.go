package devicetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/internal/testfix"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDPath is the OpenSSH server binary; sshd insists on an absolute path.
const SSHDPath = "/usr/sbin/sshd"

// SFTPServerPath is the SFTP subsystem binary of Debian's openssh-sftp-server.
const SFTPServerPath = "/usr/lib/openssh/sftp-server"

// SSHD is a real OpenSSH server on a loopback port, owned by one test.
type SSHD struct {
	URL     string          // ssh://USER@127.0.0.1:PORT
	Options devices.Options // identity, known_hosts (already trusting the host key), no ssh config, no agent
	Addr    string          // 127.0.0.1:PORT
	Port    int
	User    string
	Dir     string        // holds the keys, config and logs
	HostKey ssh.PublicKey // the server's host key

	opts   SSHDOptions
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	stderr *syncBuffer
}

// SSHDOptions varies the server for tests of unusual devices.
type SSHDOptions struct {
	// NoSFTP leaves the SFTP subsystem out, as on minimal (dropbear-like)
	// boards, so file copies must go through the shell.
	NoSFTP bool
}

// StartSSHD starts /usr/sbin/sshd -D -e on a free loopback port with fresh
// ed25519 host and client keys, and stops it when the test ends. It logs in
// as the current user (as root, sshd needs its privilege-separation user
// "sshd", which installing openssh-server creates, and /run/sshd). The test
// is skipped when sshd is missing, or fails under EDGEFIT_TEST_STRICT=1.
func StartSSHD(t testing.TB, opts ...SSHDOptions) *SSHD {
	t.Helper()
	var o SSHDOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	_, err := os.Stat(SSHDPath)
	testfix.Need(t, testfix.SSHD, err)
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("sshd"); err != nil {
			testfix.Need(t, testfix.SSHD, fmt.Errorf("run as root, sshd needs its privilege-separation user \"sshd\": %w", err))
		}
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			testfix.Need(t, testfix.SSHD, fmt.Errorf("sshd needs /run/sshd: %w", err))
		}
	}
	dir := t.TempDir()
	s := &SSHD{Dir: dir, User: u.Username, opts: o}

	hostPub := WriteKey(t, filepath.Join(dir, "hostkey"))
	clientPub := WriteKey(t, filepath.Join(dir, "client"))
	s.HostKey = hostPub
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatal(err)
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s.Port = FreePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		if lastErr = s.start(t); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("start sshd: %v", lastErr)
	}

	knownHosts := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, hostPub) + "\n"
	if err := os.WriteFile(knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	s.URL = fmt.Sprintf("ssh://%s@%s", s.User, s.Addr)
	s.Options = devices.Options{
		Identity:   filepath.Join(dir, "client"),
		KnownHosts: knownHosts,
		SSHConfig:  "none",
		NoAgent:    true,
	}
	return s
}

func (s *SSHD) start(t testing.TB) error {
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
MaxStartups 50
`, s.Port, filepath.Join(s.Dir, "hostkey"), filepath.Join(s.Dir, "sshd.pid"), filepath.Join(s.Dir, "authorized_keys"))
	if !s.opts.NoSFTP {
		cfg += "Subsystem sftp " + SFTPServerPath + "\n"
	}
	cfgPath := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	s.stderr = &syncBuffer{}
	s.cmd = exec.Command(SSHDPath, "-D", "-e", "-f", cfgPath)
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return err
	}
	cmd, exited := s.cmd, make(chan struct{})
	s.exited = exited
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited: %v: %s", waitErr, s.stderr.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			stderr := s.stderr
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
				if t.Failed() {
					t.Logf("sshd log:\n%s", stderr.String())
				}
			})
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("sshd did not listen on %s within 10s: %s", s.Addr, s.stderr.String())
}

// RegenerateHostKey gives the server a fresh host key, as reinstalling a
// device does, and restarts it on the same port. Options.KnownHosts still
// holds the old key, so the next connection sees a changed key.
func (s *SSHD) RegenerateHostKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	s.cmd.Process.Kill()
	<-s.exited
	s.HostKey = WriteKey(t, filepath.Join(s.Dir, "hostkey"))
	var err error
	for attempt := 0; attempt < 50; attempt++ { // the port may linger a moment
		if err = s.start(t); err == nil {
			return s.HostKey
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart sshd with a new host key: %v", err)
	return nil
}

// Log returns what sshd wrote so far.
func (s *SSHD) Log() string { return s.stderr.String() }

// DropConnections kills sshd's per-connection processes (the children of
// the listening daemon), cutting every open connection as a network failure
// or a rebooting device would. The daemon keeps listening.
func (s *SSHD) DropConnections(t testing.TB) int {
	t.Helper()
	kids := childPIDs(s.cmd.Process.Pid)
	for _, pid := range kids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return len(kids)
}

// childPIDs lists the processes whose parent is pid, from /proc.
func childPIDs(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state ppid ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, n)
		}
	}
	return kids
}

// WriteKey writes a fresh unencrypted ed25519 private key in OpenSSH format
// and returns its public half.
func WriteKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sp), 0o644); err != nil {
		t.Fatal(err)
	}
	return sp
}

// NewKey returns a fresh ed25519 public key (e.g. to write a known_hosts
// line that does not match the server).
func NewKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
