package imaging

// Output: chroma upsampling (libjpeg's "fancy" triangle filters for 2:1
// ratios, replication otherwise), colour conversion with libjpeg's
// fixed-point tables, and Pillow's conversions of grayscale and CMYK to
// RGB.

// YCbCr to RGB tables (jdcolor.c's build_ycc_rgb_table: 16 fraction bits,
// FIX(x) = round(x * 65536)).
var crR, cbB, crG, cbG [256]int32

func init() {
	fix := func(x float64) int64 { return int64(x*65536 + 0.5) }
	for i := 0; i < 256; i++ {
		x := int64(i - 128)
		crR[i] = int32((fix(1.40200)*x + 1<<15) >> 16)
		cbB[i] = int32((fix(1.77200)*x + 1<<15) >> 16)
		crG[i] = int32(-fix(0.71414) * x)
		cbG[i] = int32(-fix(0.34414)*x + 1<<15)
	}
}

func clamp255(v int32) byte {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return byte(v)
}

// rangeLimit clamps v in [-384, 639] to a sample: rangeLimit[(v+384)&1023].
var rangeLimit = func() (t [1024]byte) {
	for i := range t {
		t[i] = byte(min(max(i-384, 0), 255))
	}
	return t
}()

// output turns the decoded components into dst.
func (d *jpegDecoder) output(dst *RGB) error {
	if d.multiScan {
		d.inverseDCT()
	}
	w, h := d.width, d.height
	dst.resize(w, h)
	sc := d.scratch
	rows := make([][]byte, len(d.comps))
	bufs := make([][]byte, len(d.comps))
	colsum := grow(&sc.colsum, w+2)
	for i := range d.comps {
		c := &d.comps[i]
		if c.h != d.maxH || c.v != d.maxV {
			bufs[i] = make([]byte, w+16)
		}
	}
	for y := 0; y < h; y++ {
		for i := range d.comps {
			c := &d.comps[i]
			if bufs[i] == nil {
				rows[i] = c.plane[y*c.stride : y*c.stride+w]
				continue
			}
			rows[i] = d.upsampleRow(c, y, bufs[i], colsum)[:w]
		}
		out := dst.Pix[y*w*3 : (y+1)*w*3]
		switch d.colorSpace {
		case csGray:
			for x, v := range rows[0] {
				o := out[3*x : 3*x+3 : 3*x+3]
				o[0], o[1], o[2] = v, v, v
			}
		case csRGB:
			r, g, b := rows[0], rows[1][:len(rows[0])], rows[2][:len(rows[0])]
			for x := range r {
				o := out[3*x : 3*x+3 : 3*x+3]
				o[0], o[1], o[2] = r[x], g[x], b[x]
			}
		case csYCbCr:
			yy := rows[0]
			cb, cr := rows[1][:len(yy)], rows[2][:len(yy)]
			for x := range yy {
				Y := int32(yy[x])
				u, v := cb[x], cr[x]
				o := out[3*x : 3*x+3 : 3*x+3]
				o[0] = rangeLimit[(Y+crR[v]+384)&1023]
				o[1] = rangeLimit[(Y+(cbG[u]+crG[v])>>16+384)&1023]
				o[2] = rangeLimit[(Y+cbB[u]+384)&1023]
			}
		case csCMYK, csYCCK:
			cmykToRGB(out, rows, d.colorSpace == csYCCK)
		}
	}
	return nil
}

// cmykToRGB converts one row of 4-component samples as libjpeg (YCCK to
// CMYK) and then Pillow do: Pillow reads JPEG CMYK as Adobe-inverted
// ("CMYK;I"), then converts with R = K' - K'*(255-C')/255 where K' = 255-K
// of the inverted value, i.e. with the samples s as decoded:
// R = k - round((255-c)*k/255) in Pillow's integer arithmetic.
func cmykToRGB(out []byte, rows [][]byte, ycck bool) {
	c0, c1, c2, k := rows[0], rows[1], rows[2], rows[3]
	for x := range k {
		var c, m, yv byte
		if ycck {
			Y := int32(c0[x])
			u, v := c1[x], c2[x]
			c = clamp255(255 - (Y + crR[v]))
			m = clamp255(255 - (Y + (cbG[u]+crG[v])>>16))
			yv = clamp255(255 - (Y + cbB[u]))
		} else {
			c, m, yv = c0[x], c1[x], c2[x]
		}
		// Pillow's CMYK;I unpacking inverts every byte; cmyk2rgb then uses
		// nk = 255 - K(inverted) = k.
		nk := int32(k[x])
		out[3*x] = clamp255(nk - mulDiv255(255-int32(c), nk))
		out[3*x+1] = clamp255(nk - mulDiv255(255-int32(m), nk))
		out[3*x+2] = clamp255(nk - mulDiv255(255-int32(yv), nk))
	}
}

