package imaging

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
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

// pilPython returns a python3 that has Pillow and numpy, or skips.
func pilPython(t *testing.T) string {
	t.Helper()
	var lastErr error
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			lastErr = err
			continue
		}
		out, err := exec.Command(path, "testdata/pilref.py", "check").CombinedOutput()
		if err == nil {
			return path
		}
		lastErr = fmt.Errorf("%s: %v: %s", path, err, bytes.TrimSpace(out))
	}
	needPeer(t, "python3 with Pillow 9.4 and numpy (apt-get install python3-pil python3-numpy; scripts/test-deps does it)", lastErr)
	return ""
}

func runPy(t *testing.T, py string, args ...string) {
	t.Helper()
	cmd := exec.Command(py, append([]string{"testdata/pilref.py"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", py, strings.Join(args, " "), err, out)
	}
}

// goPicture draws a smooth colour field with a few rectangles.
func goPicture(rng *rand.Rand, w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	var f [3][3]float64
	for c := range f {
		f[c] = [3]float64{rng.Float64() * 10 / float64(w), rng.Float64() * 10 / float64(h), rng.Float64() * 6}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v [3]uint8
			for c := range v {
				v[c] = uint8(127.5 + 120*math.Sin(2*math.Pi*(f[c][0]*float64(x)+f[c][1]*float64(y))+f[c][2]))
			}
			m.SetNRGBA(x, y, color.NRGBA{v[0], v[1], v[2], uint8(x * 255 / max(w-1, 1))})
		}
	}
	for i := 0; i < 3; i++ {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		x1, y1 := x0+rng.IntN(w-x0)+1, y0+rng.IntN(h-y0)+1
		col := color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				m.SetNRGBA(x, y, col)
			}
		}
	}
	return m
}

