package testfix

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// WritePicture writes a w×h picture of smooth colour fields with a disc,
// seeded, as PNG when path ends in .png and as a quality-80 JPEG
// otherwise: what tests of image folders and of accuracy feed to
// preprocessing, calibration and evaluation.
func WritePicture(t testing.TB, path string, w, h int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	a, b, c := rng.Float64()*10, rng.Float64()*10, rng.Float64()*10
	cx, cy, rad := rng.Float64()*float64(w), rng.Float64()*float64(h), 4+rng.Float64()*float64(min(w, h))/3
	disc := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			p := color.RGBA{uint8(127 + 120*math.Sin(a*fx+b*fy)), uint8(127 + 120*math.Cos(b*fx-c*fy)), uint8(127 + 120*math.Sin(c*fx*fy+a)), 255}
			if dx, dy := float64(x)-cx, float64(y)-cy; dx*dx+dy*dy < rad*rad {
				p = disc
			}
			img.Set(x, y, p)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if filepath.Ext(path) == ".png" {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 80})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// ImageFolder writes an ImageNet-layout folder: per pictures in
// dir/<class>/NNN.jpg (every third one .png), of sizes 50..199 pixels a
// side, and returns the files in the order torchvision's ImageFolder lists
// them (classes sorted, then names).
func ImageFolder(t testing.TB, dir string, classes []string, per int, seed uint64) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 5))
	var files []string
	sorted := slices.Clone(classes)
	slices.Sort(sorted)
	for _, c := range sorted {
		for i := range per {
			ext := ".jpg"
			if i%3 == 2 {
				ext = ".png"
			}
			p := filepath.Join(dir, c, fmt.Sprintf("%03d%s", i, ext))
			WritePicture(t, p, 50+rng.IntN(150), 50+rng.IntN(150), seed*977+uint64(len(files)))
			files = append(files, p)
		}
	}
	return files
}
