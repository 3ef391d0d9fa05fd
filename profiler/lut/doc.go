// Package lut is the latency lookup table format: a [LUT] is the measured
// latency of every distinct layer shape of a search space on one device,
// stored as DEVICE.lut.json.
//
// A LUT holds one [Entry] per distinct layer shape and input resolution,
// keyed the way Once-for-All's lookup tables are (see [ParseKey]), plus
// whole subnets measured end to end ([NetworkMeasurement]) that the
// predictor package uses to calibrate and validate its sums. Each holds
// the [timing.Stats] of its timed runs. [Load] checks a table strictly, so
// that everything downstream can trust it; [LUT.WriteFile] validates and
// writes it atomically.
//
// OFA's own YAML tables ({r}_lookup_table.yaml) convert both ways with
// [ImportOFA] and [ExportOFA].
//
// The package only reads and writes tables; measuring them is package
// profiler's job. It imports supernet, profiler/timing and internal
// helpers only, with no cgo and no device code, so that the predictor and
// the search build without ONNX Runtime (CGO_ENABLED=0).
package lut
