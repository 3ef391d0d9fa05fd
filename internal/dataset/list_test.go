package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// needPeer skips a test that lacks a peer, or fails it under
// EDGEFIT_TEST_STRICT=1 (as CI runs).
func needPeer(t *testing.T, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s is not available (%v)", what, err)
	if os.Getenv("EDGEFIT_TEST_STRICT") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// tinyJPEG and tinyPNG are real images of the given size.
func tinyJPEG(t testing.TB, w, h int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.RGBA{uint8(x * 40), uint8(y * 30), uint8(x * y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tinyPNG(t testing.TB, w, h int) []byte {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// makeTree creates files (paths relative to root, '/'-separated); names
// ending in '/' are folders, "name -> target" a symbolic link.
func makeTree(t testing.TB, root string, entries []string) {
	t.Helper()
	for _, e := range entries {
		if name, target, ok := strings.Cut(e, " -> "); ok {
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(e))
		if strings.HasSuffix(e, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte("not an image")
		switch l := strings.ToLower(e); {
		case strings.HasSuffix(l, ".jpg") || strings.HasSuffix(l, ".jpeg"):
			data = tinyJPEG(t, 5+len(e)%7, 3+len(e)%5)
		case strings.HasSuffix(l, ".png"):
			data = tinyPNG(t, 4+len(e)%5, 6+len(e)%3)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// trickyTree is a class-folder tree whose ImageFolder order is not a plain
// depth-first walk.
var trickyTree = []string{
	"a/x.jpg", "a/X.JPG", "a/y.Png", "a/z.jpeg", "a/notes.txt", "a/.DS_Store", "a/.jpg",
	"a/sub/1.jpg", "a/sub-x/2.jpg", "a/sub.x/3.jpg", "a/sub/deeper/4.jpg", "a/sub b/5.png",
	"a b/1.jpg", "a-b/1.jpg", "a.b/1.jpg", "a_b/1.jpg", "A/1.jpg", "b/2.JPEG", "b/10.jpg", "b/1.jpg",
	"é/1.jpg", "z/1.jpg",
	"root-file.jpg",
}

// wantTricky is the order worked out by hand from Python's rules: classes
// by code point (A < a < "a b" < a-b < a.b < a_b < b < z < é), each class's
// folders by whole path (a, a/sub, "a/sub b", a/sub-x, a/sub.x,
// a/sub/deeper), files by code point.
var wantTricky = []string{
	"A/1.jpg",
	"a/.jpg", "a/X.JPG", "a/x.jpg", "a/y.Png", "a/z.jpeg",
	"a/sub/1.jpg", "a/sub b/5.png", "a/sub-x/2.jpg", "a/sub.x/3.jpg", "a/sub/deeper/4.jpg",
	"a b/1.jpg", "a-b/1.jpg", "a.b/1.jpg", "a_b/1.jpg",
	"b/1.jpg", "b/10.jpg", "b/2.JPEG",
	"z/1.jpg", "é/1.jpg",
}

func rels(s *Set) []string {
	var out []string
	for _, im := range s.Images {
		out = append(out, im.Rel)
	}
	return out
}

func TestListLabelledOrder(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, trickyTree)
	set, err := ListLabelled(root, LabelOptions{NumClasses: 9})
	if err != nil {
		t.Fatal(err)
	}
	if got := rels(set); !slices.Equal(got, wantTricky) {
		t.Errorf("order\n got %q\nwant %q", got, wantTricky)
	}
	wantClasses := []string{"A", "a", "a b", "a-b", "a.b", "a_b", "b", "z", "é"}
	if !slices.Equal(set.Classes, wantClasses) || set.Labelling != LabelsFromSorted {
		t.Errorf("classes %q (%s), want %q by sorted order", set.Classes, set.Labelling, wantClasses)
	}
	for _, im := range set.Images {
		cls, _, _ := strings.Cut(im.Rel, "/")
		if im.Class != cls || im.Label != slices.Index(wantClasses, cls) {
			t.Errorf("%s: class %q label %d", im.Rel, im.Class, im.Label)
		}
		if im.Path != filepath.Join(root, filepath.FromSlash(im.Rel)) {
			t.Errorf("%s: path %s", im.Rel, im.Path)
		}
	}
}

func TestListFollowsLinks(t *testing.T) {
	outside := t.TempDir()
	makeTree(t, outside, []string{"ext/5.jpg", "ext/inner/6.jpg", "lone.jpg"})
	root := t.TempDir()
	makeTree(t, root, []string{
		"c/1.jpg",
		"c/ext -> " + filepath.Join(outside, "ext"),
		"c/ln.jpg -> " + filepath.Join(outside, "lone.jpg"),
		"linked -> " + filepath.Join(outside, "ext"),
	})
	set, err := ListLabelled(root, LabelOptions{NumClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"c/1.jpg", "c/ln.jpg", "c/ext/5.jpg", "c/ext/inner/6.jpg", "linked/5.jpg", "linked/inner/6.jpg"}
	if got := rels(set); !slices.Equal(got, want) {
		t.Errorf("order\n got %q\nwant %q", got, want)
	}

	loop := t.TempDir()
	makeTree(t, loop, []string{"c/1.jpg", "c/back -> .."})
	if _, err := ListLabelled(loop, LabelOptions{NumClasses: 1}); err == nil || !strings.Contains(err.Error(), "loops back") {
		t.Errorf("a looping link: %v", err)
	}
}

// TestListMatchesImageFolder compares the order with torchvision's own
// ImageFolder functions when they are installed, else with the same rules
// written in Python.
func TestListMatchesImageFolder(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		py, err = exec.LookPath("python3")
	}
	if err != nil {
		needPeer(t, "python3 (apt-get install python3)", err)
	}
	root := t.TempDir()
	makeTree(t, root, append(slices.Clone(trickyTree), "a/sub/deeper/Z.PNG", "b/sub/x.jpeg", "b/sub0/y.jpg",
		"b/sub/0.png", "a b/c d/e.jpg", "a b/c-d/e.jpg", "a b/c/d.jpg", "\xff-invalid/1.jpg", "é/\xe9x.jpg"))
	script := `
import json, os, sys
root = sys.argv[1]
try:
    from torchvision.datasets.folder import find_classes, make_dataset, IMG_EXTENSIONS
    classes, idx = find_classes(root)
    out = [os.path.relpath(p, root) for p, _ in make_dataset(root, idx, extensions=IMG_EXTENSIONS)]
    how = "torchvision"
except ImportError:
    exts = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    out = []
    for c in classes:
        for r, _, fs in sorted(os.walk(os.path.join(root, c), followlinks=True)):
            for f in sorted(fs):
                if f.lower().endswith(exts):
                    out.append(os.path.relpath(os.path.join(r, f), root))
    how = "python"
sys.stdout.write(json.dumps({"how": how, "files": [os.fsencode(p).hex() for p in out]}))
`
	cmd := exec.Command(py, "-c", script, root)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var res struct {
		How   string
		Files []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, h := range res.Files {
		var b []byte
		if _, err := fmt.Sscanf(h, "%x", &b); err != nil && h != "" {
			t.Fatal(err)
		}
		want = append(want, string(b))
	}
	set, err := ListLabelled(root, LabelOptions{NumClasses: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := rels(set); !slices.Equal(got, want) {
		t.Errorf("order differs from %s's ImageFolder\n got %q\nwant %q", res.How, got, want)
	}
	t.Logf("%d files in the same order as %s", len(want), res.How)
}

func TestListUnlabelled(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, trickyTree)
	set, err := ListUnlabelled(root)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"root-file.jpg"}, wantTricky...)
	if got := rels(set); !slices.Equal(got, want) {
		t.Errorf("order\n got %q\nwant %q", got, want)
	}
	for _, im := range set.Images {
		if im.Label != -1 || im.Class != "" {
			t.Errorf("%s labelled %d %q", im.Rel, im.Label, im.Class)
		}
	}
}

func TestLabels(t *testing.T) {
	labelsFile := func(t *testing.T, content string) string {
		p := filepath.Join(t.TempDir(), "labels.txt")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("numeric folders are indices", func(t *testing.T) {
		root := t.TempDir()
		makeTree(t, root, []string{"0/a.jpg", "2/a.jpg", "10/a.jpg", "007/a.jpg"})
		set, err := ListLabelled(root, LabelOptions{NumClasses: 11})
		if err != nil {
			t.Fatal(err)
		}
		// Order stays ImageFolder's (sorted names); labels are the numbers.
		got := map[string]int{}
		for _, im := range set.Images {
			got[im.Rel] = im.Label
		}
		want := map[string]int{"0/a.jpg": 0, "007/a.jpg": 7, "10/a.jpg": 10, "2/a.jpg": 2}
		if fmt.Sprint(got) != fmt.Sprint(want) || !slices.Equal(rels(set), []string{"0/a.jpg", "007/a.jpg", "10/a.jpg", "2/a.jpg"}) {
			t.Errorf("labels %v order %q", got, rels(set))
		}
		if set.Labelling != LabelsFromNumbers {
			t.Errorf("labelling %s", set.Labelling)
		}
	})
	t.Run("labels file wins over numbers", func(t *testing.T) {
		root := t.TempDir()
		makeTree(t, root, []string{"0/a.jpg", "1/a.jpg"})
		set, err := ListLabelled(root, LabelOptions{NumClasses: 3, LabelsFile: labelsFile(t, "1\r\nx\n0\n\n\n")})
		if err != nil {
			t.Fatal(err)
		}
		if set.Images[0].Label != 2 || set.Images[1].Label != 0 || set.Labelling != LabelsFromFile {
			t.Errorf("labels %d %d (%s)", set.Images[0].Label, set.Images[1].Label, set.Labelling)
		}
	})
	t.Run("labels file names folders", func(t *testing.T) {
		root := t.TempDir()
		makeTree(t, root, []string{"n01/a.jpg", "n02/b.jpg"})
		set, err := ListLabelled(root, LabelOptions{NumClasses: 4, LabelsFile: labelsFile(t, "n00\nn02\nn03\nn01")})
		if err != nil {
			t.Fatal(err)
		}
		if set.Images[0].Label != 3 || set.Images[1].Label != 1 {
			t.Errorf("labels %d %d", set.Images[0].Label, set.Images[1].Label)
		}
	})
	t.Run("sorted when all classes are there", func(t *testing.T) {
		root := t.TempDir()
		makeTree(t, root, []string{"dog/a.jpg", "cat/a.jpg", "Bird/a.jpg"})
		set, err := ListLabelled(root, LabelOptions{NumClasses: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range set.Images {
			want := map[string]int{"Bird": 0, "cat": 1, "dog": 2}[im.Class]
			if im.Label != want {
				t.Errorf("%s: label %d, want %d", im.Rel, im.Label, want)
			}
		}
	})

	errCases := []struct {
		name    string
		tree    []string
		opts    LabelOptions
		labels  string
		wantErr []string
	}{
		{"number too large", []string{"0/a.jpg", "1000/a.jpg"}, LabelOptions{NumClasses: 1000}, "",
			[]string{"1 numeric class folders are not below the model's 1000 classes (1000)", "0..999"}},
		{"two folders one number", []string{"1/a.jpg", "01/a.jpg"}, LabelOptions{NumClasses: 5}, "",
			[]string{`class folders "01" and "1" both name class 1`, "rename one of them"}},
		{"cannot tell", []string{"cat/a.jpg", "dog/a.jpg", "emu/a.jpg", "fox/a.jpg", "gnu/a.jpg"}, LabelOptions{NumClasses: 1000}, "",
			[]string{"its 5 class folders (cat, dog, emu, fox and 1 more) for a model of 1000 classes", "name the folders by class index (0..999)", "--labels FILE", "all 1000 classes"}},
		{"folder not in labels", []string{"cat/a.jpg", "dog/a.jpg"}, LabelOptions{NumClasses: 2}, "cat\nemu\n",
			[]string{"1 class folders are not named in", "(dog)", "add them to the labels file"}},
		{"duplicate label", []string{"cat/a.jpg"}, LabelOptions{NumClasses: 3}, "cat\ndog\ncat\n",
			[]string{`names a class twice: "cat" on lines 1 and 3`}},
		{"blank line inside", []string{"cat/a.jpg"}, LabelOptions{NumClasses: 3}, "cat\n\ndog\n",
			[]string{"line 2 is blank"}},
		{"wrong count", []string{"cat/a.jpg"}, LabelOptions{NumClasses: 1000}, "cat\ndog\n",
			[]string{"has 2 names but the model has 1000 classes"}},
		{"empty labels", []string{"cat/a.jpg"}, LabelOptions{NumClasses: 1000}, "\n\n",
			[]string{"is empty"}},
		{"empty class", []string{"cat/a.jpg", "dog/notes.txt", "emu/"}, LabelOptions{NumClasses: 3}, "",
			[]string{"2 class folders hold no .jpg, .jpeg or .png image (dog, emu)", "ImageFolder refuses empty classes"}},
		{"unreadable format", []string{"cat/a.jpg", "cat/b.BMP", "dog/c.webp", "dog/d.tiff"}, LabelOptions{NumClasses: 2}, "",
			[]string{"3 image files are in formats edgefit does not read (cat/b.BMP, dog/c.webp, dog/d.tiff)", "convert them to JPEG or PNG"}},
		{"no class folders", []string{"a.jpg", "b.jpg"}, LabelOptions{NumClasses: 2}, "",
			[]string{"no class folders (only 2 files)", "DIR/<class>/<image>"}},
		{"empty folder", []string{}, LabelOptions{NumClasses: 2}, "",
			[]string{"the folder is empty"}},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			makeTree(t, root, c.tree)
			opts := c.opts
			if c.labels != "" {
				opts.LabelsFile = labelsFile(t, c.labels)
			}
			_, err := ListLabelled(root, opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestListErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.jpg")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	noImages := t.TempDir()
	makeTree(t, noImages, []string{"readme.txt", "sub/notes.md"})
	emptyDir := t.TempDir()
	cases := []struct {
		name string
		fn   func() error
		want []string
	}{
		{"missing", func() error { _, err := ListLabelled("/nonexistent/calib", LabelOptions{NumClasses: 1}); return err },
			[]string{"/nonexistent/calib: no such folder: check the path"}},
		{"missing unlabelled", func() error { _, err := ListUnlabelled("/nonexistent/calib"); return err },
			[]string{"no such folder"}},
		{"a file", func() error { _, err := ListUnlabelled(file); return err },
			[]string{"f.jpg: not a folder: give the folder that holds the images"}},
		{"no images", func() error { _, err := ListUnlabelled(noImages); return err },
			[]string{"no .jpg, .jpeg or .png image in the folder or below it"}},
		{"empty", func() error { _, err := ListUnlabelled(emptyDir); return err },
			[]string{"the folder is empty"}},
		{"no classes", func() error { _, err := ListLabelled(emptyDir, LabelOptions{}); return err },
			[]string{"number of classes must be positive"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.fn()
			if err == nil {
				t.Fatal("no error")
			}
			var le *ListError
			if c.name != "no classes" && !errors.As(err, &le) {
				t.Errorf("%T is not a *ListError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestPyLess(t *testing.T) {
	// Python: sorted(["b", "a", "B", "é", "z", "\udcff", "a\x00", "\U0001F600"])
	in := []string{"b", "a", "B", "é", "z", "\xff", "a\x00", "😀"}
	want := []string{"B", "a", "a\x00", "b", "z", "é", "\xff", "😀"}
	slices.SortFunc(in, pyCompare)
	if !slices.Equal(in, want) {
		t.Errorf("got %q want %q", in, want)
	}
}

func TestLimitAndDigest(t *testing.T) {
	set := &Set{Images: []Image{{Rel: "a/x.jpg"}, {Rel: "b/y.png"}, {Rel: "c/z.png"}}}
	two, err := set.Limit(2)
	if err != nil {
		t.Fatal(err)
	}
	// printf 'a/x.jpg\nb/y.png\n' | sha256sum
	if d := two.Digest(); d != "886d6fb399e1658677c0168aac9271403fb315f25c0e2d7bd790aee68a320ee0" {
		t.Errorf("digest %s", d)
	}
	if len(set.Images) != 3 {
		t.Error("Limit changed its receiver")
	}
	all, _ := set.Limit(2000)
	if len(all.Images) != 3 {
		t.Errorf("limit above the count kept %d", len(all.Images))
	}
	for _, n := range []int{0, -5} {
		if _, err := set.Limit(n); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("Limit(%d): %v", n, err)
		}
	}
	if d := Digest(nil); d != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty digest %s", d)
	}
}
