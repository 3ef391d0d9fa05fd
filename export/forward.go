package export

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/edgefit/edgefit/supernet"
)

// The reference forward pass follows OFA's PyTorch modules literally
// (unfolded BatchNorm, h_swish as x·relu6(x+3)/6), so that comparing it
// with ONNX Runtime on the exported graph checks the folding and the
// operator choices, not just the arithmetic. Activations are float32 like
// PyTorch's; BatchNorm and pooling compute in float64.

// fmap is one sample's feature map, channel-major [c][h][w].
type fmap struct {
	c, h, w int
	d       []float32
}

// Forward runs the subnet on input, a batch of images in NCHW order
// (N·3·r·r values for the config's resolution r), and returns the logits,
// N·classes values. It is a plain Go implementation for checking exported
// models, not a fast one.
func Forward(net *supernet.Net, input []float32) ([]float32, error) {
	units, err := netUnits(net)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	r := net.Config.R
	return forwardUnits(units, input, []int{3, r, r})
}

// forwardUnits runs units in sequence on a batch whose per-sample shape is
// in ([c,h,w]) and returns the flattened outputs.
func forwardUnits(units []unit, input []float32, in []int) ([]float32, error) {
	per := in[0] * in[1] * in[2]
	if len(input) == 0 || len(input)%per != 0 {
		return nil, fmt.Errorf("forward: input has %d values, want a positive multiple of %d (a batch of %dx%dx%d)", len(input), per, in[0], in[1], in[2])
	}
	var out []float32
	for n := range len(input) / per {
		x := fmap{c: in[0], h: in[1], w: in[2], d: input[n*per : (n+1)*per]}
		for i := range units {
			x = forwardUnit(&units[i], x)
		}
		out = append(out, x.d...)
	}
	return out, nil
}

func forwardUnit(u *unit, x fmap) fmap {
	switch u.layer.Kind {
	case supernet.KindFirstConv, supernet.KindFinalExpand:
		return convBNForward(x, u.conv)
	case supernet.KindBlock:
		return blockForward(x, u.block)
	case supernet.KindAvgPool:
		return avgPool(x)
	case supernet.KindFeatureMix:
		y := convForward(x, u.mix.Weight.Data, u.mix.Weight.Shape, 1, 1)
		addBias(y, u.mix.Bias)
		activate(y.d, u.mix.Act)
		return y
	case supernet.KindClassifier:
		// Flatten then y = W x + b.
		fc := u.fc
		nOut, nIn := fc.Weight.Shape[0], fc.Weight.Shape[1]
		y := fmap{c: nOut, h: 1, w: 1, d: make([]float32, nOut)}
		for o := range nOut {
			row := fc.Weight.Data[o*nIn : (o+1)*nIn]
			var s float32
			for i, v := range x.d[:nIn] {
				s += row[i] * v
			}
			y.d[o] = s + fc.Bias[o]
		}
		return y
	}
	panic(fmt.Sprintf("export: unit of unknown kind %d", int(u.layer.Kind)))
}

func blockForward(in fmap, b *supernet.Block) fmap {
	x := in
	if b.Expand != nil {
		x = convBNForward(x, b.Expand)
	}
	x = convBNForward(x, &b.Depthwise)
	if b.SE != nil {
		x = seForward(x, b.SE)
	}
	x = convBNForward(x, &b.Project)
	if b.Layer.Residual {
		for i, v := range in.d {
			x.d[i] += v
		}
	}
	return x
}

func seForward(x fmap, se *supernet.SqueezeExcite) fmap { return seObserved(x, se, nil) }

// seObserved is seForward that shows the input of its ReLU to observe,
// when set.
func seObserved(x fmap, se *supernet.SqueezeExcite, observe func(pre []float32)) fmap {
	p := avgPool(x)
	r := convForward(p, se.Reduce.Weight.Data, se.Reduce.Weight.Shape, 1, 1)
	addBias(r, se.Reduce.Bias)
	if observe != nil {
		observe(r.d)
	}
	activate(r.d, supernet.ActReLU)
	e := convForward(r, se.Expand.Weight.Data, se.Expand.Weight.Shape, 1, 1)
	addBias(e, se.Expand.Bias)
	y := fmap{c: x.c, h: x.h, w: x.w, d: make([]float32, len(x.d))}
	hw := x.h * x.w
	for c := range x.c {
		g := hardSigmoid(e.d[c])
		for i, v := range x.d[c*hw : (c+1)*hw] {
			y.d[c*hw+i] = v * g
		}
	}
	return y
}

