package imaging

import (
	"encoding/binary"
	"errors"
	"io"
)

// Header is what Probe learns from an image file's header.
type Header struct {
	Format        Format
	Width, Height int
}

// Probe reads only the header of an image file (the JPEG markers up to the
// frame header, or the PNG IHDR chunk) and reports its format and size. It
// refuses what Decode would refuse from the header alone: other formats,
// unsupported JPEG codings (lossless, hierarchical, 12-bit), bad sampling
// factors and images above MaxPixels. A file that passes may still fail
// to decode if its pixel data is corrupt.
func Probe(r io.ReadSeeker) (Header, error) {
	var head [8]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Header{}, err
	}
	f, err := sniff(head[:n])
	if err != nil {
		return Header{}, err
	}
	if f == FormatPNG {
		return probePNG(r)
	}
	if _, err := r.Seek(2, io.SeekStart); err != nil {
		return Header{}, err
	}
	return probeJPEG(r)
}

func probePNG(r io.Reader) (Header, error) {
	var b [25]byte // IHDR: length, type, 13 bytes, CRC
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Header{}, ErrTruncated
	}
	if string(b[4:8]) != "IHDR" || binary.BigEndian.Uint32(b[:4]) != 13 {
		return Header{}, pngErr("the first chunk is not a valid IHDR")
	}
	w, h := int(binary.BigEndian.Uint32(b[8:])), int(binary.BigEndian.Uint32(b[12:]))
	if err := checkPNGSize(w, h); err != nil {
		return Header{}, err
	}
	if err := checkPNGPixels(w, h); err != nil {
		return Header{}, err
	}
	return Header{Format: FormatPNG, Width: w, Height: h}, nil
}

// probeJPEG walks the markers from just after SOI to the frame header.
func probeJPEG(r io.ReadSeeker) (Header, error) {
	var one [1]byte
	readByte := func() (byte, error) {
		if _, err := io.ReadFull(r, one[:]); err != nil {
			return 0, ErrTruncated
		}
		return one[0], nil
	}
	for {
		// next_marker: skip to 0xFF, swallow fill bytes.
		c, err := readByte()
		if err != nil {
			return Header{}, err
		}
		for c != 0xFF {
			if c, err = readByte(); err != nil {
				return Header{}, err
			}
		}
		for c == 0xFF {
			if c, err = readByte(); err != nil {
				return Header{}, err
			}
		}
		if c == 0 {
			continue
		}
		var lb [2]byte
		switch {
		case c == mSOF0 || c == mSOF1 || c == mSOF2 || c == mSOF9 || c == mSOF10:
			if _, err := io.ReadFull(r, lb[:]); err != nil {
				return Header{}, ErrTruncated
			}
			seg := make([]byte, 2+max(int(binary.BigEndian.Uint16(lb[:]))-2, 0))
			copy(seg, lb[:])
			if _, err := io.ReadFull(r, seg[2:]); err != nil {
				return Header{}, ErrTruncated
			}
			d := jpegDecoder{data: seg}
			if err := d.parseSOF(c); err != nil {
				return Header{}, err
			}
			if err := d.checkGeometry(); err != nil {
				return Header{}, err
			}
			return Header{Format: FormatJPEG, Width: d.width, Height: d.height}, nil
		case c == mSOS:
			return Header{}, jpegErr("scan (SOS) before the frame header (SOF)")
		case c == mEOI:
			return Header{}, jpegErr("the file ends (EOI) before any image data")
		case c >= mRST0 && c <= mRST7:
			continue
		case c == mDHT || c == mDQT || c == mDRI || c == mDAC || c == mCOM || c == mDNL || (c >= mAPP0 && c <= mAPP15):
			if _, err := io.ReadFull(r, lb[:]); err != nil {
				return Header{}, ErrTruncated
			}
			n := int(binary.BigEndian.Uint16(lb[:])) - 2
			if n > 0 {
				if _, err := r.Seek(int64(n), io.SeekCurrent); err != nil {
					return Header{}, err
				}
			}
		default:
			// SOI, TEM, unsupported frame types, unknown markers: the
			// decoder's own message.
			d := jpegDecoder{}
			_, err := d.processMarker(c, true)
			if err == nil {
				err = jpegErr("unexpected marker 0xFF%02X", c)
			}
			return Header{}, err
		}
	}
}
