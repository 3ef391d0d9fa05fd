package agent

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/devices"
)

// CacheEntry is one file set of the agent's cache on a device: a directory
// named after the SHA-256 of what it holds (an agent build or an ONNX
// Runtime library).
type CacheEntry struct {
	Path      string `json:"path"`
	SizeBytes int64  `json:"size_bytes"`
}

// cacheEntryName matches the directories [Deploy] creates: the first 32
// hex digits of a file's SHA-256.
var cacheEntryName = regexp.MustCompile(`^[0-9a-f]{32}$`)

// listCacheScript prints "BYTES NAME" for every directory in $1, counting
// the bytes of the files in it (on the device, so only the counts travel).
const listCacheScript = `cd "$1" 2>/dev/null || exit 0
for d in *; do
  [ -d "$d" ] || continue
  printf '%s %s\n' "$(cat "$d"/* "$d"/.[!.]* 2>/dev/null | wc -c)" "$d"
done`

// CacheEntries lists the agent's cache on t (the directory [Deploy] pushes
// to: opts.CacheDir, else the one the package documentation names) and
// returns it with its entries. Only directories that Deploy names are
// listed, so a cache directory shared with other files (on this machine
// ~/.cache/edgefit also holds edgefit's own caches) keeps those.
func CacheEntries(ctx context.Context, t devices.Target, opts Options) (base string, entries []CacheEntry, err error) {
	if base, err = cacheBase(ctx, t, opts, nil); err != nil {
		return "", nil, err
	}
	res, err := t.Run(ctx, []string{"sh", "-c", listCacheScript, "sh", base}, devices.RunOptions{})
	if err != nil {
		return base, nil, fmt.Errorf("list the agent cache %s on %s: %w", base, t.Name(), err)
	}
	return base, parseCacheListing(base, string(res.Stdout)), nil
}

// parseCacheListing reads the "BYTES NAME" lines of listCacheScript,
// keeping the directories Deploy names.
func parseCacheListing(base, out string) []CacheEntry {
	var entries []CacheEntry
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !cacheEntryName.MatchString(f[1]) {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			continue
		}
		entries = append(entries, CacheEntry{Path: path.Join(base, f[1]), SizeBytes: n})
	}
	return entries
}

// RemoveCache removes entries (from [CacheEntries]) on t; the next Deploy
// pushes the agent and library again.
func RemoveCache(ctx context.Context, t devices.Target, entries []CacheEntry) error {
	if len(entries) == 0 {
		return nil
	}
	argv := []string{"rm", "-rf", "--"}
	for _, e := range entries {
		if !cacheEntryName.MatchString(path.Base(e.Path)) {
			return fmt.Errorf("remove %s on %s: not an agent cache entry", e.Path, t.Name())
		}
		argv = append(argv, e.Path)
	}
	if _, err := t.Run(ctx, argv, devices.RunOptions{}); err != nil {
		return fmt.Errorf("remove the agent cache on %s: %w", t.Name(), err)
	}
	return nil
}
