package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"slices"
	"testing"
)

// gray builds an RGB image whose three channels all hold rows[y][x].
func gray(rows [][]byte) *RGB {
	m := NewRGB(len(rows[0]), len(rows))
	for y, r := range rows {
		for x, v := range r {
			i := (y*m.W + x) * 3
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = v, v, v
		}
	}
	return m
}

func channel(m *RGB, c int) [][]byte {
	out := make([][]byte, m.H)
	for y := range out {
		out[y] = make([]byte, m.W)
		for x := range out[y] {
			out[y][x] = m.Pix[(y*m.W+x)*3+c]
		}
	}
	return out
}

// TestResizeGolden checks Pillow's bilinear resize on small images whose
// results were worked out by hand from the algorithm: the filter support
// is max(1, in/out), centre (i+0.5)*in/out, taps from int(centre-support+0.5)
// to int(centre+support+0.5) (clamped to the image), triangle weights
// normalized to sum 1, horizontal pass first. The inputs make every exact
// result at least 0.1 away from a rounding boundary, so the 22-bit
// fixed-point coefficients cannot change them.
func TestResizeGolden(t *testing.T) {
	cases := []struct {
		name string
		in   [][]byte
		w, h int
		want [][]byte
	}{
		{
			// x: weights (3,3,1)/7 and (1,3,3)/7; y: (0.625, 0.375) and
			// (0.375, 0.625). Input 70x+7y.
			name: "4x3 to 2x2",
			in:   [][]byte{{0, 70, 140, 210}, {7, 77, 147, 217}, {14, 84, 154, 224}},
			w:    2, h: 2,
			want: [][]byte{{53, 163}, {61, 171}},
		},
		{
			// x: (4,3)/7, (2,5,2)/9, (3,4)/7 on 7,14,63,126,189 (+10 per
			// row) = 10, 66.1, 162; y: (9,13,11,7,3)/43 over rows 0-4 adds
			// 15.8, (3,7,11,13,9)/43 over rows 2-6 adds 44.2.
			name: "5x7 to 3x2",
			in: [][]byte{
				{7, 14, 63, 126, 189}, {17, 24, 73, 136, 199}, {27, 34, 83, 146, 209}, {37, 44, 93, 156, 219},
				{47, 54, 103, 166, 229}, {57, 64, 113, 176, 239}, {67, 74, 123, 186, 249},
			},
			w: 3, h: 2,
			want: [][]byte{{26, 82, 178}, {54, 110, 206}},
		},
		{
			// Upscaling keeps support 1: x centres 0.3 0.9 1.5 2.1 2.7 give
			// p0, .6p0+.4p1, p1, .4p1+.6p2, p2; y centres .25 .75 1.25 1.75
			// give r0, .75r0+.25r1, .25r0+.75r1, r1.
			name: "3x2 to 5x4",
			in:   [][]byte{{0, 100, 200}, {40, 140, 240}},
			w:    5, h: 4,
			want: [][]byte{{0, 40, 100, 160, 200}, {10, 50, 110, 170, 210}, {30, 70, 130, 190, 230}, {40, 80, 140, 200, 240}},
		},
		{
			// One pixel wide: only the vertical pass runs, weights
			// (7,9,5,1)/22 and (1,5,9,7)/22.
			name: "1x5 to 1x2",
			in:   [][]byte{{0}, {30}, {90}, {180}, {250}},
			w:    1, h: 2,
			want: [][]byte{{41}, {175}},
		},
		{
			name: "5x1 to 2x1",
			in:   [][]byte{{0, 30, 90, 180, 250}},
			w:    2, h: 1,
			want: [][]byte{{41, 175}},
		},
		{
			name: "same size is a copy",
			in:   [][]byte{{1, 2}, {3, 4}},
			w:    2, h: 2,
			want: [][]byte{{1, 2}, {3, 4}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := gray(c.in)
			got := Resize(src, c.w, c.h)
			if got.W != c.w || got.H != c.h {
				t.Fatalf("size %dx%d", got.W, got.H)
			}
			for ch := 0; ch < 3; ch++ {
				if g := channel(got, ch); fmt.Sprint(g) != fmt.Sprint(c.want) {
					t.Errorf("channel %d: got %v want %v", ch, g, c.want)
				}
			}
		})
	}
}

func TestShorterSide(t *testing.T) {
	cases := []struct{ w, h, s, nw, nh int }{
		{500, 375, 256, 341, 256}, // int(256*500/375) = int(341.33)
		{375, 500, 256, 256, 341},
		{300, 300, 256, 256, 256},
		{1, 1000, 183, 183, 183000},
		{640, 427, 149, 223, 149}, // 149*640/427 = 223.33
		{427, 640, 149, 149, 223},
		{3, 2, 5, 7, 5}, // int(5*3/2) = 7
	}
	for _, c := range cases {
		if nw, nh := ShorterSide(c.w, c.h, c.s); nw != c.nw || nh != c.nh {
			t.Errorf("ShorterSide(%d, %d, %d) = %d, %d; want %d, %d", c.w, c.h, c.s, nw, nh, c.nw, c.nh)
		}
	}
	if TestSize(224) != 256 || TestSize(160) != 183 || TestSize(130) != 149 || TestSize(176) != 202 {
		t.Errorf("TestSize: %d %d %d %d", TestSize(224), TestSize(160), TestSize(130), TestSize(176))
	}
}

