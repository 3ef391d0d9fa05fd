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

// dwImage convolves one image src [h][h][c] (raw, normalized on the fly
// with nm) into dst [oh][oh][c] and accumulates dst's statistics into st.
func (w *worker) dwImage(d *dwWeights, src []float32, h int, nm *affine, dst []float32, st partial) {
	ks := w.ks
	c, k, s := d.c, d.k, d.stride
	p := k / 2
	oh := (h-1)/s + 1
	pw := h + 2*p
	for _, ch := range d.chunks {
		cb := ch.cb
		plane := w.plane[:pw*pw*cb]
		zeroBorders(plane, h, p, cb)
		c0 := ch.c0
		ks.transform(&tfJob{
			dst: plane[(p*pw+p)*cb:], dR: pw * cb, dP: cb,
			src: src[c0:], sR: h * c, sP: c,
			rows: h, cols: h, n: cb,
			nm: nm, c0: c0,
		})
		ks.dw(&dwJob{
			plane: plane, planeRow: pw * cb, w: ch.w,
			out: dst[c0:], oR: oh * c, oP: c, oh: oh, ow: oh,
			k: k, stride: s, cb: cb,
		})
		sub := partial{shift: st.shift[c0 : c0+cb], sum: st.sum[c0 : c0+cb], sq: st.sq[c0 : c0+cb]}
		initShift(sub, dst[c0:], cb)
		ks.stats(&statsJob{src: dst[c0:], rows: oh * oh, n: cb, ld: c, shift: sub.shift, sum: sub.sum, sq: sub.sq})
	}
}

// zeroBorders clears the padding of a plane [h+2p][h+2p][cb].
func zeroBorders(plane []float32, h, p, cb int) {
	pw := h + 2*p
	row := pw * cb
	clear(plane[:p*row])
	clear(plane[(p+h)*row : pw*row])
	for y := p; y < p+h; y++ {
		clear(plane[y*row : y*row+p*cb])
		clear(plane[y*row+(p+h)*cb : (y+1)*row])
	}
}
