package native

// A 1x1 convolution over one NHWC image of p pixels is the row-major GEMM
// C[p×n] = A[p×k]·B[k×n], with A the input pixels and B the transposed
// weights. B is packed once per kernel set into panels of the widths the
// set's tile kernel takes; A is read in place when it needs no
// normalization, or normalized block by block into a small buffer that
// stays in cache while every panel runs over it.

// panel is one packed slice of B: output columns [col, col+valid), stored
// width columns wide (zero beyond valid) at data[off:].
type panel struct {
	col, width, valid, off int
}

// pwWeights is the packed right-hand side of one GEMM.
type pwWeights struct {
	k, n   int
	panels []panel
	data   []float32
}

// packB packs B for ks, reading B[t][j] (t < k, j < n) through at.
func packB(ks *kernelSet, k, n int, at func(t, j int) float32) *pwWeights {
	pw := &pwWeights{k: k, n: n}
	col := 0
	for _, width := range ks.panelWidths(n) {
		p := panel{col: col, width: width, valid: min(width, n-col), off: len(pw.data)}
		buf := make([]float32, k*width)
		for t := range k {
			for j := range p.valid {
				buf[t*width+j] = at(t, col+j)
			}
		}
		pw.data = append(pw.data, buf...)
		pw.panels = append(pw.panels, p)
		col += p.valid
	}
	return pw
}

// blockTiles is how many tiles of rows one normalized block of A holds.
const blockTiles = 4

// aFill provides rows [lo, hi) of the GEMM's left-hand side, k floats
// each, for inputs that need normalizing or gathering first (im2col of the
// first convolution): it returns where row lo starts and the row stride,
// either scratch (room for hi−lo rows) or rows it has written elsewhere.
// Calls come with increasing hi.
type aFill func(scratch []float32, lo, hi int) (a []float32, lda int)

// gemmImage computes dst[p×n] = A·B for one image and accumulates dst's
// per-channel statistics into st (unless st is the zero partial). A is src (row stride lds) when fill is
// nil, else what fill produces.
func (w *worker) gemmImage(pw *pwWeights, src []float32, lds int, fill aFill, p int, dst []float32, st partial) {
	ks := w.ks
	mr, k, n := ks.mr, pw.k, pw.n
	if p < mr {
		// Too few rows for one tile: compute a padded tile aside.
		a := w.tileA[:mr*k]
		clear(a)
		if fill != nil {
			src, lds = fill(a, 0, p)
		}
		if &src[0] != &a[0] || lds != k {
			for i := range p {
				copy(a[i*k:(i+1)*k], src[i*lds:i*lds+k])
			}
		}
		c := w.tileC[:mr*n]
		for _, pn := range pw.panels {
			ks.gemm(k, a, k, pw.data[pn.off:pn.off+k*pn.width], pn.width, c[pn.col:], n, pn.valid)
		}
		copy(dst[:p*n], c[:p*n])
		if st.sum != nil {
			initShift(st, dst, n)
			ks.stats(statsJob{src: dst, rows: p, n: n, ld: n, shift: st.shift, sum: st.sum, sq: st.sq})
		}
		return
	}
	// Tiles start every mr rows; the last one is moved back to end at
	// row p, recomputing a few rows (with identical results) rather than
	// running a partial tile.
	tiles := (p + mr - 1) / mr
	start := func(t int) int { return min(t*mr, p-mr) }
	done := 0
	for t0 := 0; t0 < tiles; t0 += blockTiles {
		t1 := min(t0+blockTiles, tiles)
		lo, hi := start(t0), start(t1-1)+mr
		a, lda, base := src, lds, 0
		if fill != nil {
			a, lda = fill(w.blockA[:(hi-lo)*k], lo, hi)
			base = lo
		}
		for t := t0; t < t1; t++ {
			r := start(t)
			at := a[(r-base)*lda:]
			ct := dst[r*n:]
			for _, pn := range pw.panels {
				ks.gemm(k, at, lda, pw.data[pn.off:pn.off+k*pn.width], pn.width, ct[pn.col:], n, pn.valid)
			}
		}
		if st.sum != nil {
			if done == 0 {
				initShift(st, dst, n)
			}
			ks.stats(statsJob{src: dst[done*n:], rows: hi - done, n: n, ld: n, shift: st.shift, sum: st.sum, sq: st.sq})
		}
		done = hi
	}
}

// normFill returns the aFill that normalizes rows of src (k channels each)
// with nm.
func (w *worker) normFill(src []float32, k int, nm *affine) aFill {
	return func(dst []float32, lo, hi int) ([]float32, int) {
		w.ks.transform(tfJob{
			dst: dst, dP: k, src: src[lo*k:], sP: k,
			rows: 1, cols: hi - lo, n: k,
			nm: nm,
		})
		return dst, k
	}
}

// blockEnd is a block's output not yet materialized: its projection's raw
// output, normalized with nm, plus the block's input when add is set. The
// next dense layer computes it row block by row block while it reads it
// (blockEnd.fill), so the block output is read from memory once.
type blockEnd struct {
	raw []float32 // the batch's raw projection outputs, per image pixels×c
	nm  *affine
	c   int
	add bool
}

// fill returns the aFill that computes image i's block output rows: into
// the residual stream resid (the image's pixels×c floats) when keep is set,
// because a later block adds it again, else into the GEMM's scratch.
func (w *worker) endFill(e *blockEnd, raw, resid []float32, keep bool) aFill {
	done := 0
	c := e.c
	return func(scratch []float32, lo, hi int) ([]float32, int) {
		job := tfJob{src: raw[lo*c:], sP: c, rows: 1, n: c, nm: e.nm, add: e.add}
		if !keep {
			if e.add {
				copy(scratch[:(hi-lo)*c], resid[lo*c:hi*c])
			}
			job.dst, job.dP, job.cols = scratch, c, hi-lo
			w.ks.transform(job)
			return scratch, c
		}
		// Rows below done already hold the block output.
		from := max(lo, done)
		job.src, job.dst, job.dP, job.cols = raw[from*c:], resid[from*c:], c, hi-from
		if hi > from {
			w.ks.transform(job)
		}
		done = max(done, hi)
		return resid[lo*c:], c
	}
}