func convBNForward(x fmap, c *supernet.ConvBN) fmap {
	y := convForward(x, c.Weight.Data, c.Weight.Shape, max(c.Stride, 1), max(c.Groups, 1))
	addBias(y, c.Bias)
	hw := y.h * y.w
	for o := range y.c {
		inv := 1 / math.Sqrt(float64(c.BN.Var[o])+c.BN.Eps)
		mean, gamma, beta := float64(c.BN.Mean[o]), float64(c.BN.Weight[o]), float64(c.BN.Bias[o])
		row := y.d[o*hw : (o+1)*hw]
		for i, v := range row {
			row[i] = float32((float64(v)-mean)*inv*gamma + beta)
		}
	}
	activate(y.d, c.Act)
	return y
}

func addBias(y fmap, bias []float32) {
	if bias == nil {
		return
	}
	hw := y.h * y.w
	for o, b := range bias {
		row := y.d[o*hw : (o+1)*hw]
		for i := range row {
			row[i] += b
		}
	}
}

func avgPool(x fmap) fmap {
	hw := x.h * x.w
	y := fmap{c: x.c, h: 1, w: 1, d: make([]float32, x.c)}
	for c := range x.c {
		s := 0.0
		for _, v := range x.d[c*hw : (c+1)*hw] {
			s += float64(v)
		}
		y.d[c] = float32(s / float64(hw))
	}
	return y
}

func relu6(x float32) float32 { return min(max(x, 0), 6) }

// hardSigmoid is OFA's Hsigmoid: relu6(x+3)/6.
func hardSigmoid(x float32) float32 { return relu6(x+3) / 6 }

// hardSwish is OFA's Hswish: x·relu6(x+3)/6.
func hardSwish(x float32) float32 { return x * relu6(x+3) / 6 }

func activate(d []float32, act supernet.Activation) {
	switch act {
	case supernet.ActReLU:
		for i, v := range d {
			d[i] = max(v, 0)
		}
	case supernet.ActHSwish:
		for i, v := range d {
			d[i] = hardSwish(v)
		}
	}
}

// convForward is a direct convolution with padding k/2. shape is
// [out, in/groups, k, k].
func convForward(x fmap, w []float32, shape []int, stride, groups int) fmap {
	nOut, perIn, k := shape[0], shape[1], shape[2]
	pad := k / 2
	oh := (x.h+2*pad-k)/stride + 1
	ow := (x.w+2*pad-k)/stride + 1
	y := fmap{c: nOut, h: oh, w: ow, d: make([]float32, nOut*oh*ow)}
	if k == 1 && stride == 1 && groups == 1 {
		pointwise(x, w, y)
		return y
	}
	outPerGroup := nOut / groups
	inHW, outHW := x.h*x.w, oh*ow
	parallel(nOut, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			g := o / outPerGroup
			dst := y.d[o*outHW : (o+1)*outHW]
			for ci := range perIn {
				src := x.d[(g*perIn+ci)*inHW : (g*perIn+ci+1)*inHW]
				kern := w[(o*perIn+ci)*k*k : (o*perIn+ci+1)*k*k]
				for ky := range k {
					for kx := range k {
						wv := kern[ky*k+kx]
						// Output columns whose input column ox·s−pad+kx
						// lies inside the image.
						oxLo := max(0, ceilDiv(pad-kx, stride))
						// (x.w−1+pad−kx) may be negative on maps
						// smaller than the padding: floor, not truncate.
						oxHi := min(ow-1, -ceilDiv(-(x.w-1+pad-kx), stride))
						for oy := range oh {
							iy := oy*stride - pad + ky
							if iy < 0 || iy >= x.h {
								continue
							}
							in := src[iy*x.w : (iy+1)*x.w]
							out := dst[oy*ow : (oy+1)*ow]
							for ox := oxLo; ox <= oxHi; ox++ {
								out[ox] += wv * in[ox*stride-pad+kx]
							}
						}
					}
				}
			}
		}
	})
	return y
}

func ceilDiv(a, b int) int {
	if a <= 0 {
		return -((-a) / b)
	}
	return (a + b - 1) / b
}

// pointwise is a 1x1 convolution: y[o] = Σ_i w[o,i]·x[i] over whole
// planes.
func pointwise(x fmap, w []float32, y fmap) {
	hw := x.h * x.w
	nIn := x.c
	parallel(y.c, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			dst := y.d[o*hw : (o+1)*hw]
			for i, wv := range w[o*nIn : (o+1)*nIn] {
				src := x.d[i*hw : (i+1)*hw]
				src = src[:len(dst)]
				for p, v := range src {
					dst[p] += wv * v
				}
			}
		}
	})
}

// parallel splits [0,n) into chunks run on GOMAXPROCS goroutines.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	wg.Wait()
}
