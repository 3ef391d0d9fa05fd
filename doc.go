// Package edgefit is edgefit's pipeline as a library: from a device to a
// deployable model, the steps that 'edgefit run' chains, callable from a Go
// program without the command line.
//
// It owns what ties the other packages together and belongs to none of
// them: where a subnet's space, config and weights come from
// ([Resolve]), the cache of lookup tables keyed by the device's stable
// traits and the profiling settings, the choice between profiling and
// reusing a table, the resolutions a run searches, the re-selection under
// a tighter limit when the device disagrees with the predictor, what an
// exported model's metadata records, and the run's report.
//
// # Where it lives
//
// The pipeline imports devices, profiler, predictor, supernet and export,
// so it can live in none of them without turning the data flow around; the
// command line (package cmd) is only one of its callers. Like the root
// package of filippo.io/age, the module's root package is therefore the
// library, and cmd parses flags, calls it and prints.
//
// # A run
//
// [Run] takes a [devices.Target] and [RunOptions] (plain data) and reports
// through a [Progress], which may be nil. It goes phase by phase:
//
//  1. [Prepare] checks the options, resolves the space and loads the
//     checkpoint, before any device is contacted;
//  2. the lookup table: RunOptions.LUT, a table cached earlier for the same
//     device and settings (in [DefaultCacheDir]), or a new, resumable
//     profile;
//  3. the latency predictor is fitted on it;
//  4. [Select] searches the most accurate subnet within the limits (a
//     limit may be a share of the largest subnet's value, see
//     search.Limits), at the resolutions profiled and those between them
//     ([SearchResolutions]; beyond them only with AllowExtrapolation);
//  5. the subnet is exported as ONNX, measured on the device, and, while
//     it misses the latency limit, selected again under a tighter one;
//  6. the model is checked against edgefit's forward pass (the one rule of
//     export.VerifyTolerance; a model that fails it, or cannot be checked,
//     is renamed NAME.unverified.onnx), and the config (with its space, see
//     [WriteConfig]), the Pareto front and the report ([WriteReport]) are
//     written, whatever the check found.
//
// Accuracy sources open through [OpenAccuracy]: a predictor, measured
// samples, the MACs proxy, or the zero-cost NASWOT proxy ([ZeroCostSource],
// package export/zerocost), which needs images and weights and scores each
// subnet by a forward pass; [SelectWith] searches with an open one, and
// [Correlate] checks the zero-cost proxy against real accuracies.
//
// The other commands use the same steps: [Resolve] and [Export] for
// 'edgefit export', [Select] and [Selection.WriteFront] for 'edgefit
// select', [Predict] (the scorer Select searches with) for 'edgefit
// predict'. [ExportCommand] is the export command line that reproduces a
// config's model, for hints and the report.
//
// # Errors
//
// Bad options are [*InputError]s; a search whose limits no subnet meets
// returns a [*search.InfeasibleError]; a model that the device measures
// over the limit after every retry, or when no subnet is predicted to meet
// the tighter limit, gives a [*LatencyMissError] beside a complete result;
// a failed or impossible check of a model, a [*VerifyError] (beside the
// result, for Run and Export). Errors that come with advice have a Hint
// method.
//
// # Imports
//
// Package edgefit imports devices, export, predictor, profiler and
// supernet (and their subpackages) and internal helpers, never cmd.
package edgefit
