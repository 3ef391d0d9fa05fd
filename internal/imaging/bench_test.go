package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"
)

// benchJPEG is a 500x375 quality-90 4:2:0 JPEG of a photo-like picture
// (smooth fields, edges and some noise), the ImageNet median size.
func benchJPEG(b *testing.B) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	m := image.NewRGBA(image.Rect(0, 0, 500, 375))
	for y := 0; y < 375; y++ {
		for x := 0; x < 500; x++ {
			v := func(f, p float64) uint8 {
				s := 128 + 100*math.Sin(f*float64(x)+p)*math.Cos(f*0.7*float64(y)) + rng.NormFloat64()*12
				return uint8(max(0, min(255, s)))
			}
			m.Set(x, y, color.RGBA{v(0.03, 0), v(0.05, 1), v(0.02, 2), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecodeJPEG decodes the 500x375 4:2:0 JPEG to RGB.
func BenchmarkDecodeJPEG(b *testing.B) {
	data := benchJPEG(b)
	var m RGB
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := DecodeInto(&m, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoImageJPEG is the baseline: Go's image/jpeg on the same file.
func BenchmarkGoImageJPEG(b *testing.B) {
	data := benchJPEG(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTestTransform is the whole per-image work of calibration:
// decode, resize to 256, centre crop 224, normalize to a float32 tensor.
func BenchmarkTestTransform(b *testing.B) {
	data := benchJPEG(b)
	var m RGB
	dst := make([]float32, 3*224*224)
	for b.Loop() {
		if err := DecodeInto(&m, data); err != nil {
			b.Fatal(err)
		}
		if err := TestTransform(&m, 224, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResize is the resize of the decoded image alone.
func BenchmarkResize(b *testing.B) {
	m, err := Decode(benchJPEG(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ResizeShorter(m, 256)
	}
}
