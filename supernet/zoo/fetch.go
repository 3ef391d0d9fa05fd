package zoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edgefit/edgefit/internal/atomicfile"
)

// Options says where the cache is and how to reach OFA's server. The zero
// value uses the default cache directory, OFA's server (or the mirror named
// by $EDGEFIT_OFA_BASE_URL) and an HTTP client with connect and stall
// timeouts.
type Options struct {
	// CacheDir holds the verified files; "" means [DefaultCacheDir].
	CacheDir string
	// BaseURL replaces [DefaultBaseURL] (a mirror, or a test server); ""
	// means $EDGEFIT_OFA_BASE_URL, or DefaultBaseURL when that is unset.
	BaseURL string
	// Offline forbids the network: only cached files are returned.
	Offline bool
	// HTTPClient does the downloads; nil means a client with connect,
	// TLS and response-header timeouts (but no overall limit, since a
	// supernet is large and links may be slow).
	HTTPClient *http.Client
	// Progress, when set, is called as bytes arrive with the bytes done
	// and the total known so far over all of the item's files (cached ones
	// included). It is not called when every file is cached. total may
	// grow as servers announce the sizes of files whose size OFA does not
	// publish.
	Progress func(done, total int64)
	// Attempts is how many times a file's download is tried before giving
	// up on a network error, a cut connection or a 5xx answer; each retry
	// resumes from the bytes already received. 0 means 3.
	Attempts int
	// StallTimeout aborts a download attempt that received nothing for
	// this long; 0 means one minute.
	StallTimeout time.Duration
	// Logger receives a line per download, resume and removed bad file;
	// nil means slog.Default().
	Logger *slog.Logger
}

// DefaultCacheDir returns $XDG_CACHE_HOME/edgefit/ofa, or
// ~/.cache/edgefit/ofa when XDG_CACHE_HOME is unset.
func DefaultCacheDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "edgefit", "ofa"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory: %w (set XDG_CACHE_HOME or pass a cache directory)", err)
	}
	return filepath.Join(home, ".cache", "edgefit", "ofa"), nil
}

func (o *Options) cacheDir() (string, error) {
	if o.CacheDir != "" {
		return o.CacheDir, nil
	}
	return DefaultCacheDir()
}

// BaseURLOf returns the base URL that o downloads from.
func (o *Options) BaseURLOf() string {
	u := o.BaseURL
	if u == "" {
		u = os.Getenv(BaseURLEnv)
	}
	if u == "" {
		u = DefaultBaseURL
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// checkBaseURL rejects base URLs that cannot work, before any attempt.
func checkBaseURL(u string) error {
	pu, err := url.Parse(u)
	if err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" {
		return nil
	}
	return fmt.Errorf("base URL %q (from the options or $%s) is not an http:// or https:// URL of a mirror of OFA's files", u, BaseURLEnv)
}

// URL returns where f is downloaded from under o.
func (o *Options) URL(f File) string { return o.BaseURLOf() + f.URLPath }

// Path returns where f lives in o's cache (whether or not it is there).
func (o *Options) Path(f File) (string, error) {
	dir, err := o.cacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(f.Name)), nil
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func (o *Options) client() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return defaultClient
}

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: time.Minute,
	ForceAttemptHTTP2:     true,
}}

// A NotCachedError says that a file is not in the cache and could not be
// downloaded: the options were offline (Err is nil) or the download
// failed (Err says why).
type NotCachedError struct {
	Item string // catalogue item
	File string // the file's name in the cache
	URL  string // where it is published
	Path string // where it belongs in the cache
	Err  error  // the download's error; nil when offline
}

func (e *NotCachedError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s is not in the cache (%s) and downloading is off; it is published at %s", e.Item, e.File, e.Path, e.URL)
	}
	return fmt.Sprintf("%s: %s is not in the cache (%s) and could not be downloaded: %v", e.Item, e.File, e.Path, e.Err)
}

func (e *NotCachedError) Unwrap() error { return e.Err }

