// Package profiler measures how long the layers and subnets of a search
// space take on one device and keeps the result as a latency lookup table
// ([lut.LUT], stored as DEVICE.lut.json; the format, its keys and OFA's
// YAML tables are package profiler/lut's).
//
// # Profiling
//
// [Run] (or [NewPlan] then [Plan.Execute]) profiles a devices.Target: for
// each resolution it builds a micro-model of every distinct layer of the
// space (export.LayerModel, 96 per resolution) and [Options].Networks
// random whole subnets (supernet.Init, untrained but latency-faithful), and
// measures them on the device. The result carries the device's fingerprint
// before and after, the runtime, and the settings used.
//
// Defaults depend on the device's class, read from its fingerprint
// (devices.Probe):
//
//	class   detected by                       threads  provider  runner                 pinning
//	cpu     any other Linux/macOS machine     1        cpu       agent                  last core of the fastest cluster
//	mobile  Android                           1        cpu       agent                  last core of the big cluster
//	gpu     Jetson, or provider cuda/tensorrt 1        cuda      trtexec if found, else agent (none)
//
// and the batch is 1. Pinning one core per thread keeps the scheduler from
// moving the measuring thread, which changes the core type on big.LITTLE
// phones and, even on an idle virtual machine, made one model's latency
// jump between sessions by up to 1.6x. Runners: "agent" is edgefit-agent with ONNX Runtime,
// deployed by package profiler/agent; "trtexec" and "perf-test" run
// TensorRT's trtexec and onnxruntime_perf_test found on the device, read by
// package profiler/runners.
//
// # Measurement discipline
//
//   - Each model gets warm-up runs, then timed samples until the relative
//     half-width of the 95% confidence interval of the median is within
//     [Measurement].TargetCI (2%), or MaxRuns or MaxTime is reached. A
//     sample is the mean of as many back-to-back runs as last about
//     SampleMS (2 ms), so that layers of a few microseconds are not lost
//     in clock and scheduler jitter; whole networks are timed run by run.
//   - By default ([Measurement].Rounds, 4) the agent runner spreads each
//     model's samples over its batch in rounds (round 1 of every model,
//     then round 2, ...; whole networks in half as many) and keeps the
//     samples within 10% of the model's fastest: on a shared VM the host
//     takes the vCPU away for ~4 ms ticks in windows of up to a second,
//     which only ever add time and would otherwise catch a whole model.
//     TargetCI and MaxRuns then do not apply; the reference is interleaved
//     too, and its level is that of its undisturbed sessions.
//   - Models are measured in a seeded random order, so that slow drift of
//     the device does not correlate with layer size or resolution.
//   - Models go to the device in batches (one tar archive, one manifest,
//     one agent invocation each), so process and connection start-up costs
//     are paid per batch; the device's disk holds one batch at a time.
//   - A reference layer, timed more tightly than the rest and in
//     ReferenceSessions (3) sessions whose median counts, is measured
//     before and after every batch. When it moved more than DriftThreshold
//     (3%, or three times the reference's own session-to-session noise
//     where that is larger) from the last good reference, the batch is
//     measured again; when
//     the new speed persists through DriftRetries, the batch is kept with
//     its drift recorded and a warning ([Plan].Remeasured, Rebaselined).
//   - Where the device exposes temperatures, each batch waits (at most
//     MaxCooldown) until the hottest thermal zone is back within
//     CooldownDelta (2 °C) of where it was at the start.
//
// # Journal
//
// Every batch is appended to a journal ([Options].Journal, by convention
// DEVICE.lut.json.journal; see [JournalPath]) as JSON lines and synced
// before the next batch starts. The first line records the settings
// ([Identity]) and a digest of the device; rerunning with the same
// settings continues where the last run stopped and never measures an
// item twice, while different settings or another device are refused
// ([SettingsChangedError]). A last line cut short by a crash is dropped;
// a damaged line elsewhere is a [JournalError] naming it, and the journal
// is never modified or deleted on error (Restart renames it aside).
//
// # Single models
//
// [Bench] measures any ONNX model with the same discipline and, on
// request, breaks it down by executed node from ONNX Runtime's profile
// ([ParseORTProfile]).
//
// Package profiler imports devices, export, supernet, its own subpackages
// and internal helpers only. Its subpackages are the LUT format (lut), the
// statistics of timed runs (timing), the agent (bench), its protocol
// (bench/wire), its deployment (agent) and the vendor tools' parsers
// (runners).
package profiler
