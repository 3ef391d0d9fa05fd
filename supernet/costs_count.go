package supernet

// Costs returns the exact costs of subnet c at resolution c.R, computed
// from the configuration alone. It neither validates c nor allocates, and
// is cheap enough for a search to call millions of times.
//
// MACs are counted the way OFA's count_flops_given_config and
// ofa.utils.profile count them: every convolution costs
// Cin·Cout·k²·Hout²/groups and the classifier in·out; the first conv runs
// at (r+1)/2, a block's 1x1 expand at its input size, its depthwise conv
// and projection at its output size, SE costs mid·s + s·mid, the final
// expand runs at the last size and the feature mix at 1x1. BatchNorm,
// activations, pooling, additions, the SE multiply and biases are free.
//
// Params are what ofa.utils.profile reports: convolution and linear
// weights and biases plus BatchNorm's affine weight and bias (not its
// running statistics).
//
// WeightBytes is the size in float32 of the weights an exported,
// BN-folded network carries: every convolution weight, one bias per
// output channel of each convolution that had BatchNorm, the SE biases,
// and the classifier's weight and bias.
//
// PeakMemory is WeightBytes plus the largest number of activation bytes
// (float32, batch 1) alive at once when the net runs one operation at a
// time. An operation's inputs and output are alive while it runs; a tensor
// stays alive until its last reader has run, and a residual block's input
// until the addition. The operations are: the first conv; per block the
// expand conv, the depthwise conv, the SE pooling, reduce, expand and
// multiply (its output is a new tensor), the projection and the residual
// addition (also a new tensor); then the final expand, the pooling, the
// feature mix and the classifier. Convolution, BatchNorm and activation
// count as one operation writing one tensor. The input image counts. This
// is an upper bound for runtimes that free tensors after their last use
// and do not work in place.
func (s *Space) Costs(c Config) Costs {
	var macs, params, wts, peak int64
	conv := func(in, out, k, groups, h int, bn, bias bool) {
		w := int64(in / groups * out * k * k)
		macs += w * int64(h*h)
		params += w
		wts += w
		if bn {
			params += 2 * int64(out)
			wts += int64(out)
		}
		if bias {
			params += int64(out)
			wts += int64(out)
		}
	}
	live := func(elems ...int) {
		var n int64
		for _, e := range elems {
			n += int64(e)
		}
		peak = max(peak, n)
	}

	r := c.R
	h := SpatialOut(r, 2)
	conv(3, s.FirstConv, 3, 1, h, true, false)
	live(3*r*r, s.FirstConv*h*h)

	// The fixed first block: depthwise 3x3 and projection, no expand, no SE.
	block := func(in, out, mid, k, stride, se, hin int, expand bool) int {
		hout := SpatialOut(hin, stride)
		x, e, d := in*hin*hin, mid*hin*hin, mid*hout*hout
		y := out * hout * hout
		res := 0
		if stride == 1 && in == out {
			res = x // kept for the addition
		}
		if expand {
			conv(in, mid, 1, 1, hin, true, false)
			live(x, e)
		} else {
			e = x // the depthwise conv reads the block input
		}
		conv(mid, mid, k, mid, hout, true, false)
		if expand {
			live(res, e, d)
		} else {
			live(e, d) // e is x here
		}
		projIn := d
		if se > 0 {
			conv(mid, se, 1, 1, 1, false, true)
			conv(se, mid, 1, 1, 1, false, true)
			live(res, d, mid)                // pool
			live(res, d, mid, se)            // reduce
			live(res, d, se, mid)            // expand
			live(res, d, mid, mid*hout*hout) // multiply
			projIn = mid * hout * hout
		}
		conv(mid, out, 1, 1, hout, true, false)
		live(res, projIn, y)
		if res > 0 {
			live(x, y, y) // addition
		}
		return hout
	}
	h = block(s.FirstConv, s.FirstBlock, s.FirstConv, 3, 1, 0, h, false)
	for i := range NumBlocks {
		if i%MaxDepth >= c.D[i/MaxDepth] {
			continue
		}
		st := &s.Stages[i/MaxDepth]
		in, out := s.BlockIn(i), st.Width
		mid := MakeDivisible(float64(in * c.E[i]))
		se := 0
		if st.SE {
			se = SEChannels(mid)
		}
		h = block(in, out, mid, c.KS[i], s.BlockStride(i), se, h, true)
	}
	last := s.Stages[NumStages-1].Width
	conv(last, s.FinalExpand, 1, 1, h, true, false)
	live(last*h*h, s.FinalExpand*h*h)
	live(s.FinalExpand*h*h, s.FinalExpand)
	conv(s.FinalExpand, s.FeatureMix, 1, 1, 1, false, false)
	live(s.FinalExpand, s.FeatureMix)
	lin := int64(s.FeatureMix) * int64(s.Classes)
	macs += lin
	params += lin + int64(s.Classes)
	wts += lin + int64(s.Classes)
	live(s.FeatureMix, s.Classes)

	return Costs{MACs: macs, Params: params, WeightBytes: 4 * wts, PeakMemory: 4*wts + 4*peak}
}
