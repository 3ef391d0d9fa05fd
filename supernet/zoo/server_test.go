package zoo

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgefit/edgefit/internal/testfix"
)

// sharedDir returns ../shared next to the repository root, or skips.
func sharedDir(t testing.TB) string { return testfix.Shared(t) }

func readShared(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(testfix.SharedFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// upstreamFiles maps OFA's URL paths to the bytes of unchanged copies of
// the files OFA publishes, plus the w1.0 test supernet under the w1.0 name.
func upstreamFiles(t testing.TB, withSupernet bool) map[string][]byte {
	files := map[string][]byte{"ofa/acc_predictor.pth": readShared(t, "ofa-upstream/acc_predictor.pth")}
	for _, r := range []string{"160", "176", "192", "208", "224"} {
		files["ofa/note10/"+r+"_lookup_table.yaml"] = readShared(t, "ofa-upstream/note10/"+r+"_lookup_table.yaml")
	}
	if withSupernet {
		files["ofa/ofa_nets/ofa_mbv3_d234_e346_k357_w1.0"] = readShared(t, "fixtures/ofa-mbv3-w1.0/supernet.pth")
	}
	return files
}

// fileServer is a loopback HTTP server of OFA's files whose behaviour
// tests can spoil: cut a response halfway, ignore Range, stall, fail.
type fileServer struct {
	*httptest.Server

	mu       sync.Mutex
	files    map[string][]byte
	requests []request
	sent     int64 // body bytes written

	cutNext     int  // cut this many coming responses after half their body
	stallAfter  bool // send half, then wait for the client to go away
	ignoreRange bool // answer 200 with the whole file to Range requests
	status      int  // answer every request with this status, when set
}

type request struct {
	path, rng string
	status    int
}

func newFileServer(t testing.TB, files map[string][]byte) *fileServer {
	s := &fileServer{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) opts(cache string) Options {
	return Options{CacheDir: cache, BaseURL: s.URL + "/", Attempts: 1, StallTimeout: 5 * time.Second}
}

func (s *fileServer) log() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

func (s *fileServer) bytesSent() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

type countingWriter struct {
	http.ResponseWriter
	s *fileServer
}

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.s.mu.Lock()
	w.s.sent += int64(n)
	w.s.mu.Unlock()
	return n, err
}

func (s *fileServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	path := strings.TrimPrefix(r.URL.Path, "/")
	data, ok := s.files[path]
	cut := s.cutNext > 0
	if cut {
		s.cutNext--
	}
	stall, ignore, status := s.stallAfter, s.ignoreRange, s.status
	rec := request{path: path, rng: r.Header.Get("Range")}
	s.mu.Unlock()
	record := func(code int) {
		s.mu.Lock()
		rec.status = code
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}
	switch {
	case status != 0:
		record(status)
		http.Error(w, http.StatusText(status), status)
	case !ok:
		record(http.StatusNotFound)
		http.NotFound(w, r)
	case cut || stall:
		record(http.StatusOK)
		w.Header().Set("Content-Length", itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		countingWriter{w, s}.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		if stall {
			<-r.Context().Done()
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case ignore:
		record(http.StatusOK)
		w.Header().Set("Content-Length", itoa(len(data)))
		countingWriter{w, s}.Write(data)
	default:
		cw := &statusWriter{countingWriter: countingWriter{w, s}}
		http.ServeContent(cw, r, path, time.Time{}, bytes.NewReader(data))
		record(cw.code)
	}
}

type statusWriter struct {
	countingWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.countingWriter.ResponseWriter.WriteHeader(code)
}

func itoa(n int) string { return strconv.Itoa(n) }

// upstreamDir holds a copy of every upstream file under its published base
// name, as a user who downloaded them by hand has them.
func upstreamDir(t testing.TB) string {
	t.Helper()
	src := t.TempDir()
	for p, data := range upstreamFiles(t, true) {
		if err := os.WriteFile(filepath.Join(src, filepath.Base(p)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}
