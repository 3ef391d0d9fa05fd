// Package runners reads the reports of the standard benchmark tools, so
// that a device where edgefit-agent cannot run (or where a vendor runtime
// is the point) can still be measured: TensorRT's trtexec and ONNX
// Runtime's onnxruntime_perf_test. Each parser turns the tool's stdout into
// the same [wire.Result] the agent produces, in milliseconds, and the
// matching Argv function builds a command line that makes the tool report
// what the parser needs.
//
// The parsers read stock builds' output (no patched binaries), old and new
// formats, and ignore everything they do not recognise; they fail only
// when no timing summary is present, quoting the tool's last error lines.
//
//   - trtexec: Stats come from "GPU Compute Time" (the kernel time, the one
//     to put in a lookup table), else from the host "Latency"; the other
//     summaries go to Result.Extra. TensorRT 7's multi-line blocks are read
//     too.
//   - onnxruntime_perf_test: mean, min, max, P50 (median) and P90, session
//     creation as load time, first inference, peak working set; P95/P99/
//     P999 and throughput in Extra.
//
// TensorFlow Lite's benchmark_model is not among them: it runs .tflite
// models, and edgefit measures the ONNX models it exports.
//
// The package imports only profiler/bench/wire and profiler/timing of
// edgefit, and no cgo.
package runners