// A DownloadError is a failed HTTP transfer.
type DownloadError struct {
	URL        string
	StatusCode int    // the HTTP status; 0 when no answer came
	Status     string // e.g. "404 Not Found"
	Partial    int64  // bytes kept in the .part file for the next attempt to resume from
	Err        error  // the transport error, when StatusCode is 0
}

func (e *DownloadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "download %s: ", e.URL)
	switch {
	case e.StatusCode == http.StatusNotFound:
		fmt.Fprintf(&b, "the server answered %s: check the URL (is the base URL a mirror of OFA's files?)", e.Status)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "the server answered %s", e.Status)
	default:
		fmt.Fprintf(&b, "%v", e.Err)
	}
	if e.Partial > 0 {
		fmt.Fprintf(&b, " (%d bytes kept; fetching again resumes from there)", e.Partial)
	}
	return b.String()
}

func (e *DownloadError) Unwrap() error { return e.Err }

// retryable reports whether trying again may help.
func (e *DownloadError) retryable() bool {
	switch {
	case e.StatusCode == 0:
		return !errors.Is(e.Err, context.Canceled) && !errors.Is(e.Err, context.DeadlineExceeded)
	case e.StatusCode >= 500, e.StatusCode == http.StatusTooManyRequests, e.StatusCode == http.StatusRequestTimeout:
		return true
	}
	return false
}

var errStalled = errors.New("stalled")

// Fetch returns the paths of item's files in the cache, in the order of
// item.Files, downloading and verifying those that are missing. A cached
// file is reused without the network when its size and hash still match
// what was verified. With opts.Offline, a missing file is a
// [*NotCachedError]; so is a failed download, wrapping the
// [*DownloadError]. A file that fails a check is removed and reported as a
// [*VerifyError]. When ctx is cancelled, the bytes received so far stay in
// NAME.part and the next Fetch resumes from them.
func Fetch(ctx context.Context, item Item, opts Options) ([]string, error) {
	if len(item.Files) == 0 {
		return nil, fmt.Errorf("fetch %s: the item has no files", item.Name)
	}
	if !opts.Offline {
		if err := checkBaseURL(opts.BaseURLOf()); err != nil {
			return nil, err
		}
	}
	p := &fetchProgress{fn: opts.Progress, sizes: make([]int64, len(item.Files)), done: make([]int64, len(item.Files))}
	for i, f := range item.Files {
		p.sizes[i] = f.Size
	}
	paths := make([]string, len(item.Files))
	for i, f := range item.Files {
		dest, err := opts.Path(f)
		if err != nil {
			return nil, err
		}
		p.cur = i
		if err := fetchFile(ctx, item.Name, f, dest, &opts, p); err != nil {
			return nil, err
		}
		// Count the file as done without a report: a fully cached item
		// reports no progress at all.
		if st, err := os.Stat(dest); err == nil {
			p.sizes[i], p.done[i] = st.Size(), st.Size()
		}
		paths[i] = dest
	}
	return paths, nil
}

// fetchFile makes dest hold a verified copy of f.
func fetchFile(ctx context.Context, item string, f File, dest string, opts *Options, p *fetchProgress) error {
	log := opts.logger().With("item", item, "file", f.Name)
	ok, err := reuseCached(item, f, dest, log)
	if err != nil || ok {
		return err
	}
	url := opts.URL(f)
	if opts.Offline {
		return &NotCachedError{Item: item, File: f.Name, URL: url, Path: dest}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("create the cache directory: %w", err)
	}
	unlock, err := lockFile(ctx, dest, log)
	if err != nil {
		return err
	}
	defer unlock()
	// Another process may have fetched it while we waited for the lock.
	if ok, err := reuseCached(item, f, dest, log); err != nil || ok {
		return err
	}

	part := dest + ".part"
	attempts := opts.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	for attempt := 1; ; attempt++ {
		err = download(ctx, f, url, part, opts, p, log)
		if err == nil {
			break
		}
		var (
			de *DownloadError
			ve *VerifyError
		)
		if errors.As(err, &ve) {
			ve.Item = item
			log.Error("the download is not OFA's file; removed it", "url", url, "err", err)
			return fmt.Errorf("%w (downloaded from %s; the file was removed)", err, url)
		}
		if ctx.Err() != nil || !errors.As(err, &de) || !de.retryable() || attempt >= attempts {
			if de != nil && ctx.Err() == nil {
				return &NotCachedError{Item: item, File: f.Name, URL: url, Path: dest, Err: err}
			}
			return err
		}
		wait := time.Duration(attempt) * 500 * time.Millisecond
		log.Warn("download failed, retrying", "url", url, "attempt", attempt, "of", attempts, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("download %s: %w (the bytes received are kept in %s; fetch again to resume)", url, ctx.Err(), part)
		case <-time.After(wait):
		}
	}

	size, sum, err := checkFile(item, f, part)
	if err != nil {
		os.Remove(part)
		var ve *VerifyError
		if errors.As(err, &ve) {
			log.Error("downloaded file failed verification and was removed", "url", url, "err", err)
			return fmt.Errorf("%w (downloaded from %s; the file was removed)", err, url)
		}
		return err
	}
	if err := os.Rename(part, dest); err != nil {
		return fmt.Errorf("place %s in the cache: %w", dest, err)
	}
	atomicfile.SyncDir(filepath.Dir(dest))
	log.Info("downloaded and verified", "url", url, "path", dest, "bytes", size)
	return writeSidecar(dest, &sidecar{Item: item, URL: url, Size: size, GitSHA1: sum, Verified: time.Now().UTC()})
}

