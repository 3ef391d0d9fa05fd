package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func goJPEG(t testing.TB, w, h, q int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.RGBA{uint8(x * 9), uint8(y * 7), uint8(x * y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// patchSOF rewrites the frame marker and its precision byte.
func patchSOF(t testing.TB, data []byte, marker, precision byte) []byte {
	d := bytes.Clone(data)
	i := bytes.Index(d, []byte{0xFF, mSOF0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	d[i+1] = marker
	d[i+4] = precision
	return d
}

func TestDecodeErrors(t *testing.T) {
	base := goJPEG(t, 40, 30, 80)
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 5, 5))); err != nil {
		t.Fatal(err)
	}
	sos := bytes.Index(base, []byte{0xFF, mSOS})
	cases := []struct {
		name string
		data []byte
		want string
		is   func(error) bool
	}{
		{"empty", nil, "the file is empty", nil},
		{"text", []byte("hello, world"), "not a JPEG or PNG image (the file starts with 68 65 6c 6c 6f 2c 20 77)", nil},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), "the file is a GIF image: only JPEG and PNG images are read", nil},
		{"bmp", []byte("BM\x00\x00\x00\x00"), "BMP image", nil},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBP"), "WebP", nil},
		{"lossless", patchSOF(t, base, mSOF3, 8), "lossless JPEG (SOF3)", isUnsupported},
		{"12-bit", patchSOF(t, base, mSOF1, 12), "12-bit samples", isUnsupported},
		{"hierarchical", patchSOF(t, base, mSOF5, 8), "hierarchical JPEG (SOF5)", isUnsupported},
		{"truncated header", base[:sos-10], "the file ends before the image data is complete", isTruncated},
		{"truncated scan", base[:sos+100], "the file ends before the image data is complete", isTruncated},
		{"truncated png", pngBuf.Bytes()[:40], "the file ends before the image data is complete", nil},
		{"no SOF", append(append([]byte{0xFF, 0xD8}, base[sos:sos+20]...), 0xFF, 0xD9), "scan (SOS) before the frame header", nil},
		{"bad marker", append([]byte{0xFF, 0xD8, 0xFF, 0x02, 0, 4, 0, 0}, base[2:]...), "unknown marker 0xFF02", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if c.is != nil && !c.is(err) {
				t.Errorf("error %T %v is not of the expected kind", err, err)
			}
			if _, err := Probe(bytes.NewReader(c.data)); err == nil && !strings.Contains(c.name, "truncated") {
				t.Errorf("Probe accepts it")
			}
		})
	}
}

func isUnsupported(err error) bool {
	var u *UnsupportedError
	return errors.As(err, &u)
}

func isTruncated(err error) bool { return errors.Is(err, ErrTruncated) }

