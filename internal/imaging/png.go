package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
)

// pngHeader is what the chunk walk learns before decoding: the IHDR fields
// and the palette.
type pngHeader struct {
	width, height int
	depth         int
	colorType     int
	palette       []byte // PLTE payload (3 bytes per entry)
}

func pngErr(format string, args ...any) error {
	return &FormatError{Format: "png", Reason: fmt.Sprintf(format, args...)}
}

// readPNGHeader walks the chunks up to the first IDAT.
func readPNGHeader(data []byte) (pngHeader, error) {
	var h pngHeader
	if !bytes.HasPrefix(data, pngMagic) {
		return h, pngErr("no PNG signature")
	}
	p := data[len(pngMagic):]
	first := true
	for {
		if len(p) < 8 {
			return h, ErrTruncated
		}
		n := int(binary.BigEndian.Uint32(p))
		typ := string(p[4:8])
		if n < 0 || n > len(p)-12 {
			if typ == "IDAT" && !first {
				return h, nil // the pixel decoder reports the truncation
			}
			return h, ErrTruncated
		}
		body := p[8 : 8+n]
		switch {
		case first && typ != "IHDR":
			return h, pngErr("the first chunk is %q, not IHDR", typ)
		case typ == "IHDR":
			if n != 13 {
				return h, pngErr("bad IHDR length %d", n)
			}
			h.width = int(binary.BigEndian.Uint32(body))
			h.height = int(binary.BigEndian.Uint32(body[4:]))
			h.depth = int(body[8])
			h.colorType = int(body[9])
			if err := checkPNGSize(h.width, h.height); err != nil {
				return h, err
			}
		case typ == "PLTE":
			h.palette = body
		case typ == "IDAT" || typ == "IEND":
			return h, nil
		}
		first = false
		p = p[12+n:]
	}
}

// checkPNGSize refuses an IHDR size PNG does not allow (zero, or above
// 2^31-1).
func checkPNGSize(w, h int) error {
	if w <= 0 || h <= 0 || w > 1<<31-1 || h > 1<<31-1 {
		return pngErr("bad image size %dx%d", w, h)
	}
	return nil
}

// checkPNGPixels refuses an image above maxPixels (the width and height
// checked alone too, so that w*h cannot overflow a 32-bit int).
func checkPNGPixels(w, h int) error {
	if w*h > maxPixels || w > maxPixels || h > maxPixels {
		return &TooLargeError{Width: w, Height: h, Limit: maxPixels}
	}
	return nil
}

// decodePNG decodes a PNG file with Go's image/png and converts it to RGB
// as Pillow's convert("RGB") does for the mode Pillow opens it in:
//
//   - gray 1-bit ("1"), 2/4/8-bit ("L"), gray+alpha 8-bit ("LA"): the gray
//     value in all three channels (alpha dropped);
//   - gray 16-bit ("I"): the 16-bit value clipped to 255;
//   - gray+alpha 16-bit and RGB(A) 16-bit: the high byte of each sample;
//   - RGB, RGBA 8-bit: the colour (alpha dropped, not composited);
//   - palette ("P"): the PLTE colour of the index; an index past the
//     palette's end gets Pillow's default entry (i, i, i).
//
// Transparency (tRNS) never changes the RGB values.
func decodePNG(data []byte, dst *RGB) error {
	h, err := readPNGHeader(data)
	if err != nil {
		return err
	}
	if err := checkPNGPixels(h.width, h.height); err != nil {
		return err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return pngErr("%v", err)
	}
	b := img.Bounds()
	w, ht := b.Dx(), b.Dy()
	dst.resize(w, ht)
	out := dst.Pix
	sixteenGray := h.colorType == 0 && h.depth == 16
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < ht; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := out[y*w*3:]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := 0; y < ht; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			o := out[y*w*3:]
			for x := 0; x < w; x++ {
				v := clip16(uint16(row[2*x])<<8 | uint16(row[2*x+1]))
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		copyRGBFrom4(out, m.Pix, m.Stride, w, ht)
	case *image.RGBA:
		// Only opaque images decode to RGBA (A = 255), so the premultiplied
		// values are the colours.
		copyRGBFrom4(out, m.Pix, m.Stride, w, ht)
	case *image.NRGBA64:
		copyRGBFrom8(out, m.Pix, m.Stride, w, ht, sixteenGray)
	case *image.RGBA64:
		copyRGBFrom8(out, m.Pix, m.Stride, w, ht, sixteenGray)
	case *image.Paletted:
		var pal [256][3]byte
		for i := range pal {
			pal[i] = [3]byte{byte(i), byte(i), byte(i)}
		}
		for i := 0; i < 256 && 3*i+2 < len(h.palette); i++ {
			pal[i] = [3]byte{h.palette[3*i], h.palette[3*i+1], h.palette[3*i+2]}
		}
		for y := 0; y < ht; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := out[y*w*3:]
			for x, idx := range row {
				c := pal[idx]
				o[3*x], o[3*x+1], o[3*x+2] = c[0], c[1], c[2]
			}
		}
	default:
		// image/png produces none other.
		return pngErr("unexpected decoded image type %T", img)
	}
	return nil
}

// clip16 is Pillow's "I" to 8-bit conversion: values above 255 saturate.
func clip16(v uint16) byte {
	if v > 255 {
		return 255
	}
	return byte(v)
}

func copyRGBFrom4(out, pix []byte, stride, w, h int) {
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+4*w]
		o := out[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// copyRGBFrom8 takes 16-bit samples: the high byte, or for 16-bit
// grayscale (Pillow mode "I") the value clipped to 255.
func copyRGBFrom8(out, pix []byte, stride, w, h int, clip bool) {
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+8*w]
		o := out[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				hi, lo := row[8*x+2*c], row[8*x+2*c+1]
				if clip {
					o[3*x+c] = clip16(uint16(hi)<<8 | uint16(lo))
				} else {
					o[3*x+c] = hi
				}
			}
		}
	}
}
