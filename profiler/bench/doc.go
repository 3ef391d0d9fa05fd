// Package bench is the measuring half of edgefit-agent, the small program
// that edgefit copies to a device and runs there: it loads ONNX Runtime
// (export/ort) from a given library, runs the models a [wire.Manifest]
// lists, and writes one [wire.Result] per model as a JSON line as soon as
// that model is done.
//
// # Method
//
// For each model, on a goroutine locked to its own OS thread:
//
//  1. pin the thread to the requested CPUs (sched_setaffinity); ONNX
//     Runtime's worker threads, created from it, inherit the mask;
//  2. reset the kernel's peak-RSS mark (/proc/self/clear_refs), so VmHWM
//     afterwards is this model's peak;
//  3. create the session (load time), fill inputs with a seeded
//     pseudo-random sequence that is the same on every architecture;
//  4. run once (first-run time), then the warm-up runs untimed;
//  5. time each run with the monotonic clock until the fixed count, or
//     until the 95% confidence interval of the median is within
//     TargetCI (after MinRuns), or MaxRuns or MaxSeconds is reached;
//  6. summarise ([timing.Summarize]), and record output sums (and values,
//     on request) so that two devices can be checked to compute the same.
//
// The thread exits with the goroutine, so a pinned thread never runs
// anything else. [Main] is the whole command line; cmd/edgefit-agent only
// calls it.
//
// The package imports only its protocol (profiler/bench/wire,
// profiler/timing), export/ort and internal helpers.
package bench
