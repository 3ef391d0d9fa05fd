package native

// A depthwise convolution runs per image and channel chunk: the chunk's
// input is normalized into a zero-padded plane [H+2p][W+2p][cb] (padding
// applies to the normalized activation, so it cannot be folded into the
// raw tensor), then the kernel slides over the plane.

// dwWeights is a depthwise convolution's kernel split into chunks.
type dwWeights struct {
	c, k, stride int
	chunks       []dwChunk
}

type dwChunk struct {
	c0, cb int
	w      []float32 // [k][k][cb]
}

// packDW packs OIHW depthwise weights [c][1][k][k] into chunks for ks.
func packDW(ks *kernelSet, c, k, stride int, weight []float32) *dwWeights {
	d := &dwWeights{c: c, k: k, stride: stride}
	c0 := 0
	for _, cb := range ks.chunkWidths(c) {
		ch := dwChunk{c0: c0, cb: cb, w: make([]float32, k*k*cb)}
		for j := range cb {
			for t := range k * k {
				ch.w[t*cb+j] = weight[(c0+j)*k*k+t]
			}
		}
		d.chunks = append(d.chunks, ch)
		c0 += cb
	}
	return d
}

// bandFloats bounds a depthwise band buffer (~384 KB) so that it stays in
// L2 while every channel chunk runs over it.
const bandFloats = 96 << 10

// bandRows is how many padded input rows of pw pixels of pix floats a
// band holds for a kernel of k rows: at least k.
func bandRows(pw, pix, k int) int { return max(k, bandFloats/(pw*pix)) }

// bandPixel is the stride in floats of a band's pixels of c channels. A
// chunk kernel reads one vector of every pixel of its window rows; were
// pixels an even number of cache lines apart, those reads would fall in
// a fraction of L1's sets and evict each other, so such strides get one
// more line.
func bandPixel(c int) int {
	if c%32 == 0 {
		return c + 16
	}
	return c
}

// dwImage convolves one image src [h][h][c] (raw, normalized on the fly
// with nm) into dst [oh][oh][c] and accumulates dst's statistics into st
// (unless st is the zero partial).
// It works in bands of output rows: the input rows a band needs are
// normalized whole (all channels, read contiguously) into a padded buffer,
// rows shared with the previous band are moved rather than recomputed,
// and each channel chunk's kernel then runs over the buffer.
func (w *worker) dwImage(d *dwWeights, src []float32, h int, nm *affine, dst []float32, st partial) {
	ks := w.ks
	c, k, s := d.c, d.k, d.stride
	p := k / 2
	oh := (h-1)/s + 1
	pw := h + 2*p
	pix := bandPixel(c)
	row := pw * pix
	rows := min(bandRows(pw, pix, k), len(w.plane)/row)
	perBand := (rows-k)/s + 1
	band := w.plane
	have0, have1 := 0, 0 // input rows [have0, have1) are in the band
	for oy0 := 0; oy0 < oh; oy0 += perBand {
		nb := min(perBand, oh-oy0)
		lo := oy0*s - p
		hi := lo + (nb-1)*s + k
		kept := 0
		if lo >= have0 && lo < have1 {
			kept = have1 - lo
			copy(band[:kept*row], band[(lo-have0)*row:(have1-have0)*row])
		}
		for iy := lo + kept; iy < hi; iy++ {
			r := band[(iy-lo)*row : (iy-lo+1)*row]
			if iy < 0 || iy >= h {
				clear(r)
				continue
			}
			clear(r[:p*pix])
			clear(r[(p+h)*pix:])
			ks.transform(tfJob{dst: r[p*pix:], dP: pix, src: src[iy*h*c:], sP: c, rows: 1, cols: h, n: c, nm: nm})
		}
		have0, have1 = lo, hi
		for _, ch := range d.chunks {
			ks.dw(dwJob{
				plane: band[ch.c0:], planeRow: row, pix: pix, w: ch.w,
				out: dst[oy0*oh*c+ch.c0:], oR: oh * c, oP: c, oh: nb, ow: oh,
				k: k, stride: s, cb: ch.cb,
			})
		}
		out := dst[oy0*oh*c : (oy0+nb)*oh*c]
		if st.sum == nil {
			continue
		}
		if oy0 == 0 {
			initShift(st, out, c)
		}
		ks.stats(statsJob{src: out, rows: nb * oh, n: c, ld: c, shift: st.shift, sum: st.sum, sq: st.sq})
	}
}
