package native

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/supernet"
)

// DefaultMemoryLimit is the activation memory a Calibrator may hold unless
// [Options.MemoryLimit] says otherwise: enough for batches of 200 of the
// largest w1.2 subnet at 224 (about 2.4 GB).
const DefaultMemoryLimit int64 = 4 << 30

// Options tunes a Calibrator. The zero value is the default.
type Options struct {
	// MemoryLimit caps [MemoryBytes] for the largest batch; 0 means
	// DefaultMemoryLimit.
	MemoryLimit int64
	// Threads is the number of goroutines a batch runs on; 0 means
	// runtime.GOMAXPROCS(0) at each call.
	Threads int
	// Reuse, when set, is a calibrator done with (of any net) whose
	// activation buffers the new one takes over, growing them only where
	// they are too small; Reuse is closed. A program that runs many
	// subnets one after another (the zero-cost proxy) thus allocates and
	// faults in a batch's memory once, not for every subnet. The buffers'
	// old contents do not matter: every value is written before it is read.
	Reuse *Calibrator
}

// Calibrator measures a subnet's BatchNorm statistics batch by batch
// (BatchStats), and runs it in eval mode (Forward). It packs the weights
// once and keeps pointers to the net's BatchNorms, so the net must not
// change while it is in use. It is not safe for concurrent use: one batch
// runs at a time, on several goroutines.
type Calibrator struct {
	net      *supernet.Net
	ks       *kernelSet
	maxBatch int
	opts     Options
	r        int
	plan     plan
	size     sizes

	head              *headPlan // packed at the first Forward
	buf1, buf2, resid []float32
	proj              []float32 // raw projection outputs, sized as resid
	workers           []*worker
	ls                layerStats
	codeBuf           []uint64 // ActivationCodes' bits
	closed            bool
}

// plan is a subnet turned into the layers the engine runs, with weights
// packed for its kernel set.
type plan struct {
	first  convLayer
	blocks []blockPlan
	final  convLayer
}

// convLayer is a convolution whose BatchNorm runs on batch statistics.
type convLayer struct {
	bn   *supernet.BatchNorm
	bias []float32 // the convolution's bias, or nil
	act  act       // applied after the BatchNorm, by the consumer
	c    int       // output channels
	outH int
	pw   *pwWeights // 1x1 convolutions and the first conv (as im2col)
	dw   *dwWeights // depthwise convolutions
}

type blockPlan struct {
	expand   *convLayer // nil for the first block
	dw       convLayer
	se       *sePlan
	project  convLayer
	residual bool
}

// sePlan holds squeeze-and-excitation weights transposed for gemv.
type sePlan struct {
	mid, width    int
	reduce, rbias []float32 // reduce[t*width+j] = W_reduce[j][t]
	expand, ebias []float32 // expand[t*mid+j] = W_expand[j][t]
}

// sizes are the per-image buffer lengths in floats, and the per-worker
// scratch bounds, over every layer of the plan.
type sizes struct {
	buf1, buf2, resid int // per image
	kMax, nMax        int // GEMM inner and output widths
	plane, seT        int
	seMid, seWidth    int
}

// NewCalibrator prepares net for batches of up to maxBatch images with the
// default options.
func NewCalibrator(net *supernet.Net, maxBatch int) (*Calibrator, error) {
	return NewCalibratorOptions(net, maxBatch, Options{})
}

// NewCalibratorOptions prepares net for batches of up to maxBatch images.
// It checks the net and the memory a full batch needs ([MemoryBytes])
// against the limit, and packs the weights; activation buffers are
// allocated at the first batch, for that batch's size.
func NewCalibratorOptions(net *supernet.Net, maxBatch int, opts Options) (*Calibrator, error) {
	if err := export.CheckNet(net); err != nil {
		return nil, fmt.Errorf("native calibrator: %w", err)
	}
	if maxBatch <= 0 {
		return nil, fmt.Errorf("native calibrator: batch size %d must be positive", maxBatch)
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("native calibrator: %d threads: want 0 (one per GOMAXPROCS) or more", opts.Threads)
	}
	limit := opts.MemoryLimit
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	c := &Calibrator{net: net, ks: bestKernels(), maxBatch: maxBatch, opts: opts, r: net.Config.R}
	c.plan = buildPlan(net, c.ks)
	c.size = layerSizes(net.Space.Layers(net.Config, nil))
	if need := c.memoryBytes(maxBatch); need > limit {
		return nil, fmt.Errorf("native calibrator: batches of %d images of %s at %d need %.2f GB of activations, over the limit of %.2f GB: use smaller batches (at most %d) or raise Options.MemoryLimit",
			maxBatch, net.Space.Name, c.r, float64(need)/1e9, float64(limit)/1e9, c.maxFitting(limit))
	}
	if old := opts.Reuse; old != nil && !old.closed {
		c.buf1, c.buf2, c.resid, c.proj, c.codeBuf = old.buf1, old.buf2, old.resid, old.proj, old.codeBuf
		old.Close()
	}
	c.opts.Reuse = nil
	return c, nil
}

