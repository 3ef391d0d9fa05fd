package adbfake

import (
	"bytes"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	m := message{cmd: cmdWRTE, arg0: 7, arg1: 9, data: []byte("hello")}
	got, err := readMessage(bytes.NewReader(encodeMessage(m)))
	if err != nil {
		t.Fatal(err)
	}
	if got.cmd != m.cmd || got.arg0 != 7 || got.arg1 != 9 || string(got.data) != "hello" {
		t.Errorf("round trip = %+v", got)
	}
	if cmdName(cmdCNXN) != "CNXN" || cmdName(cmdOKAY) != "OKAY" || cmdName(cmdCLSE) != "CLSE" {
		t.Error("command constants do not spell their names")
	}
	bad := encodeMessage(m)
	bad[20] ^= 1 // break the magic
	if _, err := readMessage(bytes.NewReader(bad)); err == nil {
		t.Error("bad magic accepted")
	}
}

func TestChecksumIsByteSum(t *testing.T) {
	if got := checksum([]byte{1, 2, 250}); got != 253 {
		t.Errorf("checksum = %d", got)
	}
}

// FuzzReadMessage feeds arbitrary bytes to the transport decoder, which
// must fail cleanly rather than panic or allocate without bound.
func FuzzReadMessage(f *testing.F) {
	f.Add(encodeMessage(message{cmd: cmdCNXN, arg0: protocolVersion, arg1: 4096, data: []byte("host::features=shell_v2")}))
	f.Add(encodeMessage(message{cmd: cmdOPEN, arg0: 1, data: []byte("shell,v2,raw:id\x00")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readMessage(bytes.NewReader(b))
		if err == nil && len(m.data) > 1<<20 {
			t.Fatalf("accepted a %d-byte payload", len(m.data))
		}
	})
}
