package adbfake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
)

// Shell protocol (shell_v2) packet ids: a packet is id (1 byte), data
// length (uint32, little endian), data.
const (
	shellStdin      = 0
	shellStdout     = 1
	shellStderr     = 2
	shellExit       = 3
	shellCloseStdin = 4
	shellWindowSize = 5
)

// serveShell runs cmdline with /bin/sh. Legacy streams carry raw bytes both
// ways, with stdout and stderr mixed and no exit status; v2 streams carry
// shell-protocol packets.
func (d *Device) serveShell(s *stream, cmdline string, v2 bool) {
	cmd := exec.Command("/bin/sh", "-c", cmdline)
	cmd.Dir = d.Root
	cmd.Env = d.shellEnv()
	// Own process group, so a closed stream kills the whole command.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return
	}
	var pw *packetWriter
	if v2 {
		pw = &packetWriter{s: s}
		cmd.Stdout = pw.channel(shellStdout)
		cmd.Stderr = pw.channel(shellStderr)
	} else {
		cmd.Stdout = s
		cmd.Stderr = s
	}
	if err := cmd.Start(); err != nil {
		msg := fmt.Sprintf("/bin/sh: %v\n", err)
		if v2 {
			pw.packet(shellStderr, []byte(msg))
			pw.packet(shellExit, []byte{127})
		} else {
			s.Write([]byte(msg))
		}
		return
	}
	go d.feedStdin(s, stdin, v2)
	finished := make(chan struct{})
	go func() {
		select {
		case <-s.done: // host closed the stream or the connection died
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-finished:
		}
	}()
	err = cmd.Wait()
	close(finished)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	if v2 {
		pw.packet(shellExit, []byte{byte(code)})
	}
}

// feedStdin copies what the host sends into the command's stdin.
func (d *Device) feedStdin(s *stream, stdin io.WriteCloser, v2 bool) {
	defer stdin.Close()
	if !v2 {
		io.Copy(stdin, s)
		return
	}
	var h [5]byte
	for {
		if _, err := io.ReadFull(s, h[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(h[1:])
		if n > 1<<20 {
			d.logf("shell: stdin packet of %d bytes", n)
			return
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(s, data); err != nil {
			return
		}
		switch h[0] {
		case shellStdin:
			if _, err := stdin.Write(data); err != nil {
				io.Copy(io.Discard, s)
				return
			}
		case shellCloseStdin:
			stdin.Close()
		case shellWindowSize:
		default:
			d.logf("shell: unexpected packet id %d from host", h[0])
		}
	}
}

// packetWriter frames output as shell-protocol packets, one at a time.
type packetWriter struct {
	mu sync.Mutex
	s  *stream
}

func (p *packetWriter) packet(id byte, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := make([]byte, 5+len(data))
	b[0] = id
	binary.LittleEndian.PutUint32(b[1:], uint32(len(data)))
	copy(b[5:], data)
	_, err := p.s.Write(b)
	return err
}

type channelWriter struct {
	p  *packetWriter
	id byte
}

func (p *packetWriter) channel(id byte) io.Writer { return channelWriter{p, id} }

func (c channelWriter) Write(b []byte) (int, error) {
	// Keep packets within the negotiated payload so one packet is one
	// or a few WRTE messages.
	const max = 64 * 1024
	for off := 0; off < len(b); off += max {
		end := min(off+max, len(b))
		if err := c.p.packet(c.id, b[off:end]); err != nil {
			return off, err
		}
	}
	return len(b), nil
}
