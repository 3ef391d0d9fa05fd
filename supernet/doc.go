// Package supernet owns the Once-for-All MobileNetV3 search space: its
// architecture at width 1.0 and 1.2, subnet configurations and their
// validation, loading OFA checkpoints, extracting a static subnet with its
// weights, and the exact costs (MACs, parameters, memory) of a configuration.
//
// Everything here agrees with upstream OFA (mit-han-lab/once-for-all): widths
// come from [MakeDivisible], elastic depth keeps the first d blocks of a
// stage, expand ratios slice channel prefixes, and the elastic kernel runs
// through the checkpoint's transform matrices.
//
// The package imports no other edgefit package except leaf helpers under
// internal/, and no cgo: the profiler, predictors, search and exporter all
// build on it.
package supernet
