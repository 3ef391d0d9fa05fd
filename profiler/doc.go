// Package profiler measures how long the layers and subnets of a search
// space take on one device and keeps the result as a latency lookup table
// ([LUT], stored as DEVICE.lut.json).
//
// A LUT holds one [Entry] per distinct layer shape and input resolution,
// keyed the way Once-for-All's lookup tables are (see [ParseKey]), plus
// whole subnets measured end to end ([NetworkMeasurement]) that the
// predictor package uses to calibrate and validate its sums. [LoadLUT]
// checks a table strictly, so that everything downstream can trust it.
//
// OFA's own YAML tables ({r}_lookup_table.yaml) convert both ways with
// [ImportOFA] and [ExportOFA].
package profiler
