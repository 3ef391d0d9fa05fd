package zoo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustLookup(t *testing.T, name string) Item {
	t.Helper()
	it, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func TestGitBlobSHA1(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// What "git hash-object" prints for these contents.
		{"", "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"},
		{"hello\n", "ce013625030ba8dba906f756967f9e9ca394464a"},
	} {
		got, err := GitBlobSHA1(strings.NewReader(tc.in), int64(len(tc.in)))
		if err != nil || got != tc.want {
			t.Errorf("GitBlobSHA1(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := GitBlobSHA1(strings.NewReader("abc"), 4); err == nil {
		t.Error("GitBlobSHA1 of a short reader succeeded")
	}
}

// The catalogue's known sizes and hashes describe OFA's published files,
// and each passes its structure check.
func TestCatalogueMatchesUpstreamCopies(t *testing.T) {
	files := upstreamFiles(t, false)
	seen := 0
	for _, it := range Catalogue() {
		for _, f := range it.Files {
			data, ok := files[f.URLPath]
			if !ok {
				if f.GitSHA1 != "" {
					t.Errorf("%s: no upstream copy to check its known hash against", f.URLPath)
				}
				continue
			}
			seen++
			sum, _ := GitBlobSHA1(bytes.NewReader(data), int64(len(data)))
			if int64(len(data)) != f.Size || sum != f.GitSHA1 {
				t.Errorf("%s: upstream copy is %d bytes %s, catalogue says %d bytes %s", f.URLPath, len(data), sum, f.Size, f.GitSHA1)
			}
			p := filepath.Join(t.TempDir(), filepath.Base(f.URLPath))
			os.WriteFile(p, data, 0o644)
			if err := f.Verify(p); err != nil {
				t.Errorf("%s: structure check failed on OFA's own file: %v", f.URLPath, err)
			}
		}
	}
	if seen != 6 {
		t.Errorf("checked %d files, want 6", seen)
	}
}

func TestLookup(t *testing.T) {
	for _, n := range []string{SupernetW10, SupernetW12, AccPredictor, LUTNote10} {
		if it, err := Lookup(n); err != nil || it.Name != n || len(it.Files) == 0 {
			t.Errorf("Lookup(%q) = %+v, %v", n, it, err)
		}
	}
	_, err := Lookup("ofa-mbv3-w2")
	if err == nil || !strings.Contains(err.Error(), "lut-note10") {
		t.Errorf("Lookup of an unknown name: %v; want an error listing the names", err)
	}
}

func TestFetchEachKind(t *testing.T) {
	files := upstreamFiles(t, true)
	srv := newFileServer(t, files)
	cache := t.TempDir()
	for _, name := range []string{AccPredictor, LUTNote10, SupernetW10} {
		t.Run(name, func(t *testing.T) {
			it := mustLookup(t, name)
			var last [2]int64
			calls := 0
			o := srv.opts(cache)
			o.Progress = func(done, total int64) {
				if done < last[0] {
					t.Errorf("progress went back from %d to %d", last[0], done)
				}
				last = [2]int64{done, total}
				calls++
			}
			paths, err := Fetch(context.Background(), it, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != len(it.Files) {
				t.Fatalf("got %d paths for %d files", len(paths), len(it.Files))
			}
			var want int64
			for i, f := range it.Files {
				got, err := os.ReadFile(paths[i])
				if err != nil || !bytes.Equal(got, files[f.URLPath]) {
					t.Errorf("%s: cached content differs from the served file (%v)", paths[i], err)
				}
				if _, err := os.Stat(paths[i] + ".part"); err == nil {
					t.Errorf("%s.part left behind", paths[i])
				}
				if _, err := readSidecar(paths[i]); err != nil {
					t.Errorf("no verification record: %v", err)
				}
				want += int64(len(files[f.URLPath]))
			}
			if calls == 0 || last[0] != want || last[1] != want {
				t.Errorf("last progress %v after %d calls; want done = total = %d", last, calls, want)
			}

			// Again: from the cache, without a single request.
			before := len(srv.log())
			again, err := Fetch(context.Background(), it, srv.opts(cache))
			if err != nil || strings.Join(again, ",") != strings.Join(paths, ",") {
				t.Fatalf("second fetch: %v, %v", again, err)
			}
			if n := len(srv.log()) - before; n != 0 {
				t.Errorf("second fetch made %d requests, want 0", n)
			}
		})
	}
	// The LUT's files sit in one directory, ready for lut.ImportOFADir.
	if _, err := os.Stat(filepath.Join(cache, "note10", "224_lookup_table.yaml")); err != nil {
		t.Error(err)
	}
}

func TestFetchOfflineFromCache(t *testing.T) {
	files := upstreamFiles(t, false)
	srv := newFileServer(t, files)
	cache := t.TempDir()
	it := mustLookup(t, LUTNote10)
	paths, err := Fetch(context.Background(), it, srv.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	o := srv.opts(cache)
	o.Offline = true
	got, err := Fetch(context.Background(), it, o)
	if err != nil || len(got) != 5 || got[0] != paths[0] {
		t.Fatalf("offline fetch from the cache: %v, %v", got, err)
	}
	// Online, with the server gone, the cache still answers.
	o.Offline = false
	if _, err := Fetch(context.Background(), it, o); err != nil {
		t.Fatalf("fetch with the server down but the files cached: %v", err)
	}
}

func TestFetchOfflineUncached(t *testing.T) {
	srv := newFileServer(t, upstreamFiles(t, false))
	o := srv.opts(t.TempDir())
	o.Offline = true
	_, err := Fetch(context.Background(), mustLookup(t, AccPredictor), o)
	var nc *NotCachedError
	if !errors.As(err, &nc) || nc.Err != nil {
		t.Fatalf("got %v; want a NotCachedError without a download error", err)
	}
	if !strings.Contains(err.Error(), srv.URL+"/ofa/acc_predictor.pth") || !strings.Contains(err.Error(), "acc_predictor.pth") {
		t.Errorf("the error does not say what to download from where: %v", err)
	}
	if n := len(srv.log()); n != 0 {
		t.Errorf("offline fetch made %d requests", n)
	}
}

func TestResumeAfterCut(t *testing.T) {
	files := upstreamFiles(t, false)
	size := int64(len(files["ofa/acc_predictor.pth"]))
	srv := newFileServer(t, files)
	srv.cutNext = 1
	cache := t.TempDir()
	it := mustLookup(t, AccPredictor)

	_, err := Fetch(context.Background(), it, srv.opts(cache))
	var de *DownloadError
	if !errors.As(err, &de) || de.Partial == 0 {
		t.Fatalf("first fetch: %v; want a DownloadError that kept a partial file", err)
	}
	if !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error does not name the URL: %v", err)
	}
	dest := filepath.Join(cache, "acc_predictor.pth")
	st, err := os.Stat(dest + ".part")
	if err != nil || st.Size() != size/2 {
		t.Fatalf("partial file: %v, %v; want %d bytes", st, err, size/2)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("an incomplete file was placed in the cache")
	}

	if _, err := Fetch(context.Background(), it, srv.opts(cache)); err != nil {
		t.Fatal(err)
	}
	log := srv.log()
	last := log[len(log)-1]
	if want := "bytes=" + strconv.FormatInt(size/2, 10) + "-"; last.rng != want || last.status != 206 {
		t.Errorf("resume request: Range %q status %d; want Range %q answered 206", last.rng, last.status, want)
	}
	// The resumed download fetched only the rest (plus nothing else).
	if sent := srv.bytesSent(); sent != size {
		t.Errorf("server sent %d body bytes for a %d-byte file", sent, size)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, files["ofa/acc_predictor.pth"]) {
		t.Error("resumed file differs from the original")
	}
}

// With retries, one Fetch survives a cut connection by resuming.
func TestRetryResumesWithinOneFetch(t *testing.T) {
	files := upstreamFiles(t, false)
	srv := newFileServer(t, files)
	srv.cutNext = 1
	o := srv.opts(t.TempDir())
	o.Attempts = 2
	if _, err := Fetch(context.Background(), mustLookup(t, AccPredictor), o); err != nil {
		t.Fatal(err)
	}
	log := srv.log()
	if len(log) != 2 || log[1].rng == "" || log[1].status != 206 {
		t.Errorf("requests %+v; want a cut one then a 206 range request", log)
	}
}

func TestServerIgnoringRange(t *testing.T) {
	files := upstreamFiles(t, false)
	data := files["ofa/acc_predictor.pth"]
	for _, tc := range []struct {
		name string
		part []byte
	}{
		{"good prefix", data[:1000]},
		{"garbage prefix", bytes.Repeat([]byte{0xAA}, 5000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFileServer(t, files)
			srv.ignoreRange = true
			cache := t.TempDir()
			dest := filepath.Join(cache, "acc_predictor.pth")
			os.WriteFile(dest+".part", tc.part, 0o644)
			if _, err := Fetch(context.Background(), mustLookup(t, AccPredictor), srv.opts(cache)); err != nil {
				t.Fatal(err)
			}
			log := srv.log()
			if len(log) != 1 || log[0].rng == "" {
				t.Errorf("requests %+v; want one range request", log)
			}
			if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
				t.Error("file differs from the original after a restarted download")
			}
		})
	}
}

// A .part holding the whole file of unknown size: the server answers the
// range request with 416, and the file is verified as it is.
func TestCompletePartOfUnknownSize(t *testing.T) {
	files := upstreamFiles(t, true)
	srv := newFileServer(t, files)
	cache := t.TempDir()
	data := files["ofa/ofa_nets/ofa_mbv3_d234_e346_k357_w1.0"]
	os.WriteFile(filepath.Join(cache, "ofa_mbv3_d234_e346_k357_w1.0.pth.part"), data, 0o644)
	if _, err := Fetch(context.Background(), mustLookup(t, SupernetW10), srv.opts(cache)); err != nil {
		t.Fatal(err)
	}
	log := srv.log()
	if len(log) != 1 || log[0].status != 416 {
		t.Errorf("requests %+v; want one answered 416", log)
	}
	if srv.bytesSent() > 1000 {
		t.Errorf("server sent %d bytes for a file that was already complete", srv.bytesSent())
	}
}

func TestCorruptedDownload(t *testing.T) {
	for _, tc := range []struct {
		name, check string
		spoil       func([]byte) []byte
	}{
		{"flipped byte", "git-sha1", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"truncated", "size", func(b []byte) []byte { return b[:len(b)-10] }},
		{"extended", "size", func(b []byte) []byte { return append(b, "\nextra: 1\n"...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := upstreamFiles(t, false)
			const p = "ofa/note10/192_lookup_table.yaml"
			files[p] = tc.spoil(bytes.Clone(files[p]))
			srv := newFileServer(t, files)
			cache := t.TempDir()
			_, err := Fetch(context.Background(), mustLookup(t, LUTNote10), srv.opts(cache))
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Check != tc.check || ve.Item != LUTNote10 {
				t.Fatalf("got %v; want a %s VerifyError", err, tc.check)
			}
			msg := err.Error()
			if !strings.Contains(msg, "expected "+ve.Want) || !strings.Contains(msg, "got ") || !strings.Contains(msg, "removed") {
				t.Errorf("error does not show expected vs got and the removal: %s", msg)
			}
			if tc.check == "git-sha1" && (ve.Want != "083adbb96e3d7ad139c183fa53527f1583aec477" || ve.Got == ve.Want) {
				t.Errorf("want/got %s/%s", ve.Want, ve.Got)
			}
			for _, n := range []string{"192_lookup_table.yaml", "192_lookup_table.yaml.part"} {
				if _, err := os.Stat(filepath.Join(cache, "note10", n)); err == nil {
					t.Errorf("%s left in the cache", n)
				}
			}
		})
	}
}

// The w1.0 test supernet served under the w1.2 name fails the structure
// check with a width error.
func TestSupernetWrongWidth(t *testing.T) {
	files := upstreamFiles(t, true)
	files["ofa/ofa_nets/ofa_mbv3_d234_e346_k357_w1.2"] = files["ofa/ofa_nets/ofa_mbv3_d234_e346_k357_w1.0"]
	srv := newFileServer(t, files)
	cache := t.TempDir()
	_, err := Fetch(context.Background(), mustLookup(t, SupernetW12), srv.opts(cache))
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Check != "structure" {
		t.Fatalf("got %v; want a structure VerifyError", err)
	}
	if !strings.Contains(err.Error(), "width 1 supernet") || !strings.Contains(err.Error(), "not width 1.2") {
		t.Errorf("error does not explain the width: %v", err)
	}
	ents, _ := os.ReadDir(cache)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") { // only the lock file may stay
			t.Errorf("%s left in the cache", e.Name())
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	files := upstreamFiles(t, false)
	delete(files, "ofa/acc_predictor.pth")
	srv := newFileServer(t, files)
	_, err := Fetch(context.Background(), mustLookup(t, AccPredictor), srv.opts(t.TempDir()))
	var de *DownloadError
	var nc *NotCachedError
	if !errors.As(err, &de) || de.StatusCode != 404 || !errors.As(err, &nc) {
		t.Fatalf("got %v; want a 404 DownloadError inside a NotCachedError", err)
	}
	if !strings.Contains(err.Error(), srv.URL+"/ofa/acc_predictor.pth") || !strings.Contains(err.Error(), "404") {
		t.Errorf("404 error lacks the URL or status: %v", err)
	}

	srv.status = 503
	o := srv.opts(t.TempDir())
	o.Attempts = 2
	before := len(srv.log())
	_, err = Fetch(context.Background(), mustLookup(t, LUTNote10), o)
	if !errors.As(err, &de) || de.StatusCode != 503 || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("got %v; want a 503 DownloadError naming the URL", err)
	}
	if n := len(srv.log()) - before; n != 2 {
		t.Errorf("%d requests for a 503 with 2 attempts", n)
	}

	// Nothing listening: a connection error, still naming the URL.
	srv.Close()
	_, err = Fetch(context.Background(), mustLookup(t, AccPredictor), srv.opts(t.TempDir()))
	if !errors.As(err, &de) || de.StatusCode != 0 || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("got %v; want a connection DownloadError naming the URL", err)
	}
}

func TestStalledDownload(t *testing.T) {
	files := upstreamFiles(t, false)
	srv := newFileServer(t, files)
	srv.stallAfter = true
	cache := t.TempDir()
	o := srv.opts(cache)
	o.StallTimeout = 300 * time.Millisecond
	_, err := Fetch(context.Background(), mustLookup(t, AccPredictor), o)
	var de *DownloadError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "stalled") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("got %v; want a stall DownloadError naming the URL", err)
	}
	if st, err := os.Stat(filepath.Join(cache, "acc_predictor.pth.part")); err != nil || st.Size() == 0 {
		t.Errorf("the bytes received before the stall were not kept: %v", err)
	}
}

