package testfix

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WritePicture writes a w×h test picture to path, as PNG when the name
// ends in .png and as JPEG (quality 85) otherwise, creating its folder:
// smooth colour bands, a disc of one colour and some pixel noise, all
// drawn from seed, so that pictures of different seeds differ everywhere.
func WritePicture(t testing.TB, path string, w, h int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	a, b, c := rng.Float64()*12, rng.Float64()*12, rng.Float64()*12
	cx, cy, rad := rng.Float64()*float64(w), rng.Float64()*float64(h), 5+rng.Float64()*float64(min(w, h))/2
	disc := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	v := func(s float64) uint8 { return uint8(min(255, max(0, 127+110*s+8*rng.NormFloat64()))) }
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			p := color.RGBA{v(math.Sin(a*fx + b*fy)), v(math.Cos(b*fx - c*fy)), v(math.Sin(c*fx*fy + a)), 255}
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
	if strings.EqualFold(filepath.Ext(path), ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 85})
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
