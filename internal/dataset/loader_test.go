package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgefit/edgefit/internal/imaging"
)

// pictures writes a varied folder: JPEGs at several qualities, PNGs in
// gray, paletted, 16-bit and RGBA modes, odd sizes in both orientations.
func pictures(t testing.TB, root string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		w, h := 7+(i*37)%120, 5+(i*53)%90
		if i%2 == 1 {
			w, h = h, w
		}
		rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				rgba.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y + i*10) % 256), uint8(200 + i%50)})
			}
		}
		if i%5 == 0 { // a shape
			for y := h / 4; y < h/2; y++ {
				for x := w / 3; x < 2*w/3; x++ {
					rgba.SetNRGBA(x, y, color.NRGBA{250, 10, 10, 255})
				}
			}
		}
		var buf bytes.Buffer
		var name string
		var err error
		switch i % 6 {
		case 0, 1, 2:
			name = fmt.Sprintf("c%d/img%03d.jpg", i%3, i)
			err = jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 50 + i%50})
		case 3:
			g := image.NewGray(rgba.Bounds())
			for j := range g.Pix {
				g.Pix[j] = rgba.Pix[4*j+1]
			}
			name = fmt.Sprintf("c0/img%03d.png", i)
			err = png.Encode(&buf, g)
		case 4:
			p := image.NewPaletted(rgba.Bounds(), color.Palette{color.Black, color.White, color.NRGBA{255, 0, 0, 128}})
			for j := range p.Pix {
				p.Pix[j] = uint8(j % 3)
			}
			name = fmt.Sprintf("c1/img%03d.PNG", i)
			err = png.Encode(&buf, p)
		case 5:
			g := image.NewGray16(rgba.Bounds())
			for j := 0; j < len(g.Pix); j += 2 {
				g.Pix[j], g.Pix[j+1] = uint8(j%3), uint8(j)
			}
			name = fmt.Sprintf("c2/img%03d.png", i)
			err = png.Encode(&buf, g)
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type loaded struct {
	data   []float32
	rels   []string
	labels []int
	sizes  []int
}