// reuseCached reports whether dest holds a good copy of f. A cached file
// whose hash changed since it was verified (or that was placed by hand) is
// checked again in full; one that fails is removed so that it is fetched
// anew.
func reuseCached(item string, f File, dest string, log *slog.Logger) (bool, error) {
	if _, err := os.Stat(dest); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	ok, err := cachedOK(f, dest)
	if err != nil {
		return false, fmt.Errorf("read cached %s: %w", dest, err)
	}
	if ok {
		log.Debug("using the cached file", "path", dest)
		return true, nil
	}
	size, sum, err := checkFile(item, f, dest)
	if err != nil {
		var ve *VerifyError
		if !errors.As(err, &ve) {
			return false, err
		}
		log.Warn("the cached file failed verification; removed it to fetch it again", "path", dest, "err", err)
		os.Remove(dest)
		os.Remove(dest + sidecarSuffix)
		return false, nil
	}
	log.Info("verified a cached file", "path", dest)
	return true, writeSidecar(dest, &sidecar{Item: item, Size: size, GitSHA1: sum, Verified: time.Now().UTC()})
}

// download makes part hold the whole published file, resuming from the
// bytes already in it. It does not verify the content.
func download(ctx context.Context, f File, url, part string, opts *Options, p *fetchProgress, log *slog.Logger) error {
	for restarted := false; ; restarted = true {
		offset := int64(0)
		if st, err := os.Stat(part); err == nil {
			offset = st.Size()
		}
		if f.Size > 0 && offset > f.Size {
			log.Warn("the partial download is longer than the published file; starting over", "part", part)
			os.Remove(part)
			offset = 0
		}
		if f.Size > 0 && offset == f.Size {
			return nil
		}
		again, err := downloadFrom(ctx, f, url, part, offset, opts, p, log)
		if err != nil || !again {
			return err
		}
		if restarted {
			return &DownloadError{URL: url, Err: errors.New("the server does not answer range requests consistently")}
		}
	}
}

