// Package wire is the language spoken between edgefit and its on-device
// agent (cmd/edgefit-agent), and the common shape of every latency
// measurement: the agent's, and those parsed from trtexec and
// onnxruntime_perf_test (profiler/runners).
//
//   - The host writes a [Manifest] (JSON): which models to run and how.
//   - The agent answers with one [Result] per model, as JSON lines on
//     stdout (and appended to a results file, so that an interrupted run
//     resumes where it stopped); [ReadResults] reads them back.
//   - `edgefit-agent info` prints an [Info].
//
// A Result's statistics are a [timing.Stats], written on the wire with the
// units in the keys (median_ms, mean_ms, min_ms, ...) and the relative 95%
// confidence half-width of the median (ci95_rel). All times are
// milliseconds.
//
// The package imports only profiler/timing of edgefit and has no cgo, so
// host-side code can use it without linking ONNX Runtime.
package wire
