package imaging

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
)

// cjpegTool is libjpeg-turbo's encoder, which writes arithmetic coding
// (Go's image/jpeg and Pillow do not).
func cjpegTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("cjpeg")
	testfix.Need(t, "cjpeg from libjpeg-turbo (apt-get install libjpeg-turbo-progs; scripts/test-deps does it)", err)
	return p
}

// ppm is a binary PPM of a smooth picture with a noise level: noise makes
// the entropy-coded data large.
func ppm(w, h int, noise int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	fmt.Fprintf(&b, "P6\n%d %d\n255\n", w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := (x*(3+c) + y*(5-c) + (x*y)>>(4+c)) & 255
				if noise > 0 {
					v += rng.IntN(2*noise+1) - noise
				}
				b.WriteByte(byte(min(max(v, 0), 255)))
			}
		}
	}
	return b.Bytes()
}

func runCjpeg(t *testing.T, tool string, in []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("cjpeg %v: %v: %s", args, err, errb.String())
	}
	return out.Bytes()
}

// TestArithmeticEqualsHuffman: arithmetic coding is lossless and cjpeg
// quantizes the same way whichever entropy coder follows, so a file
// written with -arithmetic must decode to exactly the pixels of the same
// file written with Huffman coding. The Huffman decoder is checked against
// Pillow (TestMatchesPillow); this checks every arithmetic path (DC and AC
// statistics, conditioning, restart intervals, each progressive scan kind,
// interleaved and single-component scans) without any reference decoder.
func TestArithmeticEqualsHuffman(t *testing.T) {
	tool := cjpegTool(t)
	cases := []struct {
		name       string
		w, h, nois int
		args       []string
	}{
		{"sequential 4:2:0", 97, 61, 8, []string{"-quality", "85"}},
		{"sequential 4:4:4 q100", 40, 33, 30, []string{"-quality", "100", "-sample", "1x1"}},
		{"sequential grayscale", 50, 70, 5, []string{"-grayscale", "-quality", "60"}},
		{"sequential restarts", 120, 90, 10, []string{"-quality", "75", "-restart", "2B"}},
		{"sequential restart rows", 64, 64, 3, []string{"-quality", "90", "-restart", "1"}},
		{"sequential 4x1 sampling", 77, 41, 6, []string{"-quality", "70", "-sample", "4x1,1x1,1x1"}},
		{"sequential rgb", 33, 29, 12, []string{"-rgb", "-quality", "95"}},
		{"sequential low quality", 130, 45, 0, []string{"-quality", "5"}},
		{"progressive", 101, 67, 8, []string{"-progressive", "-quality", "80"}},
		{"progressive restarts", 88, 72, 10, []string{"-progressive", "-quality", "92", "-restart", "3B"}},
		{"progressive grayscale", 45, 90, 20, []string{"-progressive", "-grayscale", "-quality", "75"}},
		{"progressive 2x2", 150, 100, 4, []string{"-progressive", "-quality", "50", "-sample", "2x2,1x1,1x1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := ppm(c.w, c.h, c.nois, uint64(c.w*c.h))
			huff := runCjpeg(t, tool, in, c.args...)
			arith := runCjpeg(t, tool, in, append([]string{"-arithmetic"}, c.args...)...)
			if !hasArithSOF(arith) {
				t.Fatal("cjpeg did not write an arithmetic-coded file")
			}
			want, err := Decode(huff)
			if err != nil {
				t.Fatalf("decode the Huffman file: %v", err)
			}
			got, err := Decode(arith)
			if err != nil {
				t.Fatalf("decode the arithmetic file: %v", err)
			}
			if got.W != want.W || got.H != want.H {
				t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, want.W, want.H)
			}
			if i := firstDiff(got.Pix, want.Pix); i >= 0 {
				t.Fatalf("pixel byte %d (x %d, y %d) = %d, Huffman file gives %d", i, i/3%want.W, i/3/want.W, got.Pix[i], want.Pix[i])
			}
			if h, err := Probe(bytes.NewReader(arith)); err != nil || h.Width != c.w || h.Height != c.h {
				t.Errorf("Probe = %+v, %v", h, err)
			}
		})
	}
}

