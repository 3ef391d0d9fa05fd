package zoo

import (
	"errors"
	"os"
)

// FileState says what the cache holds of one file.
type FileState struct {
	File File
	Path string // where the file is, or would be, in the cache
	// Cached is true when the file is there and still has the size (and,
	// where OFA's hash is known, the hash) it had when it was verified.
	// Supernets are not re-hashed here, so listing stays fast; Fetch
	// re-hashes before use.
	Cached  bool
	Size    int64 // bytes of the cached file; 0 when absent
	Partial int64 // bytes of an interrupted download waiting to resume
	// GitSHA1 is the cached file's git blob SHA-1 as verified, and Source
	// the URL it was downloaded from or the file it was imported from;
	// both "" when the file is not cached.
	GitSHA1 string
	Source  string
}

// Status reports the cache's state for each of item's files. It never
// touches the network.
func Status(item Item, opts Options) ([]FileState, error) {
	out := make([]FileState, len(item.Files))
	for i, f := range item.Files {
		dest, err := opts.Path(f)
		if err != nil {
			return nil, err
		}
		s := FileState{File: f, Path: dest}
		if st, err := os.Stat(dest + ".part"); err == nil {
			s.Partial = st.Size()
		}
		st, err := os.Stat(dest)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			s.Size = st.Size()
			sc, scErr := readSidecar(dest)
			if f.GitSHA1 != "" {
				s.Cached, _ = cachedOK(f, dest)
			} else if scErr == nil {
				s.Cached = sc.Size == st.Size()
			}
			if s.Cached {
				s.GitSHA1 = f.GitSHA1
				if scErr == nil {
					s.GitSHA1 = sc.GitSHA1
					s.Source = sc.URL + sc.Source
				}
			}
		}
		out[i] = s
	}
	return out, nil
}
