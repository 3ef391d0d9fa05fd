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

// idct8 computes the 8-point inverse transform (scaled by 2^13) of x0..x7.
func idct8(x0, x1, x2, x3, x4, x5, x6, x7 int64) (o0, o1, o2, o3, o4, o5, o6, o7 int64) {
	// even part: x0, x2, x4, x6
	e := (x2 + x6) * fix0541196100
	ea := e - x6*fix1847759065
	eb := e + x2*fix0765366865
	s04 := (x0 + x4) << 13
	d04 := (x0 - x4) << 13
	e0, e3 := s04+eb, s04-eb
	e1, e2 := d04+ea, d04-ea

	// odd part: x7, x5, x3, x1
	z5 := (x7 + x5 + x3 + x1) * fix1175875602
	za := (x7 + x1) * -fix0899976223
	zb := (x5 + x3) * -fix2562915447
	zc := (x7+x3)*-fix1961570560 + z5
	zd := (x5+x1)*-fix0390180644 + z5
	p7 := x7*fix0298631336 + za + zc
	p5 := x5*fix2053119869 + zb + zd
	p3 := x3*fix3072711026 + zb + zc
	p1 := x1*fix1501321110 + za + zd

	return e0 + p1, e1 + p3, e2 + p5, e3 + p7, e3 - p7, e2 - p5, e1 - p3, e0 - p1
}

// idctBlock dequantizes a block of coefficients (natural order) with q and
// writes its 8x8 samples to out (rows stride bytes apart).
func idctBlock(coef *[64]int16, q *[64]uint16, out []byte, stride int) {
	var ws [64]int32
	for c := 0; c < 8; c++ {
		// libjpeg keeps quantizers as 16-bit signed multipliers.
		dq := func(r int) int64 { return int64(int32(coef[r*8+c]) * int32(int16(q[r*8+c]))) }
		if coef[8+c] == 0 && coef[16+c] == 0 && coef[24+c] == 0 && coef[32+c] == 0 &&
			coef[40+c] == 0 && coef[48+c] == 0 && coef[56+c] == 0 {
			v := int32(dq(0) << 2)
			for r := 0; r < 8; r++ {
				ws[r*8+c] = v
			}
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := idct8(dq(0), dq(1), dq(2), dq(3), dq(4), dq(5), dq(6), dq(7))
		const half = 1 << 10
		ws[0*8+c] = int32((o0 + half) >> 11)
		ws[1*8+c] = int32((o1 + half) >> 11)
		ws[2*8+c] = int32((o2 + half) >> 11)
		ws[3*8+c] = int32((o3 + half) >> 11)
		ws[4*8+c] = int32((o4 + half) >> 11)
		ws[5*8+c] = int32((o5 + half) >> 11)
		ws[6*8+c] = int32((o6 + half) >> 11)
		ws[7*8+c] = int32((o7 + half) >> 11)
	}
	for r := 0; r < 8; r++ {
		w := ws[r*8 : r*8+8 : r*8+8]
		row := out[r*stride : r*stride+8 : r*stride+8]
		if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
			v := clampSample((int64(w[0]) + 16) >> 5)
			for i := range row {
				row[i] = v
			}
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := idct8(int64(w[0]), int64(w[1]), int64(w[2]), int64(w[3]),
			int64(w[4]), int64(w[5]), int64(w[6]), int64(w[7]))
		const half = 1 << 17
		row[0] = clampSample((o0 + half) >> 18)
		row[1] = clampSample((o1 + half) >> 18)
		row[2] = clampSample((o2 + half) >> 18)
		row[3] = clampSample((o3 + half) >> 18)
		row[4] = clampSample((o4 + half) >> 18)
		row[5] = clampSample((o5 + half) >> 18)
		row[6] = clampSample((o6 + half) >> 18)
		row[7] = clampSample((o7 + half) >> 18)
	}
}

// clampSample maps an IDCT output (centred on 0) to a sample, saturating
// as libjpeg-turbo's SIMD IDCTs do.
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