func TestCancelKeepsPart(t *testing.T) {
	files := upstreamFiles(t, false)
	size := int64(len(files["ofa/acc_predictor.pth"]))
	srv := newFileServer(t, files)
	srv.stallAfter = true
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := srv.opts(cache)
	o.Progress = func(done, total int64) {
		if done >= size/2 {
			cancel()
		}
	}
	_, err := Fetch(ctx, mustLookup(t, AccPredictor), o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v; want context.Canceled", err)
	}
	part := filepath.Join(cache, "acc_predictor.pth.part")
	if st, err := os.Stat(part); err != nil || st.Size() != size/2 {
		t.Fatalf("partial file after cancel: %v, %v", st, err)
	}
	srv.mu.Lock()
	srv.stallAfter = false
	srv.mu.Unlock()
	if _, err := Fetch(context.Background(), mustLookup(t, AccPredictor), srv.opts(cache)); err != nil {
		t.Fatal(err)
	}
	if log := srv.log(); log[len(log)-1].status != 206 {
		t.Errorf("the fetch after cancel did not resume: %+v", log)
	}
}

// A cached file changed behind our back is verified again and replaced.
func TestTamperedCacheIsRefetched(t *testing.T) {
	files := upstreamFiles(t, false)
	srv := newFileServer(t, files)
	cache := t.TempDir()
	it := mustLookup(t, AccPredictor)
	paths, err := Fetch(context.Background(), it, srv.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(paths[0], []byte("not a predictor"), 0o644)
	before := len(srv.log())
	if _, err := Fetch(context.Background(), it, srv.opts(cache)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(paths[0]); !bytes.Equal(got, files["ofa/acc_predictor.pth"]) {
		t.Error("tampered file was not replaced")
	}
	if len(srv.log()) == before {
		t.Error("tampered file was reused")
	}
}

func TestStatus(t *testing.T) {
	files := upstreamFiles(t, false)
	srv := newFileServer(t, files)
	cache := t.TempDir()
	o := srv.opts(cache)
	lut := mustLookup(t, LUTNote10)
	st, err := Status(lut, o)
	if err != nil || len(st) != 5 || st[0].Cached {
		t.Fatalf("empty cache: %+v, %v", st, err)
	}
	if _, err := Fetch(context.Background(), lut, o); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cache, "acc_predictor.pth.part"), []byte("abc"), 0o644)
	st, _ = Status(lut, o)
	for _, s := range st {
		if !s.Cached || s.Size != s.File.Size || s.GitSHA1 != s.File.GitSHA1 || s.Source != srv.URL+"/"+s.File.URLPath {
			t.Errorf("%+v; want cached", s)
		}
	}
	pst, _ := Status(mustLookup(t, AccPredictor), o)
	if pst[0].Cached || pst[0].Partial != 3 {
		t.Errorf("%+v; want a 3-byte partial download", pst[0])
	}
}

