package zoo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgefit/edgefit/internal/atomicfile"
)

// Import places a copy of files obtained elsewhere into the cache, after
// the same checks as a download, and returns their cache paths. src is
// either one file or a directory. A file is taken as the item's only file,
// or, for an item with several files, as the one whose name it has (OFA's
// name, such as 160_lookup_table.yaml, or the cache's). A directory must
// hold every file of the item under one of those names. Nothing is placed
// unless every file passes.
func Import(ctx context.Context, item Item, src string, opts Options) ([]string, error) {
	pairs, err := matchImport(item, src)
	if err != nil {
		return nil, err
	}
	log := opts.logger().With("item", item.Name)
	// Verify everything first, so that a bad file leaves the cache as it
	// was.
	type staged struct {
		file      *atomicfile.File
		dest, src string
		size      int64
		sum       string
	}
	var ready []staged
	defer func() {
		for _, s := range ready {
			s.file.Discard()
		}
	}()
	for i, f := range item.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if pairs[i] == "" {
			continue
		}
		dest, err := opts.Path(f)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, fmt.Errorf("create the cache directory: %w", err)
		}
		file, err := stage(pairs[i], dest)
		if err != nil {
			return nil, err
		}
		ready = append(ready, staged{file: file, dest: dest, src: pairs[i]})
		size, sum, err := checkFile(item.Name, f, file.Name())
		if err != nil {
			return nil, fmt.Errorf("import %s: %w (nothing was placed in the cache)", pairs[i], err)
		}
		ready[len(ready)-1].size, ready[len(ready)-1].sum = size, sum
	}
	var paths []string
	for len(ready) > 0 {
		s := ready[0]
		if err := s.file.Commit(); err != nil {
			return nil, fmt.Errorf("place %s in the cache: %w", s.dest, err)
		}
		ready = ready[1:]
		abs, _ := filepath.Abs(s.src)
		if err := writeSidecar(s.dest, &sidecar{Item: item.Name, Source: abs, Size: s.size, GitSHA1: s.sum, Verified: time.Now().UTC()}); err != nil {
			return nil, err
		}
		os.Remove(s.dest + ".part") // an interrupted download of it is moot now
		log.Info("imported and verified", "from", s.src, "path", s.dest, "bytes", s.size)
		paths = append(paths, s.dest)
	}
	return paths, nil
}

// matchImport pairs item's files with source files: pairs[i] is the source
// of item.Files[i], "" for files not imported.
func matchImport(item Item, src string) ([]string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("import into %s: %w", item.Name, err)
	}
	pairs := make([]string, len(item.Files))
	if st.IsDir() {
		var missing []string
		for i, f := range item.Files {
			for _, n := range candidateNames(f) {
				if fi, err := os.Stat(filepath.Join(src, n)); err == nil && fi.Mode().IsRegular() {
					pairs[i] = filepath.Join(src, n)
					break
				}
			}
			if pairs[i] == "" {
				missing = append(missing, f.upstreamName())
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("import into %s: %s lacks %s: put every file of the item there under OFA's names",
				item.Name, src, strings.Join(missing, ", "))
		}
		return pairs, nil
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("import into %s: %s is not a regular file or a directory", item.Name, src)
	}
	if len(item.Files) == 1 {
		pairs[0] = src
		return pairs, nil
	}
	base := filepath.Base(src)
	var names []string
	for i, f := range item.Files {
		for _, n := range candidateNames(f) {
			if n == base {
				pairs[i] = src
				return pairs, nil
			}
		}
		names = append(names, f.upstreamName())
	}
	return nil, fmt.Errorf("import into %s: the item has %d files and %s is named like none of them (%s): rename it, or pass the directory that holds them",
		item.Name, len(item.Files), base, strings.Join(names, ", "))
}

func candidateNames(f File) []string {
	a, b := f.upstreamName(), filepath.Base(filepath.FromSlash(f.Name))
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// stage copies src next to dest under a temporary name, to be checked
// there and committed once every file of the item passed.
func stage(src, dest string) (*atomicfile.File, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", src, err)
	}
	defer in.Close()
	out, err := atomicfile.Create(dest)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Discard()
		return nil, fmt.Errorf("import %s: copy into the cache: %w", src, err)
	}
	return out, nil
}
