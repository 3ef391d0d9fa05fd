package export

import (
	"fmt"
	"math"

	"github.com/edgefit/edgefit/supernet"
)

// BatchStats is what one BatchNorm sees of a batch: the per-channel mean of
// its input over N, H and W, and the biased variance around that mean.
type BatchStats struct {
	Mean, Var []float64
}

// ForwardBatchStats runs net on a batch of images (NCHW, N·3·r·r values)
// with every BatchNorm normalizing by the batch's own mean and biased
// variance, as OFA's set_running_statistics patches them, and returns each
// BatchNorm's statistics in [supernet.Net.BatchNorms] order. It is the
// plain Go reference for [CalibrationModel]: statistics in float64,
// activations in float32 as PyTorch's, and slow.
func ForwardBatchStats(net *supernet.Net, input []float32) ([]BatchStats, error) {
	var stats []BatchStats
	err := batchPass(net, input, supernet.KindFinalExpand, batchObserver{
		bn: func(_ *supernet.ConvBN, _ []fmap, s BatchStats) { stats = append(stats, s) },
	})
	if err != nil {
		return nil, fmt.Errorf("forward with batch statistics: %w", err)
	}
	return stats, nil
}

// batchObserver sees what a batch pass computes; nil fields see nothing.
type batchObserver struct {
	// bn gets each BatchNorm's normalized outputs, before its
	// activation, and the batch statistics it normalized with.
	bn func(c *supernet.ConvBN, pre []fmap, s BatchStats)
	// se gets each squeeze-and-excitation's ReLU inputs, per image.
	se func(pre [][]float32)
	// mix gets the feature mix's outputs before its activation.
	mix func(pre []fmap)
}

// batchPass runs net on a batch with every BatchNorm on the batch's own
// statistics, through the first unit of kind through, showing obs what it
// computes.
func batchPass(net *supernet.Net, input []float32, through supernet.LayerKind, obs batchObserver) error {
	units, err := netUnits(net)
	if err != nil {
		return err
	}
	r := net.Config.R
	per := 3 * r * r
	if len(input) == 0 || len(input)%per != 0 {
		return fmt.Errorf("input has %d values, want a positive multiple of %d (a batch of 3x%dx%d)", len(input), per, r, r)
	}
	xs := make([]fmap, len(input)/per)
	for n := range xs {
		xs[n] = fmap{c: 3, h: r, w: r, d: input[n*per : (n+1)*per]}
	}
	bn := func(xs []fmap, c *supernet.ConvBN) []fmap {
		ys, s := convBatchNorm(xs, c)
		if obs.bn != nil {
			obs.bn(c, ys, s)
		}
		for _, y := range ys {
			activate(y.d, c.Act)
		}
		return ys
	}
	for i := range units {
		u := &units[i]
		switch u.layer.Kind {
		case supernet.KindFirstConv, supernet.KindFinalExpand:
			xs = bn(xs, u.conv)
		case supernet.KindBlock:
			blk := u.block
			in := xs
			if blk.Expand != nil {
				xs = bn(xs, blk.Expand)
			}
			xs = bn(xs, &blk.Depthwise)
			if blk.SE != nil {
				var pre [][]float32 // copied only for an observer
				if obs.se != nil {
					pre = make([][]float32, len(xs))
				}
				for n := range xs {
					var keep func([]float32)
					if pre != nil {
						keep = func(p []float32) { pre[n] = append([]float32(nil), p...) }
					}
					xs[n] = seObserved(xs[n], blk.SE, keep)
				}
				if obs.se != nil {
					obs.se(pre)
				}
			}
			xs = bn(xs, &blk.Project)
			if blk.Layer.Residual {
				for n := range xs {
					for j, v := range in[n].d {
						xs[n].d[j] += v
					}
				}
			}
		case supernet.KindAvgPool:
			for n := range xs {
				xs[n] = avgPool(xs[n])
			}
		case supernet.KindFeatureMix:
			for n := range xs {
				xs[n] = convForward(xs[n], u.mix.Weight.Data, u.mix.Weight.Shape, 1, 1)
				addBias(xs[n], u.mix.Bias)
			}
			if obs.mix != nil {
				obs.mix(xs)
			}
			for _, x := range xs {
				activate(x.d, u.mix.Act)
			}
		}
		if u.layer.Kind == through {
			break
		}
	}
	return nil
}

// convBatchNorm is a convolution whose BatchNorm uses the batch's
// statistics, without its activation.
func convBatchNorm(xs []fmap, c *supernet.ConvBN) ([]fmap, BatchStats) {
	ys := make([]fmap, len(xs))
	for n, x := range xs {
		ys[n] = convForward(x, c.Weight.Data, c.Weight.Shape, max(c.Stride, 1), max(c.Groups, 1))
		addBias(ys[n], c.Bias)
	}
	C := ys[0].c
	hw := ys[0].h * ys[0].w
	count := float64(len(ys) * hw)
	s := BatchStats{Mean: make([]float64, C), Var: make([]float64, C)}
	for o := range C {
		sum := 0.0
		for _, y := range ys {
			for _, v := range y.d[o*hw : (o+1)*hw] {
				sum += float64(v)
			}
		}
		mean := sum / count
		ss := 0.0
		for _, y := range ys {
			for _, v := range y.d[o*hw : (o+1)*hw] {
				d := float64(v) - mean
				ss += d * d
			}
		}
		variance := ss / count
		s.Mean[o], s.Var[o] = mean, variance
		inv := 1 / math.Sqrt(variance+c.BN.Eps)
		gamma, beta := float64(c.BN.Weight[o]), float64(c.BN.Bias[o])
		for _, y := range ys {
			row := y.d[o*hw : (o+1)*hw]
			for i, v := range row {
				row[i] = float32((float64(v)-mean)*inv*gamma + beta)
			}
		}
	}
	return ys, s
}
