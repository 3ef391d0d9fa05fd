// Package journal keeps long work resumable: an append-only file of JSON
// records, one per line, each synced to disk before Append returns, so that
// a run killed at any moment loses at most the record it was writing.
//
// The first line is a header that pins what the work is (its settings); a
// resumed run reads it back and refuses to mix incompatible work. A torn
// last line (the process died mid-write) is dropped and overwritten; a
// malformed line anywhere else is an error naming the line, since the file
// was then changed by something else.
//
// A leaf helper: it imports nothing else of edgefit and uses no cgo.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edgefit/edgefit/internal/atomicfile"
)

// maxLine bounds one record, so that a corrupt file cannot exhaust memory.
const maxLine = 16 << 20

// Writer appends records to a journal.
type Writer struct {
	f    *os.File
	path string
}

// Create starts a new journal at path with header as its first line. It
// fails if path exists.
func Create(path string, header any) (*Writer, error) {
	b, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("journal %s: encode header: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	w := &Writer{f: f, path: path}
	if err := w.write(b); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	atomicfile.SyncDir(filepath.Dir(path))
	return w, nil
}

// Open reads the journal at path: the header into header (with unknown
// fields refused), then each record's raw JSON, in order, to each. It
// returns a Writer that appends after the last complete record.
func Open(path string, header any, each func(line int, rec json.RawMessage) error) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	end, err := read(f, header, each)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: drop torn last line: %w", path, err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return &Writer{f: f, path: path}, nil
}

// read parses the journal and returns the offset just after its last
// complete line.
func read(r io.Reader, header any, each func(int, json.RawMessage) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	for line := 1; ; line++ {
		body, err := ReadLine(br, maxLine)
		var long *LineTooLongError
		if errors.As(err, &long) {
			return 0, fmt.Errorf("line %d is longer than %d bytes: not a journal edgefit wrote", line, maxLine)
		}
		if errors.Is(err, io.EOF) {
			// No newline: a torn last line (or nothing). Only the header
			// cannot be missing.
			if line == 1 {
				return 0, errors.New("empty or torn header: delete the journal to start over")
			}
			return off, nil
		}
		if err != nil {
			return 0, err
		}
		text := bytes.TrimSuffix(body, []byte("\n"))
		if line == 1 {
			dec := json.NewDecoder(bytes.NewReader(text))
			dec.DisallowUnknownFields()
			if err := dec.Decode(header); err != nil {
				return 0, fmt.Errorf("line 1 (header): %w", err)
			}
		} else {
			if !json.Valid(text) {
				return 0, fmt.Errorf("line %d is not a JSON record: the journal was changed by hand or by another program; delete it to start over", line)
			}
			// ReadLine returns a fresh line, so each may keep text.
			if err := each(line, text); err != nil {
				return 0, fmt.Errorf("line %d: %w", line, err)
			}
		}
		off += int64(len(body))
	}
}

// LineTooLongError is [ReadLine]'s error for a line over its limit.
type LineTooLongError struct{ Limit int }

func (e *LineTooLongError) Error() string { return fmt.Sprintf("line longer than %d bytes", e.Limit) }

// ReadLine reads from br up to and including the next '\n', however many
// times the line fills br's buffer, and fails with a [*LineTooLongError]
// once it holds more than limit bytes (so that a corrupt file cannot
// exhaust memory). At the end of the input it returns what is left
// (a last line without its newline, or nothing) with io.EOF. The line is
// the caller's: later reads do not overwrite it.
func ReadLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit {
			return line, &LineTooLongError{Limit: limit}
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// Append writes one record and syncs it to disk.
func (w *Writer) Append(rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("journal %s: encode record: %w", w.path, err)
	}
	return w.write(b)
}

func (w *Writer) write(b []byte) error {
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: sync: %w", w.path, err)
	}
	return nil
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }
