package adbfake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// syncMaxData is the largest DATA chunk of the sync protocol (64 KiB).
const syncMaxData = 64 * 1024

// serveSync answers sync requests (version 1): each request is a 4-byte id
// and a little-endian uint32 length, followed by that many bytes.
func (d *Device) serveSync(s *stream) {
	var h [8]byte
	for {
		if _, err := io.ReadFull(s, h[:]); err != nil {
			return
		}
		id := string(h[:4])
		n := binary.LittleEndian.Uint32(h[4:])
		if n > 4096 {
			d.logf("sync: %s path of %d bytes", id, n)
			return
		}
		arg := make([]byte, n)
		if _, err := io.ReadFull(s, arg); err != nil {
			return
		}
		var err error
		switch id {
		case "STAT":
			err = d.syncStat(s, string(arg))
		case "LIST":
			err = d.syncList(s, string(arg))
		case "SEND":
			err = d.syncSend(s, string(arg))
		case "RECV":
			err = d.syncRecv(s, string(arg))
		case "QUIT":
			return
		default:
			d.logf("sync: unsupported request %q", id)
			syncFail(s, "unsupported sync request "+strconv.Quote(id))
			return
		}
		if err != nil {
			d.logf("sync: %s %q: %v", id, arg, err)
			return
		}
	}
}

// resolve maps a device path to the host, refusing anything outside Root.
func (d *Device) resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%s: not an absolute path", p)
	}
	c := filepath.Clean(p)
	if c != d.Root && !strings.HasPrefix(c, d.Root+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: permission denied (this fake device serves files under %s only)", p, d.Root)
	}
	return c, nil
}

func le32(vals ...uint32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func statFields(fi os.FileInfo) (mode, size, mtime uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		mode = uint32(st.Mode)
	}
	return mode, uint32(fi.Size()), uint32(fi.ModTime().Unix())
}

// syncStat answers STAT: mode, size, mtime; all zero when the file is
// missing (that is how v1 says "no such file").
func (d *Device) syncStat(s *stream, p string) error {
	var mode, size, mtime uint32
	if hp, err := d.resolve(p); err == nil {
		if fi, err := os.Lstat(hp); err == nil {
			mode, size, mtime = statFields(fi)
		}
	}
	_, err := s.Write(append([]byte("STAT"), le32(mode, size, mtime)...))
	return err
}

// syncList answers LIST with DENT entries and a DONE.
func (d *Device) syncList(s *stream, p string) error {
	if hp, err := d.resolve(p); err == nil {
		if entries, err := os.ReadDir(hp); err == nil {
			for _, e := range entries {
				fi, err := e.Info()
				if err != nil {
					continue
				}
				mode, size, mtime := statFields(fi)
				msg := append([]byte("DENT"), le32(mode, size, mtime, uint32(len(e.Name())))...)
				if _, err := s.Write(append(msg, e.Name()...)); err != nil {
					return err
				}
			}
		}
	}
	_, err := s.Write(append([]byte("DONE"), le32(0, 0, 0, 0)...))
	return err
}

func syncFail(s *stream, msg string) error {
	_, err := s.Write(append(append([]byte("FAIL"), le32(uint32(len(msg)))...), msg...))
	return err
}

// syncSend receives "path,mode" then DATA chunks and a DONE carrying the
// mtime; it answers OKAY or FAIL. The file appears under its name only once
// complete.
func (d *Device) syncSend(s *stream, arg string) error {
	i := strings.LastIndexByte(arg, ',')
	if i < 0 {
		return syncFail(s, "SEND without mode")
	}
	p := arg[:i]
	mode, err := strconv.ParseUint(arg[i+1:], 10, 32)
	if err != nil {
		return syncFail(s, "SEND with bad mode "+strconv.Quote(arg[i+1:]))
	}
	hp, rerr := d.resolve(p)
	var f *os.File
	if rerr == nil {
		if d.has("fixed_push_mkdir") {
			rerr = os.MkdirAll(filepath.Dir(hp), 0o755)
		}
		if rerr == nil {
			f, rerr = os.CreateTemp(filepath.Dir(hp), ".adbfake-*")
		}
	}
	// Consume the whole upload even after an error: the host sends it
	// before it reads our answer.
	var h [8]byte
	buf := make([]byte, syncMaxData)
	var mtime uint32
	for {
		if _, err := io.ReadFull(s, h[:]); err != nil {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
			return err
		}
		n := binary.LittleEndian.Uint32(h[4:])
		if string(h[:4]) == "DONE" {
			mtime = n
			break
		}
		if string(h[:4]) != "DATA" || n > syncMaxData {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
			return fmt.Errorf("SEND: unexpected %q of %d bytes", h[:4], n)
		}
		if _, err := io.ReadFull(s, buf[:n]); err != nil {
			return err
		}
		if f != nil && rerr == nil {
			_, rerr = f.Write(buf[:n])
		}
	}
	if f != nil {
		if rerr == nil {
			rerr = f.Chmod(os.FileMode(mode) & os.ModePerm)
		}
		if cerr := f.Close(); rerr == nil {
			rerr = cerr
		}
		if rerr == nil {
			t := time.Unix(int64(mtime), 0)
			os.Chtimes(f.Name(), t, t)
			rerr = os.Rename(f.Name(), hp)
		}
		if rerr != nil {
			os.Remove(f.Name())
		}
	}
	if rerr != nil {
		return syncFail(s, rerr.Error())
	}
	_, err = s.Write(append([]byte("OKAY"), le32(0)...))
	return err
}

// syncRecv sends the file as DATA chunks and a DONE, or a FAIL.
func (d *Device) syncRecv(s *stream, p string) error {
	hp, err := d.resolve(p)
	if err != nil {
		return syncFail(s, err.Error())
	}
	f, err := os.Open(hp)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %v", p, pe.Err)
		}
		return syncFail(s, err.Error())
	}
	defer f.Close()
	buf := make([]byte, syncMaxData)
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			if _, err := s.Write(append(append([]byte("DATA"), le32(uint32(n))...), buf[:n]...)); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return syncFail(s, rerr.Error())
		}
	}
	_, err = s.Write(append([]byte("DONE"), le32(0)...))
	return err
}
