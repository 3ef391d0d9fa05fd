package dataset

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Image is one file of a dataset.
type Image struct {
	Path  string // the file, DIR joined with Rel
	Rel   string // path relative to DIR, '/'-separated
	Class string // class folder name; "" in an unlabelled set
	Label int    // class index; -1 in an unlabelled set
}

// Set is an ordered list of images.
type Set struct {
	Root    string   // the folder listed
	Images  []Image  // in ImageFolder order
	Classes []string // class folders in sorted order (labelled sets)
	// Labelling says how class folders became indices (labelled sets).
	Labelling Labelling
}

// Labelling names the rule that gave class folders their indices.
type Labelling string

// The labelling rules, in the order they are tried (see the package
// documentation).
const (
	LabelsFromFile    Labelling = "labels file"
	LabelsFromNumbers Labelling = "numeric folder names"
	LabelsFromSorted  Labelling = "sorted folder names"
)

// LabelOptions say how to label a class-folder tree.
type LabelOptions struct {
	// NumClasses is the model's number of classes (required).
	NumClasses int
	// LabelsFile, when set, names a file with one class-folder name per
	// line: line i (counting from 0) names class i.
	LabelsFile string
}

// Extensions that this package reads (compared ASCII-case-insensitively).
var readable = []string{".jpg", ".jpeg", ".png"}

// Extensions torchvision's ImageFolder also reads (IMG_EXTENSIONS) but this
// package does not: listing them is an error, since leaving them out would
// change which images form each batch compared with OFA's loader.
var unreadable = []string{".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// asciiLower lowers ASCII letters only. For these extensions it matches
// Python's str.lower().endswith() exactly (the only non-ASCII letters that
// Python lowers to ASCII, U+0130 and U+212A, turn into 'i' plus a combining
// mark and into 'k', which cannot complete any of the extensions).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func hasExt(name string, exts []string) bool {
	l := asciiLower(name)
	for _, e := range exts {
		if strings.HasSuffix(l, e) {
			return true
		}
	}
	return false
}

// pyLess orders strings as Python orders str values decoded from file
// names: by code point, with each byte of invalid UTF-8 read as the lone
// surrogate U+DC80..U+DCFF (Python's surrogateescape). For valid UTF-8 this
// is byte order.
func pyLess(a, b string) bool {
	for a != "" && b != "" {
		ra, na := pyRune(a)
		rb, nb := pyRune(b)
		if ra != rb {
			return ra < rb
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b != ""
}

func pyRune(s string) (rune, int) {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n <= 1 {
		return 0xDC00 + rune(s[0]), 1
	}
	return r, n
}

func pyCompare(a, b string) int {
	switch {
	case a == b:
		return 0
	case pyLess(a, b):
		return -1
	}
	return 1
}

// ListError reports a problem with the folder being listed.
type ListError struct {
	Dir  string
	What string // the problem
	Hint string // what to do
}

func (e *ListError) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("%s: %s", e.Dir, e.What)
	}
	return fmt.Sprintf("%s: %s: %s", e.Dir, e.What, e.Hint)
}

// checkDir refuses a path that is missing or not a folder.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return &ListError{Dir: dir, What: "no such folder", Hint: "check the path"}
	}
	if err != nil {
		return &ListError{Dir: dir, What: err.Error()}
	}
	if !st.IsDir() {
		return &ListError{Dir: dir, What: "not a folder", Hint: "give the folder that holds the images"}
	}
	return nil
}

type walkDir struct {
	rel   string // relative to the walk's top, '/'-separated ("" for top)
	files []string
}

