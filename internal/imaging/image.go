package imaging

import (
	"bytes"
	"fmt"
	"sync"
)

// RGB is an 8-bit RGB image: Pix holds W*H pixels row by row, three bytes
// (red, green, blue) each, without padding.
type RGB struct {
	W, H int
	Pix  []byte
}

// NewRGB returns a black image of the given size.
func NewRGB(w, h int) *RGB {
	return &RGB{W: w, H: h, Pix: make([]byte, w*h*3)}
}

// resize sets the image size, reusing Pix when it is large enough.
func (m *RGB) resize(w, h int) {
	m.W, m.H = w, h
	n := w * h * 3
	if cap(m.Pix) < n {
		m.Pix = make([]byte, n)
	}
	m.Pix = m.Pix[:n]
}

// At returns the pixel at (x, y).
func (m *RGB) At(x, y int) (r, g, b byte) {
	i := (y*m.W + x) * 3
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// Format names an image file format by its content.
type Format string

// The formats this package recognizes. Only FormatJPEG and FormatPNG
// decode; the others are named in errors.
const (
	FormatJPEG Format = "JPEG"
	FormatPNG  Format = "PNG"
)

// otherFormats are files Pillow would open whatever their extension; they
// are recognized only to name them in the error.
var otherFormats = []struct {
	magic []byte
	name  string
}{
	{[]byte("GIF87a"), "GIF"},
	{[]byte("GIF89a"), "GIF"},
	{[]byte("BM"), "BMP"},
	{[]byte("II*\x00"), "TIFF"},
	{[]byte("MM\x00*"), "TIFF"},
	{[]byte("RIFF"), "WebP or another RIFF format"},
	{[]byte("\x00\x00\x00\x0cjP  "), "JPEG 2000"},
	{[]byte("\xff\x4f\xff\x51"), "JPEG 2000"},
	{[]byte("P1"), "PBM/PGM/PPM"}, {[]byte("P2"), "PBM/PGM/PPM"}, {[]byte("P3"), "PBM/PGM/PPM"},
	{[]byte("P4"), "PBM/PGM/PPM"}, {[]byte("P5"), "PBM/PGM/PPM"}, {[]byte("P6"), "PBM/PGM/PPM"},
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// sniff identifies the format from the first bytes, as Pillow does (by
// content, not by the file name).
func sniff(data []byte) (Format, error) {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return FormatJPEG, nil
	case bytes.HasPrefix(data, pngMagic):
		return FormatPNG, nil
	}
	for _, f := range otherFormats {
		if bytes.HasPrefix(data, f.magic) {
			return "", fmt.Errorf("the file is a %s image: only JPEG and PNG images are read (convert it to JPEG or PNG)", f.name)
		}
	}
	if len(data) == 0 {
		return "", fmt.Errorf("the file is empty: replace or remove it")
	}
	return "", fmt.Errorf("not a JPEG or PNG image (the file starts with % x): replace or remove it", data[:min(len(data), 8)])
}

// Decode decodes a JPEG or PNG file (recognized by its content) to RGB
// exactly as Pillow 9.4's Image.open(f).convert("RGB") does.
func Decode(data []byte) (*RGB, error) {
	m := new(RGB)
	if err := DecodeInto(m, data); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeInto is Decode writing into dst, reusing its pixel memory.
func DecodeInto(dst *RGB, data []byte) error {
	f, err := sniff(data)
	if err != nil {
		return err
	}
	if f == FormatPNG {
		return decodePNG(data, dst)
	}
	return decodeJPEG(data, dst)
}

// jpegScratch holds the JPEG decoder's working memory, pooled between
// decodes.
type jpegScratch struct {
	planes []byte
	coefs  []int16
	colsum []int32
}

var scratchPool = sync.Pool{New: func() any { return new(jpegScratch) }}

func getScratch() *jpegScratch  { return scratchPool.Get().(*jpegScratch) }
func putScratch(s *jpegScratch) { scratchPool.Put(s) }

// grow sets *p to n elements, reallocating only when its capacity is too
// small (the old contents are then dropped, not copied), and returns it.
func grow[T any](p *[]T, n int) []T {
	if cap(*p) < n {
		*p = make([]T, n)
	}
	*p = (*p)[:n]
	return *p
}
