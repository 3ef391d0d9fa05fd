package devices

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The adb client starts an adb server when none listens on its port, and
// that server keeps running after the client exits. edgefit stops a server
// that it started itself once the last target using it is closed; a
// server it found running (the user's, an IDE's) is left alone.

// adbServer is one adb server port in use by this process.
type adbServer struct {
	port    int
	refs    int
	started bool // started by this process: stop it when refs reaches 0
	bin     string
	env     []string
}

var adbServers struct {
	sync.Mutex
	m map[int]*adbServer
}

// adbPort returns the server port adb will use with env (the last
// ANDROID_ADB_SERVER_PORT wins, as in the environment), and false when
// ADB_SERVER_SOCKET names another kind of socket that edgefit does not
// manage.
func adbPort(env []string) (int, bool) {
	port := 5037
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "ANDROID_ADB_SERVER_PORT":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
				port = n
			}
		case "ADB_SERVER_SOCKET":
			if v != "" {
				return 0, false
			}
		}
	}
	return port, true
}

// serverListening reports whether something accepts connections on the
// adb server port.
func serverListening(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// acquireADBServer makes sure an adb server runs for bin and env, starting
// one (`adb start-server`) when none listens, and returns the function that
// gives it back, once however often it is called: the last give-back of a
// server this process started stops it (`adb kill-server`).
func acquireADBServer(ctx context.Context, bin string, env []string) (release func(), err error) {
	port, managed := adbPort(env)
	if !managed {
		return func() {}, nil
	}
	adbServers.Lock()
	defer adbServers.Unlock()
	if adbServers.m == nil {
		adbServers.m = map[int]*adbServer{}
	}
	s := adbServers.m[port]
	if s == nil {
		s = &adbServer{port: port, bin: bin, env: env}
		if !serverListening(port) {
			if err := runADBQuiet(ctx, bin, env, "start-server"); err != nil {
				return nil, fmt.Errorf("start the adb server on port %d: %w", port, err)
			}
			s.started = true
		}
		adbServers.m[port] = s
	}
	s.refs++
	var once sync.Once
	return func() { once.Do(func() { releaseADBServer(s) }) }, nil
}

func releaseADBServer(s *adbServer) {
	adbServers.Lock()
	defer adbServers.Unlock()
	s.refs--
	if s.refs > 0 {
		return
	}
	delete(adbServers.m, s.port)
	if s.started {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runADBQuiet(ctx, s.bin, s.env, "kill-server")
	}
}

// runADBQuiet runs an adb server command with its output discarded: a
// server that start-server forks keeps the client's stdout open, and a
// pipe there would keep the wait from returning.
func runADBQuiet(ctx context.Context, bin string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd.Run()
}