// MemoryBytes returns what a Calibrator for net holds while it runs a batch
// of n images: four activation buffers of n images each,
//
//	4·n·(A + D + 2·R) bytes,
//
// where A is the largest per-image output of a dense layer (the first
// conv, an expand, a project or the final expand: pixels × channels), D
// the largest depthwise output and R the largest block output (one buffer
// for the residual stream, one for the raw projection outputs), plus the
// per-image statistics (24·n·C bytes for the widest layer) and per-thread
// scratch of a few MB. For the largest w1.0 subnet at 224 (A = 96·112²,
// D = 144·56², R = 16·112²) that is about 1.6 GB for n = 200; for the mid
// subnet (kernel 5, expand 4, depth 3) 1.2 GB.
func MemoryBytes(net *supernet.Net, n int) (int64, error) {
	if err := export.CheckNet(net); err != nil {
		return 0, err
	}
	return SubnetMemoryBytes(net.Space, net.Config, n)
}

// SubnetMemoryBytes is [MemoryBytes] for subnet c of space, computed from
// the layer shapes alone ([supernet.Space.Layers]), without the weights a
// net would need: the same number as MemoryBytes of any net of that
// subnet, for the cost of listing its layers. c is checked as CheckNet
// checks a net's config (any resolution the space can run at).
func SubnetMemoryBytes(space *supernet.Space, c supernet.Config, n int) (int64, error) {
	if space == nil {
		return 0, errors.New("no search space given")
	}
	if err := space.ValidateAnyResolution(c); err != nil {
		return 0, fmt.Errorf("network config: %w", err)
	}
	ks := bestKernels()
	cal := &Calibrator{ks: ks, size: layerSizes(space.Layers(c, nil))}
	return cal.memoryBytes(n), nil
}

// layerSizes returns the sizes of the plan buildPlan makes of a net with
// these layers (supernet.Space.Layers of its config), read from the
// shapes alone. A block's expand conv is there when the layer says
// Expand, its squeeze-and-excitation when SE > 0, as in every net
// CheckNet accepts.
func layerSizes(layers []supernet.Layer) sizes {
	var s sizes
	gemm := func(outH, c, k, n int, perImage *int) {
		*perImage = max(*perImage, outH*outH*c)
		s.kMax = max(s.kMax, k)
		s.nMax = max(s.nMax, n)
	}
	h1 := layers[0].OutSize
	gemm(h1, layers[0].Out, 27, layers[0].Out, &s.buf1)
	s.resid = h1 * h1 * layers[0].Out
	h := h1
	blocks := 0
	for _, l := range layers[1:] {
		if l.Kind != supernet.KindBlock {
			break
		}
		blocks++
		if l.Expand {
			gemm(h, l.Mid, l.In, l.Mid, &s.buf1)
		}
		oh := (h-1)/l.Stride + 1
		s.buf2 = max(s.buf2, oh*oh*l.Mid)
		pw := h + 2*(l.Kernel/2)
		pix := bandPixel(l.Mid)
		s.plane = max(s.plane, min(bandRows(pw, pix, l.Kernel), pw)*pw*pix)
		gemm(oh, l.Out, l.Mid, l.Out, &s.buf1)
		s.resid = max(s.resid, oh*oh*l.Out)
		if l.SE > 0 {
			s.seT = max(s.seT, oh*oh*l.Mid)
			s.seMid = max(s.seMid, l.Mid)
			s.seWidth = max(s.seWidth, l.SE)
		}
		h = oh
	}
	last := layers[blocks+1]
	gemm(h, last.Out, last.In, last.Out, &s.buf1)
	return s
}

func (c *Calibrator) memoryBytes(n int) int64 {
	s := c.size
	act := int64(4) * int64(n) * int64(s.buf1+s.buf2+2*s.resid)
	stats := int64(24) * int64(n) * int64(max(s.nMax, s.kMax))
	return act + stats + int64(c.threads())*c.workerBytes()
}

