package adbfake

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// ADB transport commands (little-endian ASCII).
const (
	cmdCNXN = 0x4e584e43
	cmdOPEN = 0x4e45504f
	cmdOKAY = 0x59414b4f
	cmdCLSE = 0x45534c43
	cmdWRTE = 0x45545257
	cmdAUTH = 0x48545541
	cmdSYNC = 0x434e5953

	// protocolVersion is A_VERSION with checksums optional (adb ≥ 1.0.39).
	protocolVersion = 0x01000001
	// ourMaxData is the largest payload we accept and send.
	ourMaxData = 256 * 1024
	headerSize = 24
)

// message is one ADB transport message.
type message struct {
	cmd, arg0, arg1 uint32
	data            []byte
}

func cmdName(c uint32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], c)
	return string(b[:])
}

// checksum is ADB's data check: the byte sum (not a CRC, despite the
// field's old name). Peers with protocol version ≥ 0x01000001 ignore it.
func checksum(p []byte) uint32 {
	var s uint32
	for _, b := range p {
		s += uint32(b)
	}
	return s
}

func readMessage(r io.Reader) (message, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return message{}, err
	}
	m := message{
		cmd:  binary.LittleEndian.Uint32(h[0:]),
		arg0: binary.LittleEndian.Uint32(h[4:]),
		arg1: binary.LittleEndian.Uint32(h[8:]),
	}
	n := binary.LittleEndian.Uint32(h[12:])
	magic := binary.LittleEndian.Uint32(h[20:])
	if magic != m.cmd^0xffffffff {
		return message{}, fmt.Errorf("bad magic %#x for command %#x", magic, m.cmd)
	}
	if n > 1<<20 {
		return message{}, fmt.Errorf("%s payload of %d bytes exceeds 1 MiB", cmdName(m.cmd), n)
	}
	m.data = make([]byte, n)
	if _, err := io.ReadFull(r, m.data); err != nil {
		return message{}, err
	}
	return m, nil
}

func encodeMessage(m message) []byte {
	b := make([]byte, headerSize+len(m.data))
	binary.LittleEndian.PutUint32(b[0:], m.cmd)
	binary.LittleEndian.PutUint32(b[4:], m.arg0)
	binary.LittleEndian.PutUint32(b[8:], m.arg1)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(m.data)))
	binary.LittleEndian.PutUint32(b[16:], checksum(m.data))
	binary.LittleEndian.PutUint32(b[20:], m.cmd^0xffffffff)
	copy(b[headerSize:], m.data)
	return b
}

// conn is one transport connection from an adb server.
type conn struct {
	dev     *Device
	nc      net.Conn
	wmu     sync.Mutex // one message at a time on the wire
	maxData int

	mu      sync.Mutex
	streams map[uint32]*stream
	nextID  uint32
	closed  bool
}

func (c *conn) send(m message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(encodeMessage(m))
	return err
}

func (c *conn) serve() {
	defer c.shutdown()
	r := bufio.NewReader(c.nc)
	for {
		m, err := readMessage(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.dev.logf("read: %v", err)
			}
			return
		}
		switch m.cmd {
		case cmdCNXN:
			c.maxData = int(min(m.arg1, ourMaxData))
			if err := c.send(message{cmd: cmdCNXN, arg0: protocolVersion, arg1: ourMaxData, data: []byte(c.dev.banner())}); err != nil {
				return
			}
		case cmdOPEN:
			c.open(m)
		case cmdWRTE:
			if s := c.stream(m.arg1); s != nil {
				s.in.push(m.data)
				c.send(message{cmd: cmdOKAY, arg0: s.local, arg1: s.remote})
			}
		case cmdOKAY:
			if s := c.stream(m.arg1); s != nil {
				select {
				case s.ack <- struct{}{}:
				default:
				}
			}
		case cmdCLSE:
			if s := c.stream(m.arg1); s != nil {
				s.closeLocal()
			}
		case cmdAUTH, cmdSYNC:
			// We never ask for authentication; ignore stray ones.
		default:
			c.dev.logf("unknown command %q", cmdName(m.cmd))
		}
	}
}

func (c *conn) stream(id uint32) *stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[id]
}

// open starts the requested service on a new stream.
func (c *conn) open(m message) {
	name := string(m.data)
	if i := indexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	c.mu.Lock()
	c.nextID++
	s := &stream{c: c, local: c.nextID, remote: m.arg0, ack: make(chan struct{}, 1), done: make(chan struct{})}
	s.in.cond = sync.NewCond(&s.in.mu)
	c.streams[s.local] = s
	c.mu.Unlock()

	handler := c.dev.service(name)
	if handler == nil {
		c.dev.logf("refusing unknown service %q", name)
		c.forget(s)
		c.send(message{cmd: cmdCLSE, arg0: 0, arg1: m.arg0})
		return
	}
	if err := c.send(message{cmd: cmdOKAY, arg0: s.local, arg1: s.remote}); err != nil {
		return
	}
	go func() {
		handler(s)
		s.Close()
	}()
}

func (c *conn) forget(s *stream) {
	c.mu.Lock()
	delete(c.streams, s.local)
	c.mu.Unlock()
}

func (c *conn) shutdown() {
	c.nc.Close()
	c.mu.Lock()
	c.closed = true
	ss := make([]*stream, 0, len(c.streams))
	for _, s := range c.streams {
		ss = append(ss, s)
	}
	c.mu.Unlock()
	for _, s := range ss {
		s.closeLocal()
	}
	c.dev.removeConn(c)
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// stream is one open service: an io.Reader of what the host writes and an
// io.Writer that sends WRTE messages, one at a time, each waiting for the
// host's OKAY as the protocol's flow control requires.
type stream struct {
	c             *conn
	local, remote uint32
	in            queue
	ack           chan struct{}
	done          chan struct{} // closed when the stream ends either way
	once          sync.Once
	wmu           sync.Mutex
}

func (s *stream) Read(p []byte) (int, error) { return s.in.read(p) }

func (s *stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n := 0
	for len(p) > 0 {
		chunk := p
		if max := s.c.maxData; max > 0 && len(chunk) > max {
			chunk = chunk[:max]
		}
		select {
		case <-s.done:
			return n, io.ErrClosedPipe
		default:
		}
		if err := s.c.send(message{cmd: cmdWRTE, arg0: s.local, arg1: s.remote, data: chunk}); err != nil {
			return n, err
		}
		select {
		case <-s.ack:
		case <-s.done:
			return n, io.ErrClosedPipe
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// Close ends the stream from our side (CLSE to the host).
func (s *stream) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.in.close()
		s.c.forget(s)
		s.c.send(message{cmd: cmdCLSE, arg0: s.local, arg1: s.remote})
	})
	return nil
}

// closeLocal ends the stream because the host closed it (or the connection
// died): no CLSE goes back.
func (s *stream) closeLocal() {
	s.once.Do(func() {
		close(s.done)
		s.in.close()
		s.c.forget(s)
	})
}

// queue is an unbounded byte queue; the host's writes are acknowledged at
// once, so they must never block the connection's reader.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func (q *queue) push(p []byte) {
	q.mu.Lock()
	q.buf = append(q.buf, p...)
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *queue) read(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.buf) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, q.buf)
	q.buf = q.buf[n:]
	return n, nil
}
