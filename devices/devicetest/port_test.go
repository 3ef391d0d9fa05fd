package devicetest

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortBelowEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	for range 50 {
		port := FreePort(t)
		if port >= low || port < 1024 {
			t.Fatalf("FreePort = %d, want in [1024, %d), below the ephemeral range", port, low)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d from FreePort cannot be listened on: %v", port, err)
		}
		l.Close()
	}
}

func TestFreePortNoRoomBelow(t *testing.T) {
	// An ephemeral range starting at 1030 leaves too few ports below it:
	// the kernel's choice is taken instead.
	port, err := freePort(1030)
	if err != nil {
		t.Fatal(err)
	}
	if port < 1024 {
		t.Fatalf("freePort(1030) = %d", port)
	}
	// A range starting at 5000 leaves [1024, 5000).
	for range 20 {
		port, err := freePort(5000)
		if err != nil {
			t.Fatal(err)
		}
		if port < 1024 || port >= 5000 {
			t.Fatalf("freePort(5000) = %d, want in [1024, 5000)", port)
		}
	}
}