// writeGoImages writes images made with Go's own encoders.
func writeGoImages(t *testing.T, dir string) {
	rng := rand.New(rand.NewPCG(7, 11))
	sizes := [][2]int{{500, 375}, {375, 500}, {1, 1}, {1, 37}, {37, 1}, {17, 9}, {256, 341}, {130, 149}, {223, 224}}
	for i, sz := range sizes {
		pic := goPicture(rng, sz[0], sz[1])
		var buf bytes.Buffer
		q := []int{25, 75, 90, 100}[i%4]
		if err := jpeg.Encode(&buf, pic, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, fmt.Sprintf("go%02d_q%d.jpg", i, q)), buf.Bytes())
		gray := image.NewGray(pic.Bounds())
		g16 := image.NewGray16(pic.Bounds())
		rgba64 := image.NewNRGBA64(pic.Bounds())
		pal := image.NewPaletted(pic.Bounds(), color.Palette{color.NRGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 128}, color.NRGBA{9, 250, 9, 0}})
		for y := 0; y < sz[1]; y++ {
			for x := 0; x < sz[0]; x++ {
				c := pic.NRGBAAt(x, y)
				gray.SetGray(x, y, color.Gray{c.G})
				g16.SetGray16(x, y, color.Gray16{uint16(c.R)<<4 | uint16(c.B)})
				rgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R)*257 + uint16(x), uint16(c.G) * 250, uint16(c.B) << 8, uint16(c.A) * 257})
				pal.SetColorIndex(x, y, uint8((x+y)%3))
			}
		}
		for name, m := range map[string]image.Image{"rgba": pic, "gray": gray, "gray16": g16, "rgba64": rgba64, "pal": pal} {
			buf.Reset()
			if err := png.Encode(&buf, m); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, fmt.Sprintf("go%02d_%s.png", i, name)), buf.Bytes())
		}
		buf.Reset()
		if err := jpeg.Encode(&buf, gray, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, fmt.Sprintf("go%02d_gray.jpg", i)), buf.Bytes())
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// compareWithPIL decodes every file of dir here and with Pillow, runs the
// test transform at each resolution on both sides and requires identical
// results. It returns counts for the log.
func compareWithPIL(t *testing.T, py, dir string, rs []int) (images, errorsBoth int) {
	out := filepath.Join(t.TempDir(), "ref")
	rsArg := make([]string, len(rs))
	for i, r := range rs {
		rsArg[i] = strconv.Itoa(r)
	}
	args := []string{"ref", dir, out, strings.Join(rsArg, ",")}
	if os.Getenv("EDGEFIT_IMAGING_TORCH") == "1" {
		args = append(args, "--torch")
	}
	runPy(t, py, args...)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	bad := 0
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, gotErr := Decode(data)
		refErr, _ := os.ReadFile(filepath.Join(out, name+".err"))
		if refErr != nil {
			if gotErr == nil {
				t.Errorf("%s: Pillow fails (%s) but Decode gives a %dx%d image", name, refErr, got.W, got.H)
				bad++
			} else {
				errorsBoth++
			}
			continue
		}
		if gotErr != nil {
			t.Errorf("%s: Pillow decodes it but Decode fails: %v", name, gotErr)
			bad++
			continue
		}
		want, err := os.ReadFile(filepath.Join(out, name+".rgb"))
		if err != nil {
			t.Fatal(err)
		}
		if n, maxd := diff(got.Pix, want); n != 0 || len(got.Pix) != len(want) {
			t.Errorf("%s: decoded %dx%d pixels differ from Pillow's: %d bytes differ, by at most %d (sizes %d, %d)",
				name, got.W, got.H, n, maxd, len(got.Pix), len(want))
			bad++
			continue
		}
		images++
		for _, r := range rs {
			wantCrop, _ := os.ReadFile(filepath.Join(out, fmt.Sprintf("%s.%d.u8", name, r)))
			crop := TestCrop(got, r)
			if n, maxd := diff(crop.Pix, wantCrop); n != 0 {
				t.Errorf("%s at %d: resize+crop differs from Pillow/torchvision: %d bytes, by at most %d", name, r, n, maxd)
				bad++
				continue
			}
			wantT, _ := os.ReadFile(filepath.Join(out, fmt.Sprintf("%s.%d.f32", name, r)))
			tensor := make([]float32, 3*r*r)
			if err := TestTransform(got, r, tensor); err != nil {
				t.Fatal(err)
			}
			gotT := make([]byte, 4*len(tensor))
			for i, v := range tensor {
				binary.LittleEndian.PutUint32(gotT[4*i:], math.Float32bits(v))
			}
			if !bytes.Equal(gotT, wantT) {
				t.Errorf("%s at %d: tensor differs from torchvision's", name, r)
				bad++
			}
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
	var index map[string]any
	raw, _ := os.ReadFile(filepath.Join(out, "index.json"))
	if err := json.Unmarshal(raw, &index); err != nil || len(index) != len(names) {
		t.Fatalf("reference index covers %d of %d files (%v)", len(index), len(names), err)
	}
	return images, errorsBoth
}

func diff(a, b []byte) (n, maxd int) {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			n++
			d := int(a[i]) - int(b[i])
			maxd = max(maxd, d, -d)
		}
	}
	return n, maxd
}

// TestMatchesPillow is the conformance test against the reference stack.
func TestMatchesPillow(t *testing.T) {
	py := pilPython(t)
	dir := filepath.Join(t.TempDir(), "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeGoImages(t, dir)
	count, maxSize := "120", "300"
	if n := os.Getenv("EDGEFIT_IMAGING_RANDOM"); n != "" {
		count, maxSize = n, "700" // the larger randomized run
	}
	runPy(t, py, "gen", dir, "20240601", count, maxSize)
	images, errs := compareWithPIL(t, py, dir, []int{160, 176, 224, 130})
	t.Logf("%d images identical to Pillow (decode, resize+crop and tensor at 4 resolutions); %d refused by both", images, errs)
}

// TestMatchesPillowDir compares the files of $EDGEFIT_IMAGING_DIR (a
// debugging aid: keep a failing file there).
func TestMatchesPillowDir(t *testing.T) {
	dir := os.Getenv("EDGEFIT_IMAGING_DIR")
	if dir == "" {
		t.Skip("set EDGEFIT_IMAGING_DIR to compare the images of a folder")
	}
	py := pilPython(t)
	images, errs := compareWithPIL(t, py, dir, []int{224})
	t.Logf("%d images identical to Pillow; %d refused by both", images, errs)
}
