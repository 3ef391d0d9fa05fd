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
// code's do.
func idctBlock(coef *[64]int16, q *[64]uint16, out []byte, stride int) {
	var dq [64]int16
	acZero := true
	for i := range dq {
		dq[i] = coef[i] * int16(q[i]) // the low 16 bits of the product
		if i >= 8 && coef[i] != 0 {
			acZero = false
		}
	}
	var ws [64]int16
	if acZero {
		// Rows 1 to 7 all zero: each column is its DC value << 2.
		for c := 0; c < 8; c++ {
			v := dq[c] << 2
			for r := 0; r < 8; r++ {
				ws[r*8+c] = v
			}
		}
	} else {
		for c := 0; c < 8; c++ {
			o := idct16(dq[c], dq[8+c], dq[16+c], dq[24+c], dq[32+c], dq[40+c], dq[48+c], dq[56+c], 11)
			for r := 0; r < 8; r++ {
				ws[r*8+c] = o[r]
			}
		}
	}
	for r := 0; r < 8; r++ {
		w := ws[r*8 : r*8+8 : r*8+8]
		o := idct16(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], 18)
		row := out[r*stride : r*stride+8 : r*stride+8]
		for i, v := range o {
			row[i] = clampSample(int64(v))
		}
	}
}

// idct16 is one 8-point pass on 16-bit inputs, descaled by shift and
// saturated to 16 bits, as the SIMD code computes it.
func idct16(x0, x1, x2, x3, x4, x5, x6, x7 int16, shift uint) (o [8]int16) {
	// Sums the SIMD code forms in 16-bit lanes.
	s04, d04 := int64(x0+x4), int64(x0-x4)
	z3, z4 := int64(x7+x3), int64(x5+x1)
	e0, e1, e2, e3, p1, p3, p5, p7 := idctParts(s04, d04, int64(x2), int64(x6), int64(x7), int64(x5), int64(x3), int64(x1), z3, z4)
	half := int64(1) << (shift - 1)
	out := [8]int64{e0 + p1, e1 + p3, e2 + p5, e3 + p7, e3 - p7, e2 - p5, e1 - p3, e0 - p1}
	for i, v := range out {
		o[i] = sat16((v + half) >> shift)
	}
	return o
}

// idctParts computes the even part (from x0+x4, x0-x4, x2, x6) and the odd
// part (from x7, x5, x3, x1 and the sums x7+x3, x5+x1) of the transform,
// scaled by 2^13.
func idctParts(s04, d04, x2, x6, x7, x5, x3, x1, z3, z4 int64) (e0, e1, e2, e3, p1, p3, p5, p7 int64) {
	e := (x2 + x6) * fix0541196100
	ea := e - x6*fix1847759065
	eb := e + x2*fix0765366865
	s04 <<= 13
	d04 <<= 13
	e0, e3 = s04+eb, s04-eb
	e1, e2 = d04+ea, d04-ea

	z5 := (z3 + z4) * fix1175875602
	za := (x7 + x1) * -fix0899976223
	zb := (x5 + x3) * -fix2562915447
	zc := z3*-fix1961570560 + z5
	zd := z4*-fix0390180644 + z5
	p7 = x7*fix0298631336 + za + zc
	p5 = x5*fix2053119869 + zb + zd
	p3 = x3*fix3072711026 + zb + zc
	p1 = x1*fix1501321110 + za + zd
	return
}

func sat16(v int64) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// clampSample maps an IDCT output (centred on 0) to a sample, saturating.
func clampSample(v int64) byte {
	v += 128
	if uint64(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return byte(v)
}