// mulDiv255 is Pillow's MULDIV255: a*b/255 rounded, with shifts.
func mulDiv255(a, b int32) int32 {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

// upsampleRow returns output row y of component c at full resolution.
func (d *jpegDecoder) upsampleRow(c *jpegComponent, y int, buf []byte, colsum []int32) []byte {
	hr, vr := d.maxH/c.h, d.maxV/c.v
	n := c.dsw
	row := func(k int) []byte {
		k = min(max(k, 0), c.dsh-1)
		return c.plane[k*c.stride : k*c.stride+n : k*c.stride+n]
	}
	switch {
	case hr == 2 && vr == 1 && n > 2:
		in := row(y)
		out := buf[:2*n]
		out[0] = in[0]
		out[1] = byte((3*int(in[0]) + int(in[1]) + 2) >> 2)
		for i := 1; i < n-1; i++ {
			v := 3 * int(in[i])
			o := out[2*i : 2*i+2 : 2*i+2]
			o[0] = byte((v + int(in[i-1]) + 1) >> 2)
			o[1] = byte((v + int(in[i+1]) + 2) >> 2)
		}
		out[2*n-2] = byte((3*int(in[n-1]) + int(in[n-2]) + 1) >> 2)
		out[2*n-1] = in[n-1]
		return out
	case hr == 1 && vr == 2:
		near, far, bias := vertNeighbours(row, y)
		out := buf[:n]
		far = far[:n]
		for i, v := range near {
			out[i] = byte((3*int(v) + int(far[i]) + bias) >> 2)
		}
		return out
	case hr == 2 && vr == 2 && n > 2:
		near, far, _ := vertNeighbours(row, y)
		cs := colsum[:n]
		far = far[:n]
		for i, v := range near {
			cs[i] = 3*int32(v) + int32(far[i])
		}
		out := buf[:2*n]
		out[0] = byte((cs[0]*4 + 8) >> 4)
		out[1] = byte((cs[0]*3 + cs[1] + 7) >> 4)
		for i := 1; i < n-1; i++ {
			v := 3 * cs[i]
			o := out[2*i : 2*i+2 : 2*i+2]
			o[0] = byte((v + cs[i-1] + 8) >> 4)
			o[1] = byte((v + cs[i+1] + 7) >> 4)
		}
		out[2*n-2] = byte((3*cs[n-1] + cs[n-2] + 8) >> 4)
		out[2*n-1] = byte((cs[n-1]*4 + 7) >> 4)
		return out
	default:
		// Replication: libjpeg's h2v1, h2v2 and generic integral upsamplers.
		in := row(y / vr)
		out := buf[:d.width]
		for x := range out {
			out[x] = in[x/hr]
		}
		return out
	}
}

// vertNeighbours returns, for output row y of a component upsampled 2:1
// vertically, its nearer input row, the next nearer one (above for even
// rows, below for odd rows; edges repeat) and the rounding bias libjpeg's
// h1v2 filter uses for that case.
func vertNeighbours(row func(int) []byte, y int) (near, far []byte, bias int) {
	k := y / 2
	if y%2 == 0 {
		return row(k), row(k - 1), 1
	}
	return row(k), row(k + 1), 2
}

// inverseDCT turns the stored coefficients of a multi-scan image into
// samples, with libjpeg's block smoothing where it applies.
func (d *jpegDecoder) inverseDCT() {
	if d.progressive && d.smoothingUseful() {
		d.smoothedIDCT()
		return
	}
	for i := range d.comps {
		c := &d.comps[i]
		q := c.quant
		if q == nil {
			q = &zeroQuant // a component no scan carried: all samples 128
		}
		for by := 0; by < c.bh; by++ {
			for bx := 0; bx < c.bw; bx++ {
				off := (by*c.bwPad + bx) * 64
				idctBlock((*[64]int16)(c.coefs[off:off+64]), q, c.plane[by*8*c.stride+bx*8:], c.stride)
			}
		}
	}
}

var zeroQuant [64]uint16
