package devicetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a
// server a test starts itself (sshd, an adb server) or for a port nobody
// should answer on.
//
// The port lies below the kernel's ephemeral range, never inside it. A
// client that connects to a port in that range before its server listens
// can be handed that very port as its own source port, and TCP then
// connects the socket to itself: the client reads back what it wrote. The
// adb client did exactly that in CI ("protocol fault (status 30 30 30
// 63?!)" is the "000c" of its own "000chost:version" request), and an ssh
// client dialling a closed port would get its own banner instead of
// "connection refused". Ports chosen by the kernel (":0") come from that
// range, so they are used only where the range leaves no room below it.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort(ephemeralLow())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// freePort picks a random port in [10000, low), or [1024, low) when low is
// small, that it can listen on; with no such range it asks the kernel.
func freePort(low int) (int, error) {
	base := 10000
	if low-base < 1000 {
		base = 1024
	}
	if low-base >= 100 {
		for range 100 {
			port := base + rand.IntN(low-base)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				continue // taken
			}
			l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral (local) port
// range: Linux's net.ipv4.ip_local_port_range, else the IANA range's
// 49152, which BSDs and macOS use.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > 0 {
				return lo
			}
		}
	}
	return 49152
}