func TestCropOrigin(t *testing.T) {
	cases := []struct{ w, h, c, left, top int }{
		{256, 300, 224, 16, 38},
		{256, 301, 224, 16, 38}, // 38.5 rounds to even
		{256, 303, 224, 16, 40}, // 39.5 rounds to even
		{225, 224, 224, 0, 0},   // 0.5 rounds to 0
		{227, 224, 224, 2, 0},   // 1.5 rounds to 2
	}
	for _, c := range cases {
		if l, tp := CropOrigin(c.w, c.h, c.c, c.c); l != c.left || tp != c.top {
			t.Errorf("CropOrigin(%d, %d, %d) = %d, %d; want %d, %d", c.w, c.h, c.c, l, tp, c.left, c.top)
		}
	}
}

func TestCenterCropPads(t *testing.T) {
	// torchvision pads (c-w)//2 left and (c-w+1)//2 right with zeros.
	src := gray([][]byte{{9, 8}, {7, 6}, {5, 4}})
	got := CenterCrop(src, 5, 2) // pad 1 left, 2 right; crop rows at round(0.5) = 0
	want := [][]byte{{0, 9, 8, 0, 0}, {0, 7, 6, 0, 0}}
	if g := channel(got, 1); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("got %v want %v", g, want)
	}
	got = CenterCrop(src, 4, 6) // pad 1 each side, 1 top, 2 bottom
	want = [][]byte{{0, 0, 0, 0}, {0, 9, 8, 0}, {0, 7, 6, 0}, {0, 5, 4, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}}
	if g := channel(got, 0); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("got %v want %v", g, want)
	}
}

// TestTestCropIdentity decodes a PNG whose shorter side already is
// ceil(224/0.875) = 256: Resize must then leave it as is, so the result is
// the plain centre crop of its pixels.
func TestTestCropIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{256, 301}, {300, 256}} {
		m := image.NewNRGBA(image.Rect(0, 0, sz[0], sz[1]))
		for i := range m.Pix {
			m.Pix[i] = uint8(rng.IntN(256))
		}
		for i := 3; i < len(m.Pix); i += 4 {
			m.Pix[i] = 255
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		img, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		// (301-224)/2 = 38.5 rounds to even, 38; (300-224)/2 = 38.
		var left, top int
		if sz[0] == 256 {
			left, top = 16, 38
		} else {
			left, top = 38, 16
		}
		got := TestCrop(img, 224)
		for y := 0; y < 224; y++ {
			for x := 0; x < 224; x++ {
				c := m.NRGBAAt(left+x, top+y)
				r, g, b := got.At(x, y)
				if r != c.R || g != c.G || b != c.B {
					t.Fatalf("%v: pixel (%d,%d) = %d,%d,%d, want %d,%d,%d", sz, x, y, r, g, b, c.R, c.G, c.B)
				}
			}
		}
	}
}

func TestNormalizer(t *testing.T) {
	// With mean 0 and std 1 the tensor is float32(v)/255, correctly
	// rounded: v = 51 gives exactly float32(0.2), 255 gives 1.
	n := NewNormalizer([3]float64{0, 0, 0}, [3]float64{1, 1, 1})
	src := gray([][]byte{{51, 255, 0}})
	dst := make([]float32, 9)
	n.Tensor(src, dst)
	if want := []float32{0.2, 1, 0, 0.2, 1, 0, 0.2, 1, 0}; !slices.Equal(dst, want) {
		t.Errorf("got %v want %v", dst, want)
	}
	// ImageNet: (1 - 0.485) / 0.229 = 2.2489..., (0 - 0.406) / 0.225 = -1.8044...
	ImageNet.Tensor(gray([][]byte{{255}}), dst[:3])
	if d := dst[0] - 2.2489083; d > 1e-6 || d < -1e-6 {
		t.Errorf("red 255: %v", dst[0])
	}
	ImageNet.Tensor(gray([][]byte{{0}}), dst[:3])
	if d := dst[2] + 1.8044444; d > 1e-6 || d < -1e-6 {
		t.Errorf("blue 0: %v", dst[2])
	}
	if err := TestTransform(src, 2, make([]float32, 5)); err == nil {
		t.Error("a short tensor buffer is accepted")
	}
}

func TestTrainCrop(t *testing.T) {
	src := NewRGB(300, 200)
	for i := range src.Pix {
		src.Pix[i] = uint8(i % 251)
	}
	a := TrainCrop(src, 64, AugmentRNG(42, 7))
	b := TrainCrop(src, 64, AugmentRNG(42, 7))
	c := TrainCrop(src, 64, AugmentRNG(42, 8))
	if a.W != 64 || a.H != 64 || !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("the same seed and index give different crops")
	}
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("different indices give the same crop")
	}
	// get_params: crops keep 8% to 100% of the area (when one of the 10
	// tries fits) with an aspect ratio within [3/4, 4/3], inside the image.
	rng := AugmentRNG(1, 0)
	for i := 0; i < 2000; i++ {
		l, tp, w, h := CropParams(300, 200, rng, [2]float64{0.08, 1}, [2]float64{3.0 / 4.0, 4.0 / 3.0})
		area := float64(w*h) / 60000
		if l < 0 || tp < 0 || l+w > 300 || tp+h > 200 || area < 0.07 || area > 1.01 {
			t.Fatalf("crop %d,%d %dx%d", l, tp, w, h)
		}
	}
	// Fallback (no try can fit a very thin image): the centred crop of the
	// nearest allowed ratio.
	l, tp, w, h := CropParams(1000, 10, AugmentRNG(3, 0), [2]float64{0.9, 1}, [2]float64{3.0 / 4.0, 4.0 / 3.0})
	if w != 13 || h != 10 || l != 493 || tp != 0 {
		t.Errorf("fallback crop %d,%d %dx%d, want 493,0 13x10", l, tp, w, h)
	}
	m := gray([][]byte{{1, 2, 3}})
	FlipH(m)
	if g := channel(m, 2); fmt.Sprint(g) != "[[3 2 1]]" {
		t.Errorf("flip %v", g)
	}
}
