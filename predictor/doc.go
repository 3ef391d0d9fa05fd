// Package predictor estimates what a subnet will cost and how well it will
// do before it is ever built: latency on one device from a profiled lookup
// table plus regression and whole-network calibration, accuracy from OFA's
// MLP predictors or from a user's samples, and the exact memory, parameter
// and MAC counts of the supernet package.
//
// # Latency
//
// [Fit] turns a [lut.LUT] into a [LatencyPredictor]. A subnet's
// latency is the sum of its layers' latencies, first block included, as in
// OFA's estimator. Layers the table measured are looked up; the others
// (resolutions or widths the table lacks) come from one non-negative
// linear model per layer kind over work counts (MACs by operation,
// activation elements, memory traffic, a per-layer constant), corrected by
// the residual of the same layer family at the sizes the table did
// measure. When the table holds enough whole subnets measured end to end,
// a calibration A·Σ + B is fitted and kept if it beats the plain sum on a
// held-out share. The [FitReport] gives per-kind cross-validation, a
// leave-one-resolution-out check and the calibration's held-out error,
// with nn-Meter's [Metrics] (RMSE, RMSPE, ±5%/±10% shares) and Spearman's
// ρ. [LatencyPredictor.Save] writes it all as JSON; [LoadLatencyPredictor]
// reads it back and refuses a predictor fitted for another space.
//
// # Accuracy
//
// Three sources implement [AccuracyModel]:
//   - [LoadMLPAccuracy] reads OFA's MLP predictors from .pth files (the
//     tutorial's acc_predictor.pth and the NAS AccuracyPredictor format),
//     evaluated in float32 with AVX2/FMA kernels on amd64;
//   - [FitAccuracyCSV] fits a ridge model to a CSV of measured subnets
//     (see [ReadAccuracyCSV] for the format), [FitMLPAccuracy] trains
//     OFA's NAS MLP on them in Go ([FittedMLPAccuracy], evaluated by the
//     same code as the .pth files), and [ChooseAccuracy] fits both on the
//     same cross-validation folds and keeps the better, reporting both
//     in an [AccuracyChoice]; [LoadAccuracyJSON] reads either back;
//   - [NewProxyAccuracy] is the fallback without either: normalized log
//     MACs, whose Source says plainly that it is not an accuracy.
//
// Models defined elsewhere (the zero-cost NASWOT proxy of
// export/zerocost) plug in through the same interface and label
// themselves proxies with [ProxyLabelled].
//
// # Search
//
// A [Scorer] combines a latency model, an accuracy model and
// supernet.Space.Costs into [Estimate]s for whole batches of candidates,
// on both cores, with results that depend only on each config.
//
// The package imports profiler/lut, profiler/timing, supernet and internal
// helpers only: the LUT format, not the measuring engine, and no cgo. It
// builds with CGO_ENABLED=0.
package predictor