// downloadFrom does one GET from offset. It returns again=true when the
// .part was discarded and the transfer must start over.
func downloadFrom(ctx context.Context, f File, url, part string, offset int64, opts *Options, p *fetchProgress, log *slog.Logger) (again bool, err error) {
	stall := opts.StallTimeout
	if stall <= 0 {
		stall = time.Minute
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return false, &DownloadError{URL: url, Err: err}
	}
	// Ranges count bytes of the file itself, so no transparent gzip.
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		log.Info("resuming download", "url", url, "from", offset)
	} else {
		log.Info("downloading", "url", url)
	}
	resp, err := opts.client().Do(req)
	if err != nil {
		return false, transferError(ctx, rctx, url, part, offset, stall, err)
	}
	defer resp.Body.Close()

	total := int64(-1) // the file's length, when the server says
	flags := os.O_WRONLY | os.O_CREATE
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, t, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			log.Warn("the server sent a different range than asked; starting over", "url", url,
				"asked", offset, "content_range", resp.Header.Get("Content-Range"))
			os.Remove(part)
			return true, nil
		}
		total = t
		flags |= os.O_APPEND
	case http.StatusOK:
		if offset > 0 {
			log.Info("the server ignored the range request; downloading from the start", "url", url)
			offset = 0
		}
		total = resp.ContentLength
		flags |= os.O_TRUNC
	case http.StatusRequestedRangeNotSatisfiable:
		if _, t, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && t == offset {
			return false, nil // the .part already is the whole file
		}
		log.Warn("the server refused to resume; starting over", "url", url, "had", offset)
		os.Remove(part)
		return true, nil
	default:
		return false, &DownloadError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status, Partial: offset}
	}
	if f.Size > 0 && total >= 0 && total != f.Size {
		os.Remove(part)
		return false, &VerifyError{File: f.Name, Check: "size", Want: strconv.FormatInt(f.Size, 10) + " bytes",
			Got: strconv.FormatInt(total, 10) + " bytes announced by " + url}
	}
	if total > 0 {
		p.setTotal(total)
	}

	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", part, err)
	}
	var body io.Reader = resp.Body
	limit := int64(-1)
	if f.Size > 0 {
		limit = f.Size - offset
		// One byte more than allowed tells an overlong answer apart.
		body = io.LimitReader(body, limit+1)
	}
	w := &progressWriter{w: out, base: offset, p: p, watchdog: watchdog, stall: stall}
	p.setDone(offset)
	n, copyErr := io.Copy(w, body)
	// Keep what arrived, even on error: it is where the next attempt
	// resumes.
	syncErr := out.Sync()
	if cerr := out.Close(); syncErr == nil {
		syncErr = cerr
	}
	if copyErr != nil {
		return false, transferError(ctx, rctx, url, part, offset+n, stall, copyErr)
	}
	if syncErr != nil {
		return false, fmt.Errorf("write %s: %w", part, syncErr)
	}
	if limit >= 0 && n > limit {
		os.Remove(part)
		return false, &VerifyError{File: f.Name, Check: "size", Want: strconv.FormatInt(f.Size, 10) + " bytes",
			Got: "more from " + url}
	}
	return false, nil
}

// transferError explains a failed transfer: cancelled by the caller,
// stalled, or a network error.
func transferError(ctx, rctx context.Context, url, part string, have int64, stall time.Duration, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("download %s: %w (%d bytes kept in %s; fetch again to resume)", url, ctx.Err(), have, part)
	}
	if errors.Is(context.Cause(rctx), errStalled) {
		err = fmt.Errorf("no data for %v: the connection stalled", stall)
	}
	return &DownloadError{URL: url, Partial: have, Err: err}
}

// parseContentRange reads "bytes START-END/TOTAL" or "bytes */TOTAL"; total
// is -1 when given as "*".
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return 0, total, total >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || (total >= 0 && end >= total) {
		return 0, 0, false
	}
	return start, total, true
}

// progressWriter counts bytes for the progress callback and keeps the
// stall watchdog from firing while data flows.
type progressWriter struct {
	w        io.Writer
	base, n  int64
	p        *fetchProgress
	watchdog *time.Timer
	stall    time.Duration
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.watchdog.Reset(w.stall)
	n, err := w.w.Write(b)
	w.n += int64(n)
	w.p.setDone(w.base + w.n)
	return n, err
}

// fetchProgress sums progress over an item's files.
type fetchProgress struct {
	fn          func(done, total int64)
	sizes, done []int64 // per file; sizes[i] is 0 while unknown
	cur         int
}

func (p *fetchProgress) setTotal(n int64) { p.sizes[p.cur] = n }
func (p *fetchProgress) setDone(n int64) {
	p.done[p.cur] = n
	p.report()
}

func (p *fetchProgress) report() {
	if p.fn == nil {
		return
	}
	var done, total int64
	for i := range p.sizes {
		done += p.done[i]
		total += max(p.sizes[i], p.done[i])
	}
	p.fn(done, total)
}