func hasArithSOF(b []byte) bool {
	return bytes.Contains(b, []byte{0xFF, mSOF9}) || bytes.Contains(b, []byte{0xFF, mSOF10})
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestArithmeticChunkBoundary: a scan whose arithmetic-coded data runs
// past the first 64 KiB of the file is refused, as Pillow refuses it
// ("broken data stream": libjpeg cannot suspend its arithmetic decoder
// while Pillow feeds the file in 64 KiB chunks); the same picture in
// Huffman coding decodes.
func TestArithmeticChunkBoundary(t *testing.T) {
	tool := cjpegTool(t)
	in := ppm(400, 300, 60, 7)
	arith := runCjpeg(t, tool, in, "-arithmetic", "-quality", "95", "-sample", "1x1")
	if len(arith) <= pillowChunk {
		t.Fatalf("test image is only %d bytes; it must exceed %d", len(arith), pillowChunk)
	}
	_, err := Decode(arith)
	var u *UnsupportedError
	if !errors.Is(err, errArithChunk) || !errors.As(err, &u) {
		t.Fatalf("decode: %v, want %v", err, errArithChunk)
	}
	if _, err := Decode(runCjpeg(t, tool, in, "-quality", "95", "-sample", "1x1")); err != nil {
		t.Fatalf("the Huffman file: %v", err)
	}
}

// TestDAC: the conditioning segment. cjpeg writes one restating the
// defaults (DC L=0 U=1, AC K=5 for tables 0 and 1); without it the file
// decodes the same, with another K differently, and bad values are errors.
func TestDAC(t *testing.T) {
	tool := cjpegTool(t)
	arith := runCjpeg(t, tool, ppm(80, 64, 40, 1), "-arithmetic", "-quality", "90")
	i := bytes.Index(arith, []byte{0xFF, mDAC})
	if i < 0 {
		t.Fatal("cjpeg wrote no DAC segment")
	}
	n := int(arith[i+2])<<8 | int(arith[i+3])
	dac := arith[i+4 : i+2+n]
	if !bytes.Equal(dac, []byte{0, 0x10, 16, 5, 1, 0x10, 17, 5}) {
		t.Fatalf("cjpeg's DAC is % x, not the defaults this test expects", dac)
	}
	// with replaces the DAC payload (nil: removes the segment).
	with := func(seg ...byte) []byte {
		out := bytes.Clone(arith[:i])
		if seg != nil {
			out = append(out, 0xFF, mDAC, byte((len(seg)+2)>>8), byte(len(seg)+2))
			out = append(out, seg...)
		}
		return append(out, arith[i+2+n:]...)
	}
	base, err := Decode(arith)
	if err != nil {
		t.Fatal(err)
	}
	noDAC, err := Decode(with(nil...))
	if err != nil || firstDiff(noDAC.Pix, base.Pix) >= 0 {
		t.Fatalf("without the DAC segment (the defaults): %v, or different pixels", err)
	}
	otherK, err := Decode(with(16, 2, 17, 2))
	if err != nil {
		t.Fatal(err)
	}
	if firstDiff(otherK.Pix, base.Pix) < 0 {
		t.Error("AC conditioning K=2 decodes like K=5: the DAC value is not used")
	}
	otherDC, err := Decode(with(0, 0x31, 1, 0x31))
	if err != nil {
		t.Fatal(err)
	}
	if firstDiff(otherDC.Pix, base.Pix) < 0 {
		t.Error("DC conditioning L=1 U=3 decodes like L=0 U=1: the DAC value is not used")
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"index", with(32, 0x10), "conditioning table index 32"},
		{"L above U", with(0, 0x12), "L above U"},
		{"odd length", with(0, 0x10, 1), "DAC) segment length"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
}