func loadAll(t *testing.T, set *Set, opts LoaderOptions) loaded {
	t.Helper()
	l, err := NewLoader(context.Background(), set.Images, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out loaded
	for i := 0; ; i++ {
		b, err := l.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Index != i || len(b.Data) != b.Len()*3*opts.Resolution*opts.Resolution || len(b.Labels) != b.Len() {
			t.Fatalf("batch %d: index %d, %d floats for %d images", i, b.Index, len(b.Data), b.Len())
		}
		out.data = append(out.data, b.Data...)
		out.sizes = append(out.sizes, b.Len())
		for j, im := range b.Images {
			out.rels = append(out.rels, im.Rel)
			out.labels = append(out.labels, b.Labels[j])
		}
	}
	return out
}

func TestLoaderBatches(t *testing.T) {
	root := t.TempDir()
	pictures(t, root, 23)
	set, err := ListLabelled(root, LabelOptions{NumClasses: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := set.Check(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	const r = 24
	one := loadAll(t, set, LoaderOptions{Resolution: r, BatchSize: 5, Workers: 1})
	many := loadAll(t, set, LoaderOptions{Resolution: r, BatchSize: 5, Workers: 7})
	if fmt.Sprint(one.sizes) != "[5 5 5 5 3]" {
		t.Errorf("batch sizes %v, want the last partial batch too", one.sizes)
	}
	if fmt.Sprint(one.rels) != fmt.Sprint(rels(set)) {
		t.Errorf("images out of order:\n%v\n%v", one.rels, rels(set))
	}
	if fmt.Sprint(one.rels) != fmt.Sprint(many.rels) || !equalFloats(one.data, many.data) {
		t.Error("1 and 7 workers give different batches")
	}
	// Each image's tensor is its own test transform.
	for i, im := range set.Images {
		data, err := os.ReadFile(im.Path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := imaging.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, 3*r*r)
		if err := imaging.TestTransform(m, r, want); err != nil {
			t.Fatal(err)
		}
		if !equalFloats(want, one.data[i*3*r*r:(i+1)*3*r*r]) {
			t.Errorf("%s: tensor differs from its test transform", im.Rel)
		}
		if one.labels[i] != im.Label {
			t.Errorf("%s: label %d want %d", im.Rel, one.labels[i], im.Label)
		}
	}
	// Augmentation is deterministic for a seed, whatever the workers.
	a := loadAll(t, set, LoaderOptions{Resolution: r, BatchSize: 4, Workers: 1, Transform: CropTransform(AugmentCrop(r, 99))})
	b := loadAll(t, set, LoaderOptions{Resolution: r, BatchSize: 4, Workers: 5, Transform: CropTransform(AugmentCrop(r, 99))})
	c := loadAll(t, set, LoaderOptions{Resolution: r, BatchSize: 4, Workers: 5, Transform: CropTransform(AugmentCrop(r, 100))})
	if !equalFloats(a.data, b.data) {
		t.Error("augmented batches depend on the number of workers")
	}
	if equalFloats(a.data, c.data) {
		t.Error("the seed does not change the augmentation")
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// corruptTree has a text file named .jpg (fails pre-flight) and a JPEG
// whose data is cut (passes pre-flight, fails to decode).
func corruptTree(t *testing.T) (string, *Set) {
	root := t.TempDir()
	pictures(t, root, 9)
	if err := os.WriteFile(filepath.Join(root, "c0", "aaa-notes.jpg"), []byte("just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(root, "c0", "img000.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "c1", "img004-cut.jpg"), good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := ListLabelled(root, LabelOptions{NumClasses: 3})
	if err != nil {
		t.Fatal(err)
	}
	return root, set
}

func TestPreflightAndSkip(t *testing.T) {
	root, set := corruptTree(t)
	_, bad, err := set.Check(context.Background(), false)
	var be *BadImagesError
	if !errors.As(err, &be) || len(bad) != 1 || !strings.Contains(err.Error(), "c0/aaa-notes.jpg: not a JPEG or PNG image") ||
		!strings.Contains(err.Error(), "1 of 11 images cannot be read") || !strings.Contains(err.Error(), "skip unreadable images") {
		t.Fatalf("pre-flight: %v (%d bad)", err, len(bad))
	}
	checked, bad, err := set.Check(context.Background(), true)
	if err != nil || len(bad) != 1 || len(checked.Images) != 10 {
		t.Fatalf("skipping pre-flight: %v, %d bad, %d left", err, len(bad), len(checked.Images))
	}

	// The cut file fails at decode time, named.
	l, err := NewLoader(context.Background(), checked.Images, LoaderOptions{Resolution: 16, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for {
		_, err := l.Next()
		if err != nil {
			lastErr = err
			break
		}
	}
	l.Close()
	if !errors.As(lastErr, &be) || !strings.Contains(lastErr.Error(), filepath.Join(root, "c1", "img004-cut.jpg")) ||
		!strings.Contains(lastErr.Error(), "the file ends before the image data is complete") {
		t.Errorf("decode failure: %v", lastErr)
	}

	// With SkipBad it is left out and the batches close up over it.
	got := loadAll(t, checked, LoaderOptions{Resolution: 16, BatchSize: 4, SkipBad: true})
	var want []string
	for _, im := range checked.Images {
		if !strings.HasSuffix(im.Rel, "cut.jpg") {
			want = append(want, im.Rel)
		}
	}
	if fmt.Sprint(got.rels) != fmt.Sprint(want) || fmt.Sprint(got.sizes) != "[4 4 1]" {
		t.Errorf("skipping: %v in %v", got.rels, got.sizes)
	}
}

func TestLoaderSkipReport(t *testing.T) {
	_, set := corruptTree(t)
	checked, _, _ := set.Check(context.Background(), true)
	l, err := NewLoader(context.Background(), checked.Images, LoaderOptions{Resolution: 8, BatchSize: 100, SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, err := l.Next()
	if err != nil || b.Len() != 9 {
		t.Fatalf("%v, %d images", err, b.Len())
	}
	if sk := l.Skipped(); len(sk) != 1 || !strings.HasSuffix(sk[0].Image.Rel, "img004-cut.jpg") {
		t.Errorf("skipped %v", sk)
	}
	if _, err := l.Next(); err != io.EOF {
		t.Errorf("after the last batch: %v", err)
	}
}

// TestLoaderMemoryBound checks that decoding stays within BatchSize+Workers
// images of the consumer.
func TestLoaderMemoryBound(t *testing.T) {
	root := t.TempDir()
	pictures(t, root, 30)
	set, err := ListUnlabelled(root)
	if err != nil {
		t.Fatal(err)
	}
	var started atomic.Int64
	consumed := 0
	var worst int64
	tr := func(img *imaging.RGB, index int, dst []float32) error {
		started.Add(1)
		return imaging.TestTransform(img, 8, dst)
	}
	l, err := NewLoader(context.Background(), set.Images, LoaderOptions{Resolution: 8, BatchSize: 4, Workers: 3, Transform: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for {
		time.Sleep(20 * time.Millisecond) // a slow consumer
		worst = max(worst, started.Load()-int64(consumed))
		b, err := l.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		consumed += b.Len()
	}
	if worst > 4+3 {
		t.Errorf("%d images decoded ahead of the consumer, want at most BatchSize+Workers = 7", worst)
	}
}

func TestLoaderCancel(t *testing.T) {
	root := t.TempDir()
	pictures(t, root, 12)
	set, err := ListUnlabelled(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	tr := func(img *imaging.RGB, index int, dst []float32) error {
		if index >= 2 {
			<-block
		}
		return imaging.TestTransform(img, 8, dst)
	}
	l, err := NewLoader(ctx, set.Images, LoaderOptions{Resolution: 8, BatchSize: 2, Workers: 2, Transform: tr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { _, err := l.Next(); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after cancel")
	}
	close(block)
	l.Close()
}

func TestLoaderOptionErrors(t *testing.T) {
	ims := []Image{{Path: "x.jpg"}}
	for _, c := range []struct {
		opts LoaderOptions
		ims  []Image
		want string
	}{
		{LoaderOptions{Resolution: 0, BatchSize: 1}, ims, "resolution must be positive"},
		{LoaderOptions{Resolution: 8, BatchSize: 0}, ims, "batch size must be positive"},
		{LoaderOptions{Resolution: 8, BatchSize: 1}, nil, "no images"},
	} {
		if _, err := NewLoader(context.Background(), c.ims, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.opts, err)
		}
	}
}
