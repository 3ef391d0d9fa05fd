package native

import "github.com/edgefit/edgefit/supernet"

// The head runs only in eval mode (Calibrator.Forward): global average
// pool of the normalized final expand output, the feature mix on the
// pooled vector (h_swish), and the classifier, per image.

// headPlan holds the head's weights transposed for gemv.
type headPlan struct {
	in, mid, classes int
	mix, mixBias     []float32 // mix[t*mid+j] = W_mix[j][t]; no bias in OFA
	cls, clsBias     []float32 // cls[t*classes+j] = W_cls[j][t]
	mixAct           act
}

// packHead packs the feature mix, and the classifier too when classifier
// is set (only Forward needs it; ActivationCodes stops at the mix).
func packHead(net *supernet.Net, classifier bool) *headPlan {
	fm := &net.FeatureMix
	mid, in := fm.Weight.Shape[0], fm.Weight.Shape[1]
	h := &headPlan{in: in, mid: mid, mixAct: toAct(fm.Act), mix: make([]float32, in*mid), mixBias: make([]float32, mid)}
	if fm.Bias != nil {
		copy(h.mixBias, fm.Bias)
	}
	for j := range mid {
		for t := range in {
			h.mix[t*mid+j] = fm.Weight.Data[j*in+t]
		}
	}
	if classifier {
		h.packClassifier(net)
	}
	return h
}

// packClassifier packs the classifier into h.
func (h *headPlan) packClassifier(net *supernet.Net) {
	fc := &net.Classifier
	mid, classes := h.mid, fc.Weight.Shape[0]
	h.classes, h.cls, h.clsBias = classes, make([]float32, mid*classes), fc.Bias
	for j := range classes {
		for t := range mid {
			h.cls[t*classes+j] = fc.Weight.Data[j*mid+t]
		}
	}
}

// logits finishes an eval-mode batch: buf1 holds the raw final expand
// outputs, nm their normalization.
func (b *batchRun) logits(nm *affine) []float32 {
	hp := b.c.head
	out := make([]float32, b.n*hp.classes)
	b.each(func(w *worker, i int) {
		mid := b.mix(w, i, nm)
		for j, v := range mid {
			mid[j] = applyAct(v, hp.mixAct)
		}
		w.ks.gemv(mid, hp.cls, hp.classes, hp.clsBias, out[i*hp.classes:(i+1)*hp.classes])
	})
	return out
}

// mix returns image i's feature mix output before its activation, in the
// worker's scratch: the final expand's raw output in buf1, normalized by
// nm, pooled, then projected.
func (b *batchRun) mix(w *worker, i int, nm *affine) []float32 {
	c, hp := b.c, b.c.head
	hw := b.h * b.h
	sz := hw * hp.in
	if len(w.headT) < sz {
		w.headT = make([]float32, sz)
		w.headSum, w.headSq, w.headZero = make([]float64, hp.in), make([]float64, hp.in), make([]float64, hp.in)
		w.headVec, w.headMid = make([]float32, hp.in), make([]float32, hp.mid)
	}
	t := w.headT[:sz]
	w.ks.transform(tfJob{dst: t, dP: hp.in, src: c.buf1[i*sz:], sP: hp.in, rows: 1, cols: hw, n: hp.in, nm: nm})
	sum := w.headSum[:hp.in]
	clear(sum)
	w.ks.stats(statsJob{src: t, rows: hw, n: hp.in, ld: hp.in, shift: w.headZero[:hp.in], sum: sum, sq: w.headSq[:hp.in]})
	pooled := w.headVec[:hp.in]
	for j, s := range sum {
		pooled[j] = float32(s / float64(hw))
	}
	mid := w.headMid[:hp.mid]
	w.ks.gemv(pooled, hp.mix, hp.mid, hp.mixBias, mid)
	return mid
}