func (c *Calibrator) workerBytes() int64 {
	s := c.size
	mr := int64(c.ks.mr)
	return 4 * (mr*int64(s.kMax)*(1+blockTiles) + mr*int64(s.nMax) + int64(s.plane) + int64(s.seT))
}

func (c *Calibrator) maxFitting(limit int64) int {
	lo, hi := 0, c.maxBatch
	for lo < hi {
		m := (lo + hi + 1) / 2
		if c.memoryBytes(m) <= limit {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return lo
}

func (c *Calibrator) threads() int {
	if c.opts.Threads > 0 {
		return c.opts.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// Close releases the buffers. The Calibrator cannot be used afterwards.
func (c *Calibrator) Close() error {
	if c == nil {
		return nil
	}
	c.closed = true
	c.buf1, c.buf2, c.resid, c.proj, c.workers, c.codeBuf = nil, nil, nil, nil, nil, nil
	c.ls = layerStats{}
	return nil
}

// BatchStats runs one batch of n images (NCHW, n·3·r·r float32 values,
// ImageNet-normalized) through the subnet with every BatchNorm normalizing
// by the batch's own mean and biased variance over N, H and W, as OFA's
// set_running_statistics does, and returns each BatchNorm's batch mean and
// variance in [supernet.Net.BatchNorms] order. It stops after the final
// expand layer's BatchNorm. The result does not depend on the number of
// threads. ctx is checked between layers.
func (c *Calibrator) BatchStats(ctx context.Context, data []float32, n int) ([]export.BatchStats, error) {
	if err := c.check(data, n); err != nil {
		return nil, err
	}
	c.ensure(n)
	run := &batchRun{c: c, ctx: ctx, n: n, out: make([]export.BatchStats, 0, 2+3*len(c.plan.blocks))}
	if _, err := run.forward(data); err != nil {
		return nil, err
	}
	return run.out, nil
}

// Forward runs one batch of n images in eval mode, every BatchNorm
// normalizing with its running statistics as the exported model does,
// through the head, and returns the n·classes logits. It computes as
// export.Forward (the Go reference with unfolded BatchNorm) does, to the
// same rounding with the default kernels.
func (c *Calibrator) Forward(ctx context.Context, data []float32, n int) ([]float32, error) {
	if err := c.check(data, n); err != nil {
		return nil, err
	}
	c.ensure(n)
	switch {
	case c.head == nil:
		c.head = packHead(c.net, true)
	case c.head.cls == nil:
		c.head.packClassifier(c.net)
	}
	run := &batchRun{c: c, ctx: ctx, n: n, eval: true}
	nm, err := run.forward(data)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return run.logits(nm), nil
}

// check validates a batch for BatchStats and Forward.
func (c *Calibrator) check(data []float32, n int) error {
	if c == nil || c.closed {
		return errors.New("native calibrator: used after Close (or nil)")
	}
	if n <= 0 || n > c.maxBatch {
		return fmt.Errorf("native calibrator: batch of %d images, want 1..%d (the batch size it was made for)", n, c.maxBatch)
	}
	if want := n * 3 * c.r * c.r; len(data) != want {
		return fmt.Errorf("native calibrator: batch of %d images has %d values, want %d (3x%dx%d each, NCHW)", n, len(data), want, c.r, c.r)
	}
	for i, v := range data {
		if v-v != 0 { // NaN or ±Inf
			per := 3 * c.r * c.r
			return fmt.Errorf("native calibrator: image %d of the batch has the value %v at channel %d, pixel %d: check its decoding and normalization", i/per, v, i%per/(c.r*c.r), i%(c.r*c.r))
		}
	}
	return nil
}

// ensure sizes the buffers for n images and the workers for this call.
func (c *Calibrator) ensure(n int) {
	grow := func(b []float32, need int) []float32 {
		if cap(b) < need {
			return make([]float32, need)
		}
		return b[:cap(b)]
	}
	c.buf1 = grow(c.buf1, n*c.size.buf1)
	c.buf2 = grow(c.buf2, n*c.size.buf2)
	c.resid = grow(c.resid, n*c.size.resid)
	c.proj = grow(c.proj, n*c.size.resid)
	for len(c.workers) < min(c.threads(), n) {
		c.workers = append(c.workers, newWorker(c.ks, c.size))
	}
}

// batchRun is the state of one BatchStats or Forward call.
type batchRun struct {
	c    *Calibrator
	ctx  context.Context
	n    int
	eval bool // normalize with the running statistics, gather none
	out  []export.BatchStats
	h    int // the final expand's map size, once forward has run
	// codes, in ActivationCodes, codes every activation's input as the
	// run goes.
	codes *codeRun
}

// each runs fn for every image on the calibrator's workers.
func (b *batchRun) each(fn func(w *worker, i int)) {
	workers := b.c.workers[:min(len(b.c.workers), b.c.threads(), b.n)]
	if len(workers) == 1 {
		for i := range b.n {
			fn(workers[0], i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.n {
					return
				}
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}

// layer runs one convolution over the batch (conv writes image i's raw
// output and its partial statistics), records its BatchNorm's statistics
// and returns the normalization its consumer applies.
func (b *batchRun) layer(l *convLayer, conv func(w *worker, i int, st partial)) (*affine, error) {
	if err := b.ctx.Err(); err != nil {
		return nil, err
	}
	if b.eval {
		b.each(func(w *worker, i int) { conv(w, i, partial{}) })
		return runningAffine(l), nil
	}
	ls := &b.c.ls
	ls.reset(l.c, b.n)
	b.each(func(w *worker, i int) { conv(w, i, ls.image(i)) })
	mean, variance := ls.reduce(l.outH * l.outH)
	nm := bnAffine(l.bn, mean, variance, l.act)
	if l.bias != nil {
		// The raw outputs leave the bias out: nm normalizes with their
		// mean (nm.m is mean itself), the reported mean includes it.
		mean = slices.Clone(mean)
		for j, v := range l.bias {
			mean[j] += float64(v)
		}
	}
	b.out = append(b.out, export.BatchStats{Mean: mean, Var: variance})
	return nm, nil
}

// forward runs the batch up to the final expand layer and returns that
// layer's normalization.
func (b *batchRun) forward(data []float32) (*affine, error) {
	c := b.c
	p := &c.plan
	r := c.r
	per := 3 * r * r

	// First conv, then its normalized output becomes the residual stream.
	f := &p.first
	h := f.outH
	sz := h * h * f.c
	nm, err := b.layer(f, func(w *worker, i int, st partial) {
		w.gemmImage(f.pw, nil, 0, im2col(data[i*per:(i+1)*per], r, h), h*h, c.buf1[i*sz:(i+1)*sz], st)
	})
	if err != nil {
		return nil, err
	}
	if err := b.emit(nm, c.buf1, sz); err != nil {
		return nil, err
	}
	b.each(func(w *worker, i int) {
		w.ks.transform(tfJob{dst: c.resid[i*sz:], dP: f.c, src: c.buf1[i*sz:], sP: f.c, rows: 1, cols: h * h, n: f.c, nm: nm})
	})
	ch := f.c
	// pending is the previous block's output when it has not been
	// materialized into the residual stream yet.
	var pending *blockEnd
	// denseFrom runs a dense layer (an expand or the final expand) on the
	// block output of h×h pixels of ch channels: from the residual stream,
	// or computing the pending block output on the way, keeping it in the
	// residual stream when the next block adds it.
	denseFrom := func(l *convLayer, keep bool) (*affine, error) {
		inSz, outSz := h*h*ch, h*h*l.c
		pe := pending
		pending = nil
		return b.layer(l, func(w *worker, i int, st partial) {
			dst := c.buf1[i*outSz : (i+1)*outSz]
			resid := c.resid[i*inSz : (i+1)*inSz]
			if pe == nil {
				w.gemmImage(l.pw, resid, ch, nil, h*h, dst, st)
				return
			}
			w.gemmImage(l.pw, nil, 0, w.endFill(pe, pe.raw[i*inSz:(i+1)*inSz], resid, keep), h*h, dst, st)
		})
	}
	for bi := range p.blocks {
		blk := &p.blocks[bi]
		inSz := h * h * ch
		dwSrc, dwStride, dwNorm := c.resid, inSz, identity(ch)
		if e := blk.expand; e != nil {
			nm, err := denseFrom(e, blk.residual)
			if err != nil {
				return nil, err
			}
			if err := b.emit(nm, c.buf1, h*h*e.c); err != nil {
				return nil, err
			}
			dwSrc, dwStride, dwNorm = c.buf1, h*h*e.c, nm
		} else if pending != nil {
			b.materialize(pending, h*h)
			pending = nil
		}
		d := &blk.dw
		oh := d.outH
		dSz := oh * oh * d.c
		nmD, err := b.layer(d, func(w *worker, i int, st partial) {
			w.dwImage(d.dw, dwSrc[i*dwStride:(i+1)*dwStride], h, dwNorm, c.buf2[i*dSz:(i+1)*dSz], st)
		})
		if err != nil {
			return nil, err
		}
		if err := b.emit(nmD, c.buf2, dSz); err != nil {
			return nil, err
		}
		var seCodes *Codes
		if blk.se != nil {
			seCodes = b.seStart()
		}
		pr := &blk.project
		pSz := oh * oh * pr.c
		nmP, err := b.layer(pr, func(w *worker, i int, st partial) {
			src := c.buf2[i*dSz : (i+1)*dSz]
			dst := c.proj[i*pSz : (i+1)*pSz]
			if blk.se != nil {
				var bits []uint64
				if seCodes != nil {
					bits = seCodes.Image(i)
				}
				w.seProject(blk, src, oh*oh, nmD, dst, st, bits)
				return
			}
			w.gemmImage(pr.pw, nil, 0, w.normFill(src, d.c, nmD), oh*oh, dst, st)
		})
		if err != nil {
			return nil, err
		}
		if seCodes != nil {
			if err := b.flush(seCodes); err != nil {
				return nil, err
			}
		}
		pending = &blockEnd{raw: c.proj, nm: nmP, c: pr.c, add: blk.residual}
		h, ch = oh, pr.c
	}
	b.h = h
	return denseFrom(&p.final, false)
}

// materialize writes a pending block output of pixels per image into the
// residual stream.
func (b *batchRun) materialize(e *blockEnd, pixels int) {
	c := b.c
	sz := pixels * e.c
	b.each(func(w *worker, i int) {
		w.ks.transform(tfJob{dst: c.resid[i*sz:], dP: e.c, src: e.raw[i*sz:], sP: e.c, rows: 1, cols: pixels, n: e.c, nm: e.nm, add: e.add})
	})
}

// im2col gathers the first convolution's 3x3 stride-2 windows (padding 1)
// of one NCHW image of r×r into rows of 27 values, [c][ky][kx] like the
// weights, for output pixels [lo, hi) of the h×h output.
func im2col(img []float32, r, h int) aFill {
	return func(dst []float32, lo, hi int) ([]float32, int) {
		for q := lo; q < hi; q++ {
			oy, ox := q/h, q%h
			iy0, ix0 := 2*oy-1, 2*ox-1
			row := dst[(q-lo)*27 : (q-lo+1)*27]
			if iy0 >= 0 && iy0+2 < r && ix0 >= 0 && ix0+2 < r {
				for ci := range 3 {
					for ky := range 3 {
						in := img[ci*r*r+(iy0+ky)*r+ix0:][:3]
						out := row[ci*9+ky*3:][:3]
						out[0], out[1], out[2] = in[0], in[1], in[2]
					}
				}
				continue
			}
			for ci := range 3 {
				plane := img[ci*r*r : (ci+1)*r*r]
				for ky := range 3 {
					iy := iy0 + ky
					for kx := range 3 {
						ix := ix0 + kx
						v := float32(0)
						if iy >= 0 && iy < r && ix >= 0 && ix < r {
							v = plane[iy*r+ix]
						}
						row[ci*9+ky*3+kx] = v
					}
				}
			}
		}
		return dst, 27
	}
}

// worker is one goroutine's scratch space.
type worker struct {
	ks                   *kernelSet
	tileA, tileC, blockA []float32
	plane, seT           []float32
	pooled, hidden, gate []float32
	gate64, zero64       []float64 // zero64 also serves as the pooling shift
	one64                []float64
	poolSum, poolSq      []float64
	// The head's buffers, allocated at the first Forward.
	headT, headVec, headMid   []float32
	headSum, headSq, headZero []float64
}

func newWorker(ks *kernelSet, s sizes) *worker {
	mr := ks.mr
	return &worker{
		ks:      ks,
		tileA:   make([]float32, mr*s.kMax),
		tileC:   make([]float32, mr*s.nMax),
		blockA:  make([]float32, blockTiles*mr*s.kMax),
		plane:   make([]float32, s.plane),
		seT:     make([]float32, s.seT),
		pooled:  make([]float32, s.seMid),
		hidden:  make([]float32, s.seWidth),
		gate:    make([]float32, s.seMid),
		gate64:  make([]float64, s.seMid),
		zero64:  make([]float64, s.seMid),
		one64:   ones(s.seMid),
		poolSum: make([]float64, s.seMid),
		poolSq:  make([]float64, s.seMid),
	}
}

func ones(n int) []float64 {
	o := make([]float64, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// seProject runs a block's squeeze-and-excitation and projection for one
// image: the depthwise output src (hw pixels) is normalized whole, pooled,
// gated channel by channel, then projected. When codes is not nil, the
// signs of the SE's ReLU inputs are set in it (see ActivationCodes).
func (w *worker) seProject(blk *blockPlan, src []float32, hw int, nm *affine, dst []float32, st partial, codes []uint64) {
	se := blk.se
	mid := se.mid
	t := w.seT[:hw*mid]
	w.ks.transform(tfJob{dst: t, dP: mid, src: src, sP: mid, rows: 1, cols: hw, n: mid, nm: nm})
	sum := w.poolSum[:mid]
	clear(sum)
	w.ks.stats(statsJob{src: t, rows: hw, n: mid, ld: mid, shift: w.zero64[:mid], sum: sum, sq: w.poolSq[:mid]})
	pooled := w.pooled[:mid]
	for j, s := range sum {
		pooled[j] = float32(s / float64(hw))
	}
	hidden := w.hidden[:se.width]
	w.ks.gemv(pooled, se.reduce, se.width, se.rbias, hidden)
	if codes != nil {
		setSigns(hidden, codes)
	}
	for j, v := range hidden {
		hidden[j] = max(v, 0)
	}
	gate := w.gate[:mid]
	w.ks.gemv(hidden, se.expand, mid, se.ebias, gate)
	g64 := w.gate64[:mid]
	for j, v := range gate {
		g64[j] = float64(min(max(v+3, 0), 6) / 6) // h_sigmoid
	}
	w.ks.transform(tfJob{dst: t, dP: mid, src: t, sP: mid, rows: 1, cols: hw, n: mid, nm: scaling(g64, w.zero64, w.one64)})
	w.gemmImage(blk.project.pw, t, mid, nil, hw, dst, st)
}

// buildPlan packs net's weights for ks. net has passed export.CheckNet.
func buildPlan(net *supernet.Net, ks *kernelSet) plan {
	layers := net.Space.Layers(net.Config, nil)
	var p plan
	fc := &net.FirstConv
	h1 := layers[0].OutSize
	p.first = convLayer{bn: &fc.BN, bias: fc.Bias, act: toAct(fc.Act), c: layers[0].Out, outH: h1,
		pw: packB(ks, 27, layers[0].Out, func(t, j int) float32 { return fc.Weight.Data[j*27+t] })}
	h := h1
	for bi := range net.Blocks {
		b := &net.Blocks[bi]
		l := b.Layer
		bp := blockPlan{residual: l.Residual}
		if b.Expand != nil {
			bp.expand = pointwiseLayer(ks, b.Expand, l.In, l.Mid, h)
		}
		oh := (h-1)/l.Stride + 1
		dw := &b.Depthwise
		bp.dw = convLayer{bn: &dw.BN, bias: dw.Bias, act: toAct(dw.Act), c: l.Mid, outH: oh,
			dw: packDW(ks, l.Mid, l.Kernel, l.Stride, dw.Weight.Data)}
		if b.SE != nil {
			bp.se = sePack(b.SE, l.Mid, l.SE)
		}
		bp.project = *pointwiseLayer(ks, &b.Project, l.Mid, l.Out, oh)
		p.blocks = append(p.blocks, bp)
		h = oh
	}
	last := layers[len(net.Blocks)+1]
	p.final = *pointwiseLayer(ks, &net.FinalExpand, last.In, last.Out, h)
	return p
}

func pointwiseLayer(ks *kernelSet, cb *supernet.ConvBN, in, out, h int) *convLayer {
	w := cb.Weight.Data
	return &convLayer{bn: &cb.BN, bias: cb.Bias, act: toAct(cb.Act), c: out, outH: h,
		pw: packB(ks, in, out, func(t, j int) float32 { return w[j*in+t] })}
}

func sePack(se *supernet.SqueezeExcite, mid, width int) *sePlan {
	s := &sePlan{mid: mid, width: width,
		reduce: make([]float32, mid*width), rbias: se.Reduce.Bias,
		expand: make([]float32, width*mid), ebias: se.Expand.Bias}
	for j := range width {
		for t := range mid {
			s.reduce[t*width+j] = se.Reduce.Weight.Data[j*mid+t]
			s.expand[j*mid+t] = se.Expand.Weight.Data[t*width+j]
		}
	}
	return s
}