func TestImport(t *testing.T) {
	src := upstreamDir(t)
	ctx := context.Background()

	t.Run("single file", func(t *testing.T) {
		cache := t.TempDir()
		o := Options{CacheDir: cache, Offline: true}
		paths, err := Import(ctx, mustLookup(t, SupernetW10), filepath.Join(src, "ofa_mbv3_d234_e346_k357_w1.0"), o)
		if err != nil || len(paths) != 1 {
			t.Fatalf("%v, %v", paths, err)
		}
		if got, err := Fetch(ctx, mustLookup(t, SupernetW10), o); err != nil || got[0] != paths[0] {
			t.Errorf("offline fetch after import: %v, %v", got, err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		cache := t.TempDir()
		o := Options{CacheDir: cache, Offline: true}
		if _, err := Import(ctx, mustLookup(t, LUTNote10), src, o); err != nil {
			t.Fatal(err)
		}
		if got, err := Fetch(ctx, mustLookup(t, LUTNote10), o); err != nil || len(got) != 5 {
			t.Errorf("offline fetch after import: %v, %v", got, err)
		}
	})
	t.Run("one of several by name", func(t *testing.T) {
		cache := t.TempDir()
		o := Options{CacheDir: cache, Offline: true}
		paths, err := Import(ctx, mustLookup(t, LUTNote10), filepath.Join(src, "208_lookup_table.yaml"), o)
		if err != nil || len(paths) != 1 || filepath.Base(paths[0]) != "208_lookup_table.yaml" {
			t.Fatalf("%v, %v", paths, err)
		}
	})
	t.Run("unknown name among several", func(t *testing.T) {
		_, err := Import(ctx, mustLookup(t, LUTNote10), filepath.Join(src, "acc_predictor.pth"), Options{CacheDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "160_lookup_table.yaml") {
			t.Errorf("got %v; want an error naming the expected files", err)
		}
	})
	t.Run("wrong file", func(t *testing.T) {
		cache := t.TempDir()
		_, err := Import(ctx, mustLookup(t, AccPredictor), filepath.Join(src, "160_lookup_table.yaml"), Options{CacheDir: cache})
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Check != "size" {
			t.Fatalf("got %v; want a size VerifyError", err)
		}
		if ents, _ := os.ReadDir(cache); len(ents) != 0 {
			t.Errorf("import of a bad file left %d entries in the cache", len(ents))
		}
	})
	t.Run("wrong width", func(t *testing.T) {
		_, err := Import(ctx, mustLookup(t, SupernetW12), filepath.Join(src, "ofa_mbv3_d234_e346_k357_w1.0"), Options{CacheDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "not width 1.2") {
			t.Errorf("got %v; want a width error", err)
		}
	})
	t.Run("missing source", func(t *testing.T) {
		_, err := Import(ctx, mustLookup(t, AccPredictor), filepath.Join(src, "nope"), Options{CacheDir: t.TempDir()})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v", err)
		}
	})
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, _ := DefaultCacheDir(); d != "/x/cache/edgefit/ofa" {
		t.Errorf("with XDG_CACHE_HOME: %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := DefaultCacheDir(); d != "/home/u/.cache/edgefit/ofa" {
		t.Errorf("without XDG_CACHE_HOME: %s", d)
	}
}

func TestBaseURL(t *testing.T) {
	t.Setenv(BaseURLEnv, "")
	var o Options
	if got := o.URL(mustLookup(t, AccPredictor).Files[0]); got != DefaultBaseURL+"ofa/acc_predictor.pth" {
		t.Errorf("default URL %s", got)
	}
	t.Setenv(BaseURLEnv, "http://mirror.example/files")
	if got := o.URL(mustLookup(t, AccPredictor).Files[0]); got != "http://mirror.example/files/ofa/acc_predictor.pth" {
		t.Errorf("URL from the environment %s", got)
	}
	o.BaseURL = "http://other/"
	if got := o.BaseURLOf(); got != "http://other/" {
		t.Errorf("explicit base URL %s", got)
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, u := range []string{"ftp://mirror/", "mirror.example/files", "http://"} {
		_, err := Fetch(context.Background(), mustLookup(t, AccPredictor), Options{CacheDir: t.TempDir(), BaseURL: u})
		if err == nil || !strings.Contains(err.Error(), "not an http") {
			t.Errorf("base URL %q: got %v", u, err)
		}
	}
}

// A supernet copied into the cache by hand (no verification record) is
// checked by structure on first use; a wrong one is removed.
func TestHandPlacedSupernet(t *testing.T) {
	files := upstreamFiles(t, true)
	data := files["ofa/ofa_nets/ofa_mbv3_d234_e346_k357_w1.0"]
	cache := t.TempDir()
	o := Options{CacheDir: cache, Offline: true}
	good := filepath.Join(cache, "ofa_mbv3_d234_e346_k357_w1.0.pth")
	bad := filepath.Join(cache, "ofa_mbv3_d234_e346_k357_w1.2.pth")
	os.WriteFile(good, data, 0o644)
	os.WriteFile(bad, data, 0o644)

	if st, _ := Status(mustLookup(t, SupernetW10), o); st[0].Cached {
		t.Error("an unverified supernet is listed as cached")
	}
	if _, err := Fetch(context.Background(), mustLookup(t, SupernetW10), o); err != nil {
		t.Fatalf("hand-placed w1.0: %v", err)
	}
	if sc, err := readSidecar(good); err != nil || sc.Size != int64(len(data)) {
		t.Errorf("no verification record after checking a hand-placed file: %v", err)
	}
	_, err := Fetch(context.Background(), mustLookup(t, SupernetW12), o)
	var nc *NotCachedError
	if !errors.As(err, &nc) {
		t.Fatalf("hand-placed w1.0 under the w1.2 name: %v; want NotCachedError", err)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("the wrong supernet was left in the cache")
	}
}

// Two fetches of the same item into one cache at once both succeed: the
// second waits for the first instead of writing the same .part file.
func TestConcurrentFetches(t *testing.T) {
	files := upstreamFiles(t, false)
	srv := newFileServer(t, files)
	cache := t.TempDir()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := Fetch(context.Background(), mustLookup(t, AccPredictor), srv.opts(cache))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(cache, "acc_predictor.pth")); !bytes.Equal(got, files["ofa/acc_predictor.pth"]) {
		t.Error("cached file differs after concurrent fetches")
	}
	if sent := srv.bytesSent(); sent > int64(len(files["ofa/acc_predictor.pth"])) {
		t.Errorf("server sent %d bytes: the file was downloaded twice", sent)
	}
}