// walk lists folder relTop of root in the order of Python's
// sorted(os.walk(top, followlinks=True)): folders ordered by their whole
// path string (the top folder first), files by name within each. It
// returns the readable images and the files ImageFolder would read that
// this package cannot, as paths relative to root.
func walk(root, relTop string) (images, unreadableFiles []string, err error) {
	var dirs []walkDir
	visiting := map[string]bool{}
	var descend func(rel string) error
	descend = func(rel string) error {
		abs := filepath.Join(root, filepath.FromSlash(relTop), filepath.FromSlash(rel))
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return err
		}
		if visiting[real] {
			return &ListError{Dir: abs, What: "a symbolic link loops back to a folder above it", Hint: "remove the link (torchvision would follow it forever)"}
		}
		visiting[real] = true
		defer delete(visiting, real)
		entries, err := os.ReadDir(abs)
		if err != nil {
			return err
		}
		d := walkDir{rel: rel}
		var subdirs []string
		for _, e := range entries {
			name := e.Name()
			if isFolder(abs, e) {
				subdirs = append(subdirs, name)
			} else {
				d.files = append(d.files, name)
			}
		}
		dirs = append(dirs, d)
		for _, s := range subdirs {
			if err := descend(joinRel(rel, s)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := descend(""); err != nil {
		return nil, nil, err
	}
	// Python compares the os.walk roots as whole strings.
	slices.SortFunc(dirs, func(a, b walkDir) int {
		return pyCompare(joinRel(relTop, a.rel), joinRel(relTop, b.rel))
	})
	for _, d := range dirs {
		slices.SortFunc(d.files, pyCompare)
		for _, f := range d.files {
			rel := joinRel(joinRel(relTop, d.rel), f)
			switch {
			case hasExt(f, readable):
				images = append(images, rel)
			case hasExt(f, unreadable):
				unreadableFiles = append(unreadableFiles, rel)
			}
		}
	}
	return images, unreadableFiles, nil
}

func joinRel(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "/" + b
}

// isFolder reports whether the entry e of dir is a folder or a symbolic
// link to one.
func isFolder(dir string, e os.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&os.ModeSymlink != 0 {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && st.IsDir()
	}
	return false
}

// subfolders returns the folders (or links to folders) directly in dir,
// sorted as Python sorts them, and the files beside them.
func subfolders(dir string) (folders, files []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if isFolder(dir, e) {
			folders = append(folders, e.Name())
		} else {
			files = append(files, e.Name())
		}
	}
	slices.SortFunc(folders, pyCompare)
	slices.SortFunc(files, pyCompare)
	return folders, files, nil
}

// unreadableError names files ImageFolder would read but this package
// cannot.
func unreadableError(dir string, files []string) error {
	return &ListError{Dir: dir,
		What: fmt.Sprintf("%d image files are in formats edgefit does not read (%s)", len(files), few(files, 5)),
		Hint: "convert them to JPEG or PNG, or move them out: leaving them out silently would change the batches compared with OFA's loader"}
}

// few lists up to n items and says how many more there are.
func few(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// ListLabelled lists a class-folder tree, DIR/<class>/..., in the order of
// torchvision 0.14's ImageFolder, and labels every image with the index of
// its class (see the package documentation for the labelling rules).
func ListLabelled(dir string, opts LabelOptions) (*Set, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if opts.NumClasses <= 0 {
		return nil, fmt.Errorf("list %s: the model's number of classes must be positive, got %d", dir, opts.NumClasses)
	}
	classes, files, err := subfolders(dir)
	if err != nil {
		return nil, &ListError{Dir: dir, What: err.Error()}
	}
	if len(classes) == 0 {
		what := "the folder is empty"
		if len(files) > 0 {
			what = fmt.Sprintf("no class folders (only %d files)", len(files))
		}
		return nil, &ListError{Dir: dir, What: what,
			Hint: "put the images in one folder per class (DIR/<class>/<image>), or calibrate without labels on an unlabelled folder"}
	}
	labels, how, err := labelClasses(dir, classes, opts)
	if err != nil {
		return nil, err
	}
	set := &Set{Root: dir, Classes: classes, Labelling: how}
	var empty, bad []string
	for _, c := range classes {
		imgs, unr, err := walk(dir, c)
		if err != nil {
			return nil, listErr(dir, err)
		}
		bad = append(bad, unr...)
		if len(imgs) == 0 && len(unr) == 0 {
			empty = append(empty, c)
		}
		for _, rel := range imgs {
			set.Images = append(set.Images, Image{Path: filepath.Join(dir, filepath.FromSlash(rel)), Rel: rel, Class: c, Label: labels[c]})
		}
	}
	if len(bad) > 0 {
		return nil, unreadableError(dir, bad)
	}
	if len(empty) > 0 {
		return nil, &ListError{Dir: dir,
			What: fmt.Sprintf("%d class folders hold no .jpg, .jpeg or .png image (%s)", len(empty), few(empty, 5)),
			Hint: "add images to them or remove them (torchvision's ImageFolder refuses empty classes too)"}
	}
	return set, nil
}

func listErr(dir string, err error) error {
	var le *ListError
	if errors.As(err, &le) {
		return err
	}
	return &ListError{Dir: dir, What: err.Error()}
}

// ListUnlabelled lists every readable image below dir: the images directly
// in dir first (sorted by name), then each subfolder in sorted order, each
// walked as ImageFolder walks a class folder. Labels are -1.
func ListUnlabelled(dir string) (*Set, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	folders, files, err := subfolders(dir)
	if err != nil {
		return nil, &ListError{Dir: dir, What: err.Error()}
	}
	if len(folders) == 0 && len(files) == 0 {
		return nil, &ListError{Dir: dir, What: "the folder is empty", Hint: "give a folder with .jpg, .jpeg or .png images"}
	}
	set := &Set{Root: dir}
	var bad []string
	add := func(rel string) {
		set.Images = append(set.Images, Image{Path: filepath.Join(dir, filepath.FromSlash(rel)), Rel: rel, Label: -1})
	}
	for _, f := range files {
		switch {
		case hasExt(f, readable):
			add(f)
		case hasExt(f, unreadable):
			bad = append(bad, f)
		}
	}
	for _, sub := range folders {
		imgs, unr, err := walk(dir, sub)
		if err != nil {
			return nil, listErr(dir, err)
		}
		bad = append(bad, unr...)
		for _, rel := range imgs {
			add(rel)
		}
	}
	if len(bad) > 0 {
		return nil, unreadableError(dir, bad)
	}
	if len(set.Images) == 0 {
		return nil, &ListError{Dir: dir, What: "no .jpg, .jpeg or .png image in the folder or below it", Hint: "give a folder with images"}
	}
	return set, nil
}

// labelClasses assigns each class folder its index.
func labelClasses(dir string, classes []string, opts LabelOptions) (map[string]int, Labelling, error) {
	labels := make(map[string]int, len(classes))
	if opts.LabelsFile != "" {
		names, err := readLabels(opts.LabelsFile, opts.NumClasses)
		if err != nil {
			return nil, "", err
		}
		var unknown []string
		for _, c := range classes {
			i, ok := names[c]
			if !ok {
				unknown = append(unknown, c)
				continue
			}
			labels[c] = i
		}
		if len(unknown) > 0 {
			return nil, "", &ListError{Dir: dir,
				What: fmt.Sprintf("%d class folders are not named in %s (%s)", len(unknown), opts.LabelsFile, few(unknown, 5)),
				Hint: "add them to the labels file (one folder name per line, line i for class i) or remove the folders"}
		}
		return labels, LabelsFromFile, nil
	}
	if numeric(classes) {
		byIndex := map[int]string{}
		var tooBig []string
		for _, c := range classes {
			i, _ := strconv.Atoi(c)
			if prev, dup := byIndex[i]; dup {
				return nil, "", &ListError{Dir: dir,
					What: fmt.Sprintf("class folders %q and %q both name class %d", prev, c, i),
					Hint: "rename one of them"}
			}
			byIndex[i] = c
			if i >= opts.NumClasses {
				tooBig = append(tooBig, c)
			}
			labels[c] = i
		}
		if len(tooBig) > 0 {
			return nil, "", &ListError{Dir: dir,
				What: fmt.Sprintf("%d numeric class folders are not below the model's %d classes (%s)", len(tooBig), opts.NumClasses, few(tooBig, 5)),
				Hint: fmt.Sprintf("numeric folder names are class indices 0..%d", opts.NumClasses-1)}
		}
		return labels, LabelsFromNumbers, nil
	}
	if len(classes) == opts.NumClasses {
		for i, c := range classes {
			labels[c] = i
		}
		return labels, LabelsFromSorted, nil
	}
	return nil, "", &ListError{Dir: dir,
		What: fmt.Sprintf("cannot tell the class index of its %d class folders (%s) for a model of %d classes", len(classes), few(classes, 4), opts.NumClasses),
		Hint: fmt.Sprintf("name the folders by class index (0..%d), pass --labels FILE with one folder name per line in class order, or give folders for all %d classes (they are then indexed in sorted order)",
			opts.NumClasses-1, opts.NumClasses)}
}

// numeric reports whether every name is a non-negative decimal integer
// (ASCII digits only, leading zeros allowed, at most 9 digits).
func numeric(names []string) bool {
	for _, n := range names {
		if n == "" || len(n) > 9 {
			return false
		}
		for i := 0; i < len(n); i++ {
			if n[i] < '0' || n[i] > '9' {
				return false
			}
		}
	}
	return true
}

// readLabels reads a labels file: one class-folder name per line, line i
// naming class i. Trailing blank lines are ignored; a "\r" before the
// newline is dropped.
func readLabels(path string, numClasses int) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read labels file: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels file %s: %w", path, err)
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("labels file %s is empty: write one class-folder name per line, line i for class i", path)
	}
	names := make(map[string]int, len(lines))
	var dups []string
	for i, l := range lines {
		if l == "" {
			return nil, fmt.Errorf("labels file %s: line %d is blank: every line up to the last names a class", path, i+1)
		}
		if prev, ok := names[l]; ok {
			dups = append(dups, fmt.Sprintf("%q on lines %d and %d", l, prev+1, i+1))
			continue
		}
		names[l] = i
	}
	if len(dups) > 0 {
		return nil, fmt.Errorf("labels file %s names a class twice: %s: each line must name a different folder", path, few(dups, 3))
	}
	if len(lines) != numClasses {
		return nil, fmt.Errorf("labels file %s has %d names but the model has %d classes: give one line per class", path, len(lines), numClasses)
	}
	return names, nil
}

// Limit returns the set cut to its first n images. It refuses n <= 0.
func (s *Set) Limit(n int) (*Set, error) {
	if n <= 0 {
		return nil, fmt.Errorf("the number of images must be positive, got %d", n)
	}
	c := *s
	if n < len(c.Images) {
		c.Images = c.Images[:n:n]
	}
	return &c, nil
}

// Digest returns the SHA-256 (hex) of the set's ordered list of relative
// paths, each followed by "\n": it identifies the images and their order.
func (s *Set) Digest() string {
	return Digest(s.Images)
}

// Digest is the digest of a list of images (see Set.Digest).
func Digest(images []Image) string {
	h := sha256.New()
	for _, im := range images {
		h.Write([]byte(im.Rel))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
