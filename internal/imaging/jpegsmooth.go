package imaging

// Block smoothing (libjpeg-turbo 2.1's decompress_smooth_data). When a
// progressive file leaves some of the first nine AC coefficients of a
// component less than fully coded (a scan script that stops early), the
// decoder estimates each such coefficient that is still zero from the DC
// values of the 5x5 neighbourhood of blocks, and, when none of those nine
// coefficients was ever sent, smooths the DC value too. Complete files,
// whatever their scan script, never take this path.

// smoothPositions are the natural-order positions of zigzag coefficients
// 1 to 9.
var smoothPositions = [10]int{0, 1, 8, 16, 9, 2, 3, 10, 17, 24}

// dcWeights[k] is the 5x5 weight matrix (rows top to bottom: two block
// rows above to two below; columns two blocks left to two right) that
// estimates zigzag coefficient k (1..9) when the DC values are being
// smoothed too; dcWeights[0] smooths the DC value itself (its weights sum
// to 256).
var dcWeights = [10][25]int64{
	{-2, -6, -8, -6, -2, -6, 6, 42, 6, -6, -8, 42, 152, 42, -8, -6, 6, 42, 6, -6, -2, -6, -8, -6, -2},
	{-1, -1, 0, 1, 1, -3, 13, 0, -13, 3, -3, 38, 0, -38, 3, -3, 13, 0, -13, 3, -1, -1, 0, 1, 1},
	{-1, -3, -3, -3, -1, -1, 13, 38, 13, -1, 0, 0, 0, 0, 0, 1, -13, -38, -13, 1, 1, 3, 3, 3, 1},
	{0, 0, 1, 0, 0, 0, 2, 7, 2, 0, 0, -5, -14, -5, 0, 0, 2, 7, 2, 0, 0, 0, 1, 0, 0},
	{-1, 0, 0, 0, 1, 0, 9, 0, -9, 0, 0, 0, 0, 0, 0, 0, -9, 0, 9, 0, 1, 0, 0, 0, -1},
	{0, 0, 0, 0, 0, 0, 2, -5, 2, 0, 1, 7, -14, 7, 1, 0, 2, -5, 2, 0, 0, 0, 0, 0, 0},
	{0, 0, 0, 0, 0, 0, 1, 0, -1, 0, 0, 2, 0, -2, 0, 0, 1, 0, -1, 0, 0, 0, 0, 0, 0},
	{0, 0, 0, 0, 0, 0, 1, -3, 1, 0, 0, 0, 0, 0, 0, 0, -1, 3, -1, 0, 0, 0, 0, 0, 0},
	{0, 0, 0, 0, 0, 0, 1, 0, -1, 0, 0, -3, 0, 3, 0, 0, 1, 0, -1, 0, 0, 0, 0, 0, 0},
	{0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, -1, -2, -1, 0, 0, 0, 0, 0, 0},
}

