package imaging

// The integer inverse DCT of libjpeg ("islow", jidctint.c): the
// Loeffler-Ligtenberg-Moschytz factorization with 13-bit fixed-point
// constants, a column pass whose results keep 2 extra fraction bits
// (rounded and stored as 32-bit integers), then a row pass rounded to
// integers and shifted by +128 into the sample range. Only the integer
// results matter, and every intermediate fits in 64 bits, so any order of
// the exact additions gives the same samples.

const (
	fix0298631336 = 2446
	fix0390180644 = 3196
	fix0541196100 = 4433
	fix0765366865 = 6270
	fix0899976223 = 7373
	fix1175875602 = 9633
	fix1501321110 = 12299
	fix1847759065 = 15137
	fix1961570560 = 16069
	fix2053119869 = 16819
	fix2562915447 = 20995
	fix3072711026 = 25172
)

// idctBlock dequantizes a block of coefficients (natural order) with q and
// writes its 8x8 samples to out (rows stride bytes apart).
//
// It computes what libjpeg-turbo's x86-64 SIMD islow IDCT computes (the
// code Pillow runs on such machines): the same integer transform as
// jidctint.c, in 16-bit lanes. For any block whose dequantized values and
// column-pass results fit in 16 bits (every valid JPEG) that is exactly
// jidctint.c's result; corrupt data can overflow, and then the lanes wrap
// (dequantized values, the sums in0+in4, in0-in4, in7+in3 and in5+in1) or
// saturate (pass results, and the final samples to 0..255) as the SIMD
// code's do. The 32-bit arithmetic below wraps too, but every value it
// returns fits in 32 bits, so it is exact.
func idctBlock(coef *[64]int16, q *[64]uint16, out []byte, stride int) {
	var acOr int16
	for _, v := range coef[8:] {
		acOr |= v
	}
	var ws [64]int16
	if acOr == 0 {
		// Rows 1 to 7 all zero: each column is its DC value << 2.
		for c := 0; c < 8; c++ {
			v := (coef[c] * int16(q[c])) << 2
			ws[c], ws[8+c], ws[16+c], ws[24+c], ws[32+c], ws[40+c], ws[48+c], ws[56+c] = v, v, v, v, v, v, v, v
		}
	} else {
		for c := 0; c < 8; c++ {
			// Dequantize: the low 16 bits of the product.
			x0 := int32(coef[c] * int16(q[c]))
			x1 := int32(coef[8+c] * int16(q[8+c]))
			x2 := int32(coef[16+c] * int16(q[16+c]))
			x3 := int32(coef[24+c] * int16(q[24+c]))
			x4 := int32(coef[32+c] * int16(q[32+c]))
			x5 := int32(coef[40+c] * int16(q[40+c]))
			x6 := int32(coef[48+c] * int16(q[48+c]))
			x7 := int32(coef[56+c] * int16(q[56+c]))
			if x1|x2|x3|x4|x5|x6|x7 == 0 {
				// What the full pass gives a column with only a DC value.
				v := sat16(4 * x0)
				ws[c], ws[8+c], ws[16+c], ws[24+c], ws[32+c], ws[40+c], ws[48+c], ws[56+c] = v, v, v, v, v, v, v, v
				continue
			}
			o0, o1, o2, o3, o4, o5, o6, o7 := idctPass(x0, x1, x2, x3, x4, x5, x6, x7)
			const h = 1 << 10
			ws[c] = sat16((o0 + h) >> 11)
			ws[8+c] = sat16((o1 + h) >> 11)
			ws[16+c] = sat16((o2 + h) >> 11)
			ws[24+c] = sat16((o3 + h) >> 11)
			ws[32+c] = sat16((o4 + h) >> 11)
			ws[40+c] = sat16((o5 + h) >> 11)
			ws[48+c] = sat16((o6 + h) >> 11)
			ws[56+c] = sat16((o7 + h) >> 11)
		}
	}
	for r := 0; r < 8; r++ {
		w := ws[r*8 : r*8+8 : r*8+8]
		row := out[r*stride : r*stride+8 : r*stride+8]
		x0, x1, x2, x3 := int32(w[0]), int32(w[1]), int32(w[2]), int32(w[3])
		x4, x5, x6, x7 := int32(w[4]), int32(w[5]), int32(w[6]), int32(w[7])
		if x1|x2|x3|x4|x5|x6|x7 == 0 {
			v := clampSample((x0 + 16) >> 5)
			row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = v, v, v, v, v, v, v, v
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := idctPass(x0, x1, x2, x3, x4, x5, x6, x7)
		const h = 1 << 17
		row[0] = clampSample((o0 + h) >> 18)
		row[1] = clampSample((o1 + h) >> 18)
		row[2] = clampSample((o2 + h) >> 18)
		row[3] = clampSample((o3 + h) >> 18)
		row[4] = clampSample((o4 + h) >> 18)
		row[5] = clampSample((o5 + h) >> 18)
		row[6] = clampSample((o6 + h) >> 18)
		row[7] = clampSample((o7 + h) >> 18)
	}
}

// idctPass is one 8-point pass (scaled by 2^13) on 16-bit inputs; the
// sums in0+in4, in0-in4, in7+in3 and in5+in1 wrap to 16 bits as in the
// SIMD lanes.
func idctPass(x0, x1, x2, x3, x4, x5, x6, x7 int32) (o0, o1, o2, o3, o4, o5, o6, o7 int32) {
	s04 := int32(int16(x0+x4)) << 13
	d04 := int32(int16(x0-x4)) << 13
	z3, z4 := int32(int16(x7+x3)), int32(int16(x5+x1))

	e := (x2 + x6) * fix0541196100
	ea := e - x6*fix1847759065
	eb := e + x2*fix0765366865
	e0, e3 := s04+eb, s04-eb
	e1, e2 := d04+ea, d04-ea

	z5 := (z3 + z4) * fix1175875602
	za := (x7 + x1) * -fix0899976223
	zb := (x5 + x3) * -fix2562915447
	zc := z3*-fix1961570560 + z5
	zd := z4*-fix0390180644 + z5
	p7 := x7*fix0298631336 + za + zc
	p5 := x5*fix2053119869 + zb + zd
	p3 := x3*fix3072711026 + zb + zc
	p1 := x1*fix1501321110 + za + zd

	return e0 + p1, e1 + p3, e2 + p5, e3 + p7, e3 - p7, e2 - p5, e1 - p3, e0 - p1
}

func sat16(v int32) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// clampSample maps an IDCT output (centred on 0, at most 16 bits) to a
// sample, saturating as the SIMD code's packsswb does.
func clampSample(v int32) byte {
	return sampleLimit[(v+sampleLimitOffset)&(1<<17-1)]
}

// sampleLimit maps v+sampleLimitOffset to clamp(v+128, 0, 255) for v in
// [-65536, 65535]: the 16-bit saturated range and more.
const sampleLimitOffset = 1 << 16

var sampleLimit = func() (t [1 << 17]byte) {
	for i := range t {
		t[i] = byte(min(max(i-sampleLimitOffset+128, 0), 255))
	}
	return t
}()