func TestTooLarge(t *testing.T) {
	// A header declaring 20000 x 20000 pixels is refused before any pixel
	// memory is allocated.
	d := bytes.Clone(goJPEG(t, 16, 16, 80))
	i := bytes.Index(d, []byte{0xFF, mSOF0})
	d[i+5], d[i+6], d[i+7], d[i+8] = 0x4E, 0x20, 0x4E, 0x20
	var tl *TooLargeError
	if _, err := Decode(d); !errors.As(err, &tl) || !strings.Contains(err.Error(), "20000x20000") {
		t.Errorf("Decode: %v", err)
	}
	if _, err := Probe(bytes.NewReader(d)); !errors.As(err, &tl) {
		t.Errorf("Probe: %v", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	copy(p[16:24], []byte{0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20})
	if _, err := Decode(p); !errors.As(err, &tl) {
		t.Errorf("png: %v", err)
	}
}

// TestPillowPixelLimit: the limit is Pillow's DecompressionBombError
// bound, 2 × 89,478,485 pixels (checked with Pillow 9.4: 13377×13377 opens
// with a warning, 13377×13378 raises).
func TestPillowPixelLimit(t *testing.T) {
	if MaxPixels != 178_956_970 {
		t.Fatalf("MaxPixels = %d, want Pillow's 178956970", MaxPixels)
	}
	d := bytes.Clone(goJPEG(t, 16, 16, 80))
	i := bytes.Index(d, []byte{0xFF, mSOF0})
	for _, c := range []struct {
		w, h int
		ok   bool
	}{{13377, 13377, true}, {13377, 13378, false}, {65500, 2732, true}, {65500, 2733, false}} {
		d[i+5], d[i+6], d[i+7], d[i+8] = byte(c.h>>8), byte(c.h), byte(c.w>>8), byte(c.w)
		h, err := Probe(bytes.NewReader(d))
		var tl *TooLargeError
		switch {
		case c.ok && (err != nil || h.Width != c.w || h.Height != c.h):
			t.Errorf("%dx%d (%d pixels): Probe = %+v, %v; want it accepted", c.w, c.h, c.w*c.h, h, err)
		case !c.ok && !errors.As(err, &tl):
			t.Errorf("%dx%d (%d pixels): Probe error %v, want a TooLargeError", c.w, c.h, c.w*c.h, err)
		}
	}
}

func TestProbe(t *testing.T) {
	for _, c := range []struct {
		data []byte
		f    Format
		w, h int
	}{
		{goJPEG(t, 37, 21, 50), FormatJPEG, 37, 21},
	} {
		h, err := Probe(bytes.NewReader(c.data))
		if err != nil || h.Format != c.f || h.Width != c.w || h.Height != c.h {
			t.Errorf("Probe = %+v, %v", h, err)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray16(image.Rect(0, 0, 3, 9))); err != nil {
		t.Fatal(err)
	}
	h, err := Probe(bytes.NewReader(b.Bytes()))
	if err != nil || h.Format != FormatPNG || h.Width != 3 || h.Height != 9 {
		t.Errorf("Probe png = %+v, %v", h, err)
	}
	// A JPEG with a large APP segment before the frame header.
	j := goJPEG(t, 8, 8, 50)
	app := append([]byte{0xFF, 0xE1, 0xFF, 0xFF}, make([]byte, 0xFFFD)...)
	big := append(append(append([]byte{}, j[:2]...), app...), j[2:]...)
	if h, err := Probe(bytes.NewReader(big)); err != nil || h.Width != 8 {
		t.Errorf("Probe after APP1 = %+v, %v", h, err)
	}
}

// TestStandardHuffmanTables: a baseline file without DHT segments decodes
// with the tables of the JPEG specification, which Go's encoder uses too.
func TestStandardHuffmanTables(t *testing.T) {
	data := goJPEG(t, 33, 17, 90)
	want, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var stripped []byte
	stripped = append(stripped, data[:2]...)
	p := 2
	for p < len(data) {
		m := data[p+1]
		if m == mSOS {
			stripped = append(stripped, data[p:]...)
			break
		}
		n := int(data[p+2])<<8 | int(data[p+3])
		if m != mDHT {
			stripped = append(stripped, data[p:p+2+n]...)
		}
		p += 2 + n
	}
	if bytes.Contains(stripped, []byte{0xFF, mDHT}) {
		t.Fatal("DHT still there")
	}
	got, err := Decode(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Pix, want.Pix) {
		t.Error("pixels differ without the DHT segments")
	}
}

// FuzzDecode feeds arbitrary data to both decoders and the header probe:
// they may refuse it, but must not panic, and a decoded image must have
// the size the probe reported.
func FuzzDecode(f *testing.F) {
	f.Add(goJPEG(f, 17, 9, 60))
	f.Add(goJPEG(f, 1, 1, 100))
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewPaletted(image.Rect(0, 0, 5, 3), color.Palette{color.Black, color.White})); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	old := maxPixels
	maxPixels = 1 << 20
	defer func() { maxPixels = old }()
	f.Fuzz(func(t *testing.T, data []byte) {
		h, perr := Probe(bytes.NewReader(data))
		m, err := Decode(data)
		if err != nil {
			return
		}
		if len(m.Pix) != m.W*m.H*3 {
			t.Fatalf("%dx%d image with %d bytes", m.W, m.H, len(m.Pix))
		}
		if perr == nil && (h.Width != m.W || h.Height != m.H) {
			t.Fatalf("probe says %dx%d, decode %dx%d", h.Width, h.Height, m.W, m.H)
		}
		_ = TestCrop(m, 7)
	})
}