// acWeights[k] estimates zigzag coefficient k (1..5) when the DC values are
// kept (the JPEG specification's K.8 predictor, widened to 5x5).
var acWeights = [6][25]int64{
	{},
	{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -7, 50, 0, -50, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	{0, 0, -7, 0, 0, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, -50, 0, 0, 0, 0, 7, 0, 0},
	{0, 0, -1, 0, 0, 0, 0, 13, 0, 0, 0, 0, -24, 0, 0, 0, 0, 13, 0, 0, 0, 0, -1, 0, 0},
	{0, -1, 0, 1, 0, -1, 10, 0, -10, 1, 0, 0, 0, 0, 0, 1, -10, 0, 10, -1, 0, 1, 0, -1, 0},
	{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 13, -24, 13, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
}

// smoothingUseful is libjpeg's smoothing_ok for a fully read file.
func (d *jpegDecoder) smoothingUseful() bool {
	useful := false
	for i := range d.comps {
		c := &d.comps[i]
		q := c.quant
		if q == nil {
			return false
		}
		for _, p := range smoothPositions {
			if q[p] == 0 {
				return false
			}
		}
		bits := &d.coefBits[i]
		if bits[0] < 0 {
			return false
		}
		for k := 1; k <= 9; k++ {
			if bits[k] != 0 {
				useful = true
			}
		}
	}
	return useful
}

// smoothedIDCT runs the inverse DCT of every block with block smoothing.
func (d *jpegDecoder) smoothedIDCT() {
	lastIMCURow := d.mcusY - 1 // libjpeg's total_iMCU_rows - 1
	for ci := range d.comps {
		c := &d.comps[ci]
		var final, prev [10]int
		copy(final[:], d.coefBits[ci][:10])
		for k := 1; k <= 9; k++ {
			prev[k] = -1
			if d.scanNumber > 1 {
				prev[k] = d.prevCoefBits[ci][k]
			}
		}
		q := c.quant
		var qv [10]int64
		for k, p := range smoothPositions {
			qv[k] = int64(q[p])
		}
		for imcu := 0; imcu <= lastIMCURow; imcu++ {
			blockRows := c.v
			if imcu == lastIMCURow {
				blockRows = c.bh % c.v
				if blockRows == 0 {
					blockRows = c.v
				}
			}
			bits := &final
			if imcu > d.lastGoodIMCURow {
				bits = &prev
			}
			changeDC := true
			for k := 1; k <= 9; k++ {
				if bits[k] != -1 {
					changeDC = false
				}
			}
			for br := 0; br < blockRows; br++ {
				row := imcu*c.v + br
				// Which block rows stand in for the two above and the two
				// below: libjpeg only looks as far as its buffer window.
				var rows [5]int
				rows[2] = row
				rows[1] = row
				if br > 0 || imcu > 0 {
					rows[1] = row - 1
				}
				rows[0] = rows[1]
				if br > 1 || imcu > 1 {
					rows[0] = row - 2
				}
				rows[3] = row
				if br < blockRows-1 || imcu < lastIMCURow {
					rows[3] = row + 1
				}
				rows[4] = rows[3]
				if br < blockRows-2 || imcu+1 < lastIMCURow {
					rows[4] = row + 2
				}
				d.smoothRow(c, rows, bits, changeDC, &qv)
			}
		}
	}
}

// smoothRow smooths and transforms the blocks of one block row. The 5x5 DC
// window slides along the row as libjpeg's registers do: at the left edge
// the missing columns repeat the first block, at the right edge they keep
// the last value loaded.
func (d *jpegDecoder) smoothRow(c *jpegComponent, rows [5]int, bits *[10]int, changeDC bool, qv *[10]int64) {
	dcAt := func(r, bx int) int64 {
		return int64(c.coefs[(rows[r]*c.bwPad+bx)*64])
	}
	var win [25]int64 // win[r*5+col]
	for r := 0; r < 5; r++ {
		v := dcAt(r, 0)
		for col := 0; col < 5; col++ {
			win[r*5+col] = v
		}
	}
	last := c.bw - 1
	row := rows[2]
	for bx := 0; bx <= last; bx++ {
		if bx == 0 && bx < last {
			for r := 0; r < 5; r++ {
				win[r*5+3] = dcAt(r, 1)
			}
		}
		if bx+1 < last {
			for r := 0; r < 5; r++ {
				win[r*5+4] = dcAt(r, bx+2)
			}
		}
		off := (row*c.bwPad + bx) * 64
		ws := *(*[64]int16)(c.coefs[off : off+64])
		limit := 5
		if changeDC {
			limit = 9
		}
		for k := 1; k <= limit; k++ {
			al := bits[k]
			p := smoothPositions[k]
			if al == 0 || ws[p] != 0 {
				continue
			}
			var wt *[25]int64
			if changeDC {
				wt = &dcWeights[k]
			} else {
				wt = &acWeights[k]
			}
			ws[p] = int16(smoothPredict(qv[0]*weigh(wt, &win), qv[k], al, true))
		}
		if changeDC {
			ws[0] = int16(smoothPredict(qv[0]*weigh(&dcWeights[0], &win), qv[0], 0, false))
		}
		idctBlock(&ws, c.quant, c.plane[row*8*c.stride+bx*8:], c.stride)
		for r := 0; r < 5; r++ {
			w := win[r*5 : r*5+5]
			w[0], w[1], w[2], w[3] = w[1], w[2], w[3], w[4]
		}
	}
}

func weigh(w *[25]int64, win *[25]int64) int64 {
	var s int64
	for i := range w {
		s += w[i] * win[i]
	}
	return s
}

// smoothPredict rounds num/(q*256) to an integer, limited below 2^al in
// magnitude when the coefficient's low al bits are still unknown.
func smoothPredict(num, q int64, al int, limit bool) int64 {
	neg := num < 0
	if neg {
		num = -num
	}
	pred := ((q << 7) + num) / (q << 8)
	if limit && al > 0 && pred >= 1<<al {
		pred = 1<<al - 1
	}
	if neg {
		pred = -pred
	}
	return pred
}
