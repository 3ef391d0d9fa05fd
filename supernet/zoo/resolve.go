package zoo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A NotFetchedError says that a command was given a catalogue name (an
// item such as "ofa-mbv3-w1.0", or the name of one of its files, such as
// "ofa_mbv3_d234_e346_k357_w1.0") that is neither a file here nor in the
// fetch cache.
type NotFetchedError struct {
	Name     string   // what was given
	Item     string   // the catalogue item it names
	CacheDir string   // the cache that was looked in
	Missing  []string // the item's files the cache lacks
}

func (e *NotFetchedError) Error() string {
	return fmt.Sprintf("%s is not a file here, and OFA's %s is not in the fetch cache %s (it lacks %s): run 'edgefit fetch %s'",
		e.Name, e.Item, e.CacheDir, strings.Join(e.Missing, ", "), e.Item)
}

// Hint repeats what to do, with the way for machines offline.
func (e *NotFetchedError) Hint() string {
	return fmt.Sprintf("run 'edgefit fetch %s' to download it once (or 'edgefit fetch --from FILE %s' to place a copy obtained elsewhere); then the name works everywhere a file is taken", e.Item, e.Item)
}

// Resolve returns the path of what name stands for in a command that takes
// a file (a checkpoint, an accuracy predictor, lookup tables): name itself
// when such a file or directory exists, else, when name is a catalogue name
// (an item's name, such as "ofa-mbv3-w1.0", "acc-predictor" or
// "lut-note10", or a published file's name, such as
// "ofa_mbv3_d234_e346_k357_w1.0", "acc_predictor.pth" or "note10"), the
// item's verified copy in the cache of opts: its file, or for an item of
// several files the directory holding them all. It never touches the
// network. A catalogue name whose files the cache lacks is a
// [*NotFetchedError]; any other name is returned as given, for the caller
// to report as a missing file.
func Resolve(name string, opts Options) (string, error) {
	if name == "" {
		return "", nil
	}
	if _, err := os.Stat(name); err == nil || !errors.Is(err, os.ErrNotExist) {
		return name, nil
	}
	it, ok := byName(name)
	if !ok {
		return name, nil
	}
	states, err := Status(it, opts)
	if err != nil {
		return "", err
	}
	var missing []string
	for _, s := range states {
		if !s.Cached {
			missing = append(missing, s.File.upstreamName())
		}
	}
	if len(missing) > 0 {
		dir, _ := opts.cacheDir()
		return "", &NotFetchedError{Name: name, Item: it.Name, CacheDir: dir, Missing: missing}
	}
	if len(states) == 1 {
		return states[0].Path, nil
	}
	dir := filepath.Dir(states[0].Path)
	for _, s := range states[1:] {
		if filepath.Dir(s.Path) != dir {
			return "", fmt.Errorf("%s: the files of %s are not in one directory of the cache", name, it.Name)
		}
	}
	return dir, nil
}

// byName finds the item that name stands for: an item's name, the
// published name of a single-file item's file or its name in the cache,
// or the directory that holds all files of an item on OFA's server.
func byName(name string) (Item, bool) {
	if it, err := Lookup(name); err == nil {
		return it, true
	}
	for _, it := range Catalogue() {
		if len(it.Files) == 1 && slices.Contains(candidateNames(it.Files[0]), name) {
			return it, true
		}
		if len(it.Files) > 1 && name == commonDir(it) {
			return it, true
		}
	}
	return Item{}, false
}

// commonDir returns the last directory of the URL path that all of item's
// files share ("note10" for OFA's Note10 tables), or "".
func commonDir(it Item) string {
	dir := filepath.Base(filepath.Dir(filepath.FromSlash(it.Files[0].URLPath)))
	for _, f := range it.Files[1:] {
		if filepath.Base(filepath.Dir(filepath.FromSlash(f.URLPath))) != dir {
			return ""
		}
	}
	return dir
}
